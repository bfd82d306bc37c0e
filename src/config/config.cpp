// The config machinery of config.h for any root: reading files (bounded) and YAML texts,
// --set, unknown-key hints, the dump, the origin table and --help.
#include "c2fmae/config/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <functional>
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

}  // namespace

std::string did_you_mean(const std::string& name, const std::vector<std::string>& known,
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

namespace {

/// A FieldVisitor whose every overload calls Derived::visit_field(key, value, help), a
/// template: the visitors below say once what they do with a field of any type.
template <class Derived>
class EveryField : public FieldVisitor {
 public:
  void field(const char* k, int64_t& v, const char* h) override { self().visit_field(k, v, h); }
  void field(const char* k, double& v, const char* h) override { self().visit_field(k, v, h); }
  void field(const char* k, bool& v, const char* h) override { self().visit_field(k, v, h); }
  void field(const char* k, std::string& v, const char* h) override { self().visit_field(k, v, h); }
  void field(const char* k, ChoiceField& v, const char* h) override { self().visit_field(k, v, h); }
  void field(const char* k, std::vector<Modality>& v, const char* h) override {
    self().visit_field(k, v, h);
  }
  void field(const char* k, std::vector<Keyframe>& v, const char* h) override {
    self().visit_field(k, v, h);
  }

 private:
  Derived& self() { return static_cast<Derived&>(*this); }
};

/// Names of a section's keys.
class KeyLister : public EveryField<KeyLister> {
 public:
  std::vector<std::string> keys;
  template <class T>
  void visit_field(const char* key, T&, const char*) {
    keys.emplace_back(key);
  }
};

/// Reads one section's map node into its struct.
class SectionReader : public EveryField<SectionReader> {
 public:
  SectionReader(const YAML::Node& node, std::string section, std::string source, Origins& origins)
      : node_(node), section_(std::move(section)), source_(std::move(source)), origins_(origins) {}
  template <class T>
  void visit_field(const char* key, T& field, const char*) {
    YAML::Node value = node_[key];
    if (!value) return;
    const std::string dotted = section_ + "." + key;
    read_field(value, field, source_, dotted);
    origins_[dotted] = source_;
  }

 private:
  const YAML::Node& node_;
  std::string section_, source_;
  Origins& origins_;
};

/// Calls `fn(key, value, help)` for every field, with the value as flow YAML text; a
/// choice's help ends with its allowed names.
class FieldPrinter : public EveryField<FieldPrinter> {
 public:
  using Fn = std::function<void(const char*, const std::string&, const std::string&)>;
  explicit FieldPrinter(Fn fn) : fn_(std::move(fn)) {}
  template <class T>
  void visit_field(const char* key, const T& value, const char* help) {
    YAML::Emitter e;
    e << YAML::Flow;
    emit_field(e, value);
    fn_(key, e.c_str(), help);
  }
  void visit_field(const char* key, const ChoiceField& value, const char* help) {
    std::string all;
    for (const auto& name : value.names()) all += (all.empty() ? "" : ", ") + name;
    YAML::Emitter e;
    e << YAML::Flow;
    emit_field(e, value);
    fn_(key, e.c_str(), std::string(help) + " (one of: " + all + ")");
  }

 private:
  Fn fn_;
};

/// Writes every field as a YAML key and value.
class FieldEmitter : public EveryField<FieldEmitter> {
 public:
  explicit FieldEmitter(YAML::Emitter& out) : out_(out) {}
  template <class T>
  void visit_field(const char* key, const T& value, const char*) {
    out_ << YAML::Key << key << YAML::Value;
    emit_field(out_, value);
  }

 private:
  YAML::Emitter& out_;
};

/// A SectionVisitor from a lambda (name, fields).
class EachSection : public SectionVisitor {
 public:
  using Fn = std::function<void(const char*, const std::function<void(FieldVisitor&)>&)>;
  explicit EachSection(Fn fn) : fn_(std::move(fn)) {}
  void section(const char* name, const std::function<void(FieldVisitor&)>& fields) override {
    fn_(name, fields);
  }

 private:
  Fn fn_;
};

/// Keys of earlier versions, with what became of them: a config that sets one is refused
/// with that note, and a checkpoint's stored config (differing_keys) is read without them.
struct RetiredKey {
  const char* key;
  const char* note;
};
constexpr RetiredKey kRetiredKeys[] = {
    {"loss.instance_loss",
     "removed: it had one value, discriminative, which the instance loss always is"},
};

const RetiredKey* retired_key(const std::string& dotted) {
  for (const auto& r : kRetiredKeys) {
    if (dotted == r.key) return &r;
  }
  return nullptr;
}

/// A stored config of an earlier version as this one reads it: retired keys dropped, and
/// keyframe loss weights under their old prefix (loss_<modality>) renamed kLossWeightKeyPrefix.
void upgrade_stored_config(YAML::Node root) {
  if (!root || !root.IsMap()) return;
  for (const auto& r : kRetiredKeys) {
    const std::string dotted = r.key;
    const auto dot = dotted.find('.');
    YAML::Node section = root[dotted.substr(0, dot)];
    if (section && section.IsMap()) section.remove(dotted.substr(dot + 1));
  }
  YAML::Node curriculum = root["curriculum"];
  if (!curriculum || !curriculum.IsMap()) return;
  const YAML::Node keyframes = curriculum["keyframes"];
  if (!keyframes || !keyframes.IsSequence()) return;
  YAML::Node upgraded(YAML::NodeType::Sequence);
  for (const auto& keyframe : keyframes) {
    if (!keyframe.IsMap()) {
      upgraded.push_back(keyframe);
      continue;
    }
    YAML::Node renamed(YAML::NodeType::Map);
    for (const auto& kv : keyframe) {
      std::string name = kv.first.IsScalar() ? kv.first.Scalar() : "";
      if (name.rfind("loss_", 0) == 0) name = kLossWeightKeyPrefix + name.substr(5);
      renamed[name] = kv.second;
    }
    upgraded.push_back(renamed);
  }
  curriculum["keyframes"] = upgraded;
}

void merge_document(ConfigRoot& cfg, const YAML::Node& root, const std::string& source) {
  if (!root || root.IsNull()) return;
  if (!root.IsMap()) {
    throw ConfigError(source, "(top level)", "", "expected a map of sections",
                      "a config file is 'section:' blocks such as 'model:' and 'train:'");
  }
  std::vector<std::string> sections;
  EachSection names([&](const char* name, const auto&) { sections.emplace_back(name); });
  cfg.visit_sections(names);
  for (const auto& name : unique_keys(root, source, "", "section")) {
    if (std::find(sections.begin(), sections.end(), name) == sections.end()) {
      throw ConfigError(source, name, "", "unknown section",
                        did_you_mean(name, sections, "sections"));
    }
  }
  EachSection reader([&](const char* section, const std::function<void(FieldVisitor&)>& fields) {
    YAML::Node node = root[section];
    if (!node || node.IsNull()) return;
    if (!node.IsMap()) {
      throw ConfigError(source, section, "", "expected a map of keys",
                        std::string("write it as '") + section + ":' followed by indented keys");
    }
    KeyLister lister;
    fields(lister);
    const auto keys = unique_keys(node, source, std::string(section) + ".", "key");
    for (const auto& key : keys) {
      if (std::find(lister.keys.begin(), lister.keys.end(), key) == lister.keys.end()) {
        if (const auto* retired = retired_key(std::string(section) + "." + key)) {
          throw ConfigError(source, retired->key, yaml_text(node[key]),
                            std::string("no longer a key (") + retired->note + ")",
                            "drop it from the config");
        }
        throw ConfigError(source, std::string(section) + "." + key, yaml_text(node[key]),
                          "unknown key",
                          did_you_mean(key, lister.keys, std::string(section) + " keys"));
      }
    }
    SectionReader read(node, section, source, cfg.origins);
    fields(read);
  });
  cfg.visit_sections(reader);
}

}  // namespace

namespace {

/// yaml-cpp 0.7 allocates without bound on a stray flow-entry comma where a document
/// starts (",", " ,x"): such text is refused before it is parsed.
bool starts_with_stray_comma(const std::string& text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  return first != std::string::npos && text[first] == ',';
}

}  // namespace

namespace {

YAML::Node parse_config_text(const std::string& yaml_text, const std::string& source) {
  std::vector<YAML::Node> docs;
  if (starts_with_stray_comma(yaml_text)) {
    throw ConfigError(source, "(yaml)", "", "not valid YAML: a document starts with a comma",
                      "remove the stray comma");
  }
  try {
    docs = YAML::LoadAll(yaml_text);
  } catch (const YAML::Exception& e) {
    throw ConfigError(source, "(yaml)", "", std::string("not valid YAML: ") + e.what(),
                      "check indentation and quoting at the line given");
  }
  return single_document(docs, source, "(yaml)");
}

/// Closes a file descriptor when it goes out of scope.
struct FileCloser {
  int fd;
  ~FileCloser() { ::close(fd); }
};

[[noreturn]] void file_error(const std::string& path, const std::string& problem,
                             const std::string& hint) {
  throw ConfigError(path, "(file)", "", problem, hint);
}

/// The text of a config file, read with a bound: a directory, a file that cannot be opened,
/// one longer than kMaxConfigFileBytes (or endless, like /dev/zero) or a binary one throws
/// ConfigError saying why, after reading at most kMaxConfigFileBytes + 1 bytes.
std::string read_config_file(const std::string& path) {
  const std::string cap = std::to_string(kMaxConfigFileBytes) + " bytes";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    file_error(path, std::string("cannot open the config file: ") + std::strerror(err),
               err == EACCES ? "make it readable (chmod u+r) or pass a copy you can read"
                             : "check the path given to --config");
  }
  FileCloser closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    file_error(path, std::string("cannot stat the config file: ") + std::strerror(errno),
               "check the path given to --config");
  }
  if (S_ISDIR(st.st_mode)) {
    file_error(path, "is a directory, not a config file",
               "give a YAML file, e.g. configs/pretrain/c2fmae_vit_base_400ep.yaml");
  }
  const char* too_long_hint = "a config is a few KiB of YAML; check that the path names one";
  if (S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) > kMaxConfigFileBytes) {
    file_error(path,
               "is " + std::to_string(st.st_size) + " bytes, more than the " + cap +
                   " a config file may have",
               too_long_hint);
  }
  // Devices and pipes have no size: read one byte past the cap to tell "too long" apart.
  std::string text(kMaxConfigFileBytes + 1, '\0');
  size_t got = 0;
  while (got < text.size()) {
    const ssize_t n = ::read(fd, &text[got], text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      file_error(path, std::string("cannot read the config file: ") + std::strerror(errno),
                 "check the path given to --config");
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  if (got > kMaxConfigFileBytes) {
    file_error(path, "is longer than the " + cap + " a config file may have", too_long_hint);
  }
  text.resize(got);
  if (text.find('\0') != std::string::npos) {
    file_error(path, "holds a NUL byte: not a YAML text file", "check the path given to --config");
  }
  return text;
}

}  // namespace

