#include "c2fmae/config/config.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <iomanip>
#include <sstream>

#include "config/yaml_field.h"

namespace c2fmae::config {
namespace {

/// Levenshtein distance, for "did you mean" hints on unknown keys.
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string closest_hint(const std::string& name, const std::vector<std::string>& known,
                         const std::string& what) {
  std::string best;
  size_t best_d = std::string::npos;
  for (const auto& k : known) {
    size_t d = edit_distance(name, k);
    if (d < best_d) best_d = d, best = k;
  }
  std::string all;
  for (const auto& k : known) all += (all.empty() ? "" : ", ") + k;
  if (best_d <= std::max<size_t>(2, name.size() / 3)) {
    return "did you mean '" + best + "'? known " + what + ": " + all;
  }
  return "known " + what + ": " + all;
}

/// Names of a section's keys.
struct KeyLister {
  std::vector<std::string> keys;
  template <class T>
  void operator()(const char* key, T&, const char*) {
    keys.emplace_back(key);
  }
};

/// Reads one section's map node into its struct.
struct SectionReader {
  const YAML::Node& node;
  const std::string& section;
  const std::string& source;
  Origins& origins;
  template <class T>
  void operator()(const char* key, T& field, const char*) {
    YAML::Node value = node[key];
    if (!value) return;
    const std::string dotted = section + "." + key;
    read_field(value, field, source, dotted);
    origins[dotted] = source;
  }
};

/// Applies a parsed document: map of sections, each a map of keys.
struct DocumentReader {
  const YAML::Node& root;
  const std::string& source;
  Origins& origins;
  template <class S>
  void operator()(const char* section, S& s) {
    YAML::Node node = root[section];
    if (!node || node.IsNull()) return;
    if (!node.IsMap()) {
      throw ConfigError(source, section, "", "expected a map of keys",
                        std::string("write it as '") + section + ":' followed by indented keys");
    }
    KeyLister lister;
    s.visit(lister);
    for (const auto& kv : node) {
      const auto key = kv.first.as<std::string>();
      if (std::find(lister.keys.begin(), lister.keys.end(), key) == lister.keys.end()) {
        throw ConfigError(source, std::string(section) + "." + key, yaml_text(kv.second),
                          "unknown key",
                          closest_hint(key, lister.keys, std::string(section) + " keys"));
      }
    }
    SectionReader reader{node, section, source, origins};
    s.visit(reader);
  }
};

struct SectionNames {
  std::vector<std::string> names;
  template <class S>
  void operator()(const char* section, S&) {
    names.emplace_back(section);
  }
};

void merge_document(Config& cfg, const YAML::Node& root, const std::string& source) {
  if (!root || root.IsNull()) return;
  if (!root.IsMap()) {
    throw ConfigError(source, "(top level)", "", "expected a map of sections",
                      "a config file is 'section:' blocks such as 'model:' and 'train:'");
  }
  SectionNames sections;
  cfg.visit_sections(sections);
  for (const auto& kv : root) {
    const auto name = kv.first.as<std::string>();
    if (std::find(sections.names.begin(), sections.names.end(), name) == sections.names.end()) {
      throw ConfigError(source, name, "", "unknown section",
                        closest_hint(name, sections.names, "sections"));
    }
  }
  DocumentReader reader{root, source, cfg.origins};
  cfg.visit_sections(reader);
}

struct Emitter {
  YAML::Emitter& out;
  template <class S>
  void operator()(const char* section, S& s) {
    out << YAML::Key << section << YAML::Value << YAML::BeginMap;
    auto field = [&](const char* key, auto& value, const char*) {
      out << YAML::Key << key << YAML::Value;
      emit_field(out, value);
    };
    s.visit(field);
    out << YAML::EndMap;
  }
};

}  // namespace

void Config::merge_yaml(const std::string& yaml_text, const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    throw ConfigError(source, "(yaml)", "", std::string("not valid YAML: ") + e.what(),
                      "check indentation and quoting at the line given");
  }
  merge_document(*this, root, source);
}

void Config::merge_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    throw ConfigError(path, "(file)", "", "cannot open the config file",
                      "check the path given to --config");
  }
  std::stringstream text;
  text << in.rdbuf();
  merge_yaml(text.str(), path);
}