void ConfigRoot::merge_yaml(const std::string& yaml_text, const std::string& source) {
  merge_document(*this, parse_config_text(yaml_text, source), source);
}

void ConfigRoot::merge_file(const std::string& path) { merge_yaml(read_config_file(path), path); }

void ConfigRoot::set(const std::string& assignment) {
  const auto eq = assignment.find('=');
  const auto dot = assignment.find('.');
  if (eq == std::string::npos || dot == std::string::npos || dot > eq) {
    throw ConfigError("--set", assignment, "", "expected section.key=value",
                      "for example --set train.epochs=100 or --set model.modalities=[rgb]");
  }
  const std::string section = assignment.substr(0, dot);
  const std::string key = assignment.substr(dot + 1, eq - dot - 1);
  const std::string value = assignment.substr(eq + 1);
  std::vector<YAML::Node> docs;
  if (starts_with_stray_comma(value)) {
    throw ConfigError("--set", section + "." + key, value, "value is not valid YAML",
                      "quote a value that starts with a comma: --set 'key=\",...\"'");
  }
  try {
    docs = YAML::LoadAll(value);
  } catch (const YAML::Exception& e) {
    throw ConfigError("--set", section + "." + key, value, "value is not valid YAML",
                      "quote the whole argument in the shell: --set 'key=[a, b]'");
  }
  YAML::Node parsed = single_document(docs, "--set", section + "." + key);
  YAML::Node doc;
  doc[section][key] = parsed;
  merge_document(*this, doc, "--set");
}

std::string ConfigRoot::dump_yaml() const {
  YAML::Emitter out;
  out << YAML::BeginMap;
  EachSection each([&](const char* name, const std::function<void(FieldVisitor&)>& fields) {
    out << YAML::Key << name << YAML::Value << YAML::BeginMap;
    FieldEmitter emitter(out);
    fields(emitter);
    out << YAML::EndMap;
  });
  visit_sections(each);
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

std::string ConfigRoot::table() const {
  std::ostringstream os;
  EachSection each([&](const char* section, const std::function<void(FieldVisitor&)>& fields) {
    FieldPrinter printer([&](const char* key, const std::string& value, const std::string&) {
      const std::string dotted = std::string(section) + "." + key;
      auto it = origins.find(dotted);
      os << "  " << std::left << std::setw(34) << dotted << " " << std::setw(28) << value << " "
         << (it == origins.end() ? "default" : it->second) << "\n";
    });
    fields(printer);
  });
  visit_sections(each);
  return os.str();
}

std::string ConfigRoot::describe_keys() const {
  std::ostringstream os;
  auto defaults = fresh();
  EachSection each([&](const char* section, const std::function<void(FieldVisitor&)>& fields) {
    os << section << ":\n";
    FieldPrinter printer([&](const char* key, const std::string& value, const std::string& help) {
      os << "  " << std::left << std::setw(24) << key << " " << help << " [" << value << "]\n";
    });
    fields(printer);
  });
  defaults->visit_sections(each);
  return os.str();
}

std::vector<std::string> ConfigRoot::differing_keys(const std::string& yaml_text,
                                                    const std::string& source) const {
  auto other = fresh();
  const auto stored = parse_config_text(yaml_text, source);
  upgrade_stored_config(stored);
  merge_document(*other, stored, source);
  auto values = [](const ConfigRoot& root) {
    std::vector<std::pair<std::string, std::string>> out;
    EachSection each([&](const char* section, const std::function<void(FieldVisitor&)>& fields) {
      FieldPrinter printer([&](const char* key, const std::string& value, const std::string&) {
        out.emplace_back(std::string(section) + "." + key, value);
      });
      fields(printer);
    });
    root.visit_sections(each);
    return out;
  };
  const auto mine = values(*this), theirs = values(*other);
  std::vector<std::string> differ;
  for (size_t i = 0; i < mine.size(); ++i) {
    if (mine[i].second != theirs[i].second) differ.push_back(mine[i].first);
  }
  return differ;
}

void Checker::fail(const std::string& key, const std::string& value, const std::string& problem,
                   const std::string& hint) const {
  // Nested keys ("curriculum.keyframes[1].at") take the origin of their top-level key.
  auto it = origins_.find(key.substr(0, key.find('[')));
  throw ConfigError(it == origins_.end() ? "defaults" : it->second, key, value, problem, hint);
}

}  // namespace c2fmae::config