void Config::set(const std::string& assignment) {
  const auto eq = assignment.find('=');
  const auto dot = assignment.find('.');
  if (eq == std::string::npos || dot == std::string::npos || dot > eq) {
    throw ConfigError("--set", assignment, "", "expected section.key=value",
                      "for example --set train.epochs=100 or --set model.modalities=[rgb]");
  }
  const std::string section = assignment.substr(0, dot);
  const std::string key = assignment.substr(dot + 1, eq - dot - 1);
  const std::string value = assignment.substr(eq + 1);
  YAML::Node parsed;
  try {
    parsed = YAML::Load(value);
  } catch (const YAML::Exception& e) {
    throw ConfigError("--set", section + "." + key, value, "value is not valid YAML",
                      "quote the whole argument in the shell: --set 'key=[a, b]'");
  }
  YAML::Node doc;
  doc[section][key] = parsed;
  merge_document(*this, doc, "--set");
}

void Config::validate() const {
  Checker c(origins);
  model.validate(c);
  masking.validate(c);
  curriculum.validate(c);
  loss.validate(c);
  data.validate(c);
  optim.validate(c);
  train.validate(c);
  dist.validate(c);
  log.validate(c);

  // Rules that span sections.
  const auto mods = model.modalities.size();
  const int64_t tokens = static_cast<int64_t>(mods) * model.num_patches();
  c.require(masking.num_visible <= tokens, "masking.num_visible", masking.num_visible,
            "more than the " + std::to_string(tokens) + " tokens of " + std::to_string(mods) +
                " modalities x " + std::to_string(model.num_patches()) + " patches",
            "lower masking.num_visible (MultiMAE: 98 of 3 x 196; MAE: 49 of 196)");
  c.require(masking.num_visible < tokens, "masking.num_visible", masking.num_visible,
            "leaves no masked token to reconstruct", "lower masking.num_visible");
  const double total_weight = (model.has(Modality::kSemantic) ? loss.weight_semantic : 0.0) +
                              (model.has(Modality::kInstance) ? loss.weight_instance : 0.0) +
                              (model.has(Modality::kRgb) ? loss.weight_rgb : 0.0);
  c.require(total_weight > 0.0, "loss.weight_rgb", loss.weight_rgb,
            "every enabled modality has loss weight 0, so nothing is learned",
            "give an enabled modality a positive loss.weight_*");
}

std::string Config::dump_yaml() const {
  YAML::Emitter out;
  out << YAML::BeginMap;
  Emitter emitter{out};
  visit_sections(emitter);
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

std::string Config::section_yaml(const std::string& section) const {
  YAML::Emitter out;
  bool found = false;
  auto one = [&](const char* name, auto& s) {
    if (section != name) return;
    found = true;
    out << YAML::BeginMap;
    Emitter{out}(name, s);
    out << YAML::EndMap;
  };
  visit_sections(one);
  if (!found) throw std::invalid_argument("unknown config section '" + section + "'");
  return out.c_str();
}

std::string Config::table() const {
  std::ostringstream os;
  auto section_fn = [&](const char* section, auto& s) {
    auto field = [&](const char* key, auto& value, const char*) {
      const std::string dotted = std::string(section) + "." + key;
      YAML::Emitter e;
      e << YAML::Flow;
      emit_field(e, value);
      auto it = origins.find(dotted);
      os << "  " << std::left << std::setw(34) << dotted << " " << std::setw(28) << e.c_str() << " "
         << (it == origins.end() ? "default" : it->second) << "\n";
    };
    s.visit(field);
  };
  visit_sections(section_fn);
  return os.str();
}

std::string Config::describe_keys() {
  std::ostringstream os;
  Config defaults;
  auto section_fn = [&](const char* section, auto& s) {
    os << section << ":\n";
    auto field = [&](const char* key, auto& value, const char* help) {
      YAML::Emitter e;
      e << YAML::Flow;
      emit_field(e, value);
      os << "  " << std::left << std::setw(24) << key << " " << help << " [" << e.c_str() << "]\n";
    };
    s.visit(field);
  };
  defaults.visit_sections(section_fn);
  return os.str();
}

void Checker::fail(const std::string& key, const std::string& value, const std::string& problem,
                   const std::string& hint) const {
  // Nested keys ("curriculum.keyframes[1].at") take the origin of their top-level key.
  auto it = origins_.find(key.substr(0, key.find('[')));
  throw ConfigError(it == origins_.end() ? "defaults" : it->second, key, value, problem, hint);
}

Config load_config(const std::vector<std::string>& files, const std::vector<std::string>& sets) {
  Config cfg;
  for (const auto& f : files) cfg.merge_file(f);
  for (const auto& s : sets) cfg.set(s);
  return cfg;
}

}  // namespace c2fmae::config
