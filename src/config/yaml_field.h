// YAML <-> config field conversions (private to the config area), and the checks that make
// a YAML text mean one thing: one document, each key once, keys that are plain names.
#pragma once
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "c2fmae/config/choice.h"
#include "c2fmae/config/config_error.h"
#include "c2fmae/config/keyframe.h"
#include "c2fmae/core/number_text.h"

namespace c2fmae::config {

inline std::string yaml_text(const YAML::Node& node) {
  YAML::Emitter e;
  e << YAML::Flow << node;
  return e.c_str();
}

/// Where two nodes are, for "written twice" errors: "lines 2 and 5", or "line 1, columns 2
/// and 9" when they share a line (yaml-cpp marks are 0-based; people count from 1). Empty
/// for nodes built in code rather than parsed.
inline std::string positions(const YAML::Mark& first, const YAML::Mark& second) {
  if (first.is_null() || second.is_null()) return "";
  if (first.line != second.line) {
    return " (lines " + std::to_string(first.line + 1) + " and " + std::to_string(second.line + 1) +
           ")";
  }
  return " (line " + std::to_string(first.line + 1) + ", columns " +
         std::to_string(first.column + 1) + " and " + std::to_string(second.column + 1) + ")";
}

/// The keys of a YAML map in the order written. yaml-cpp keeps every entry of a map but its
/// lookups see only the first of a duplicated key, so a second `img_size:` would be dropped
/// without a word: a key written twice, or one that is not a plain name (`[a, b]: 1`, a
/// missing key), throws ConfigError. `prefix` is the dotted path of the map ("" for the
/// top level, "model." for a section); `what` names its entries in the message.
inline std::vector<std::string> unique_keys(const YAML::Node& map, const std::string& source,
                                            const std::string& prefix, const std::string& what) {
  std::vector<std::string> names;
  std::vector<YAML::Mark> marks;
  const std::string where = prefix.empty() ? "(top level)" : prefix.substr(0, prefix.size() - 1);
  for (const auto& kv : map) {
    if (!kv.first.IsScalar()) {
      const auto& m = kv.first.Mark();
      throw ConfigError(source, where, yaml_text(kv.first),
                        "a " + what + " must be a plain name, not a list, a map or nothing" +
                            (m.is_null() ? "" : " (line " + std::to_string(m.line + 1) + ")"),
                        "write 'name: value', e.g. 'depth: 12'");
    }
    const std::string name = kv.first.Scalar();
    const auto first = std::find(names.begin(), names.end(), name);
    if (first != names.end()) {
      throw ConfigError(
          source, prefix + name, yaml_text(kv.second),
          what + " written twice" + positions(marks[first - names.begin()], kv.first.Mark()),
          "write each " + what + " once: YAML would keep the first and silently drop the other");
    }
    names.push_back(name);
    marks.push_back(kv.first.Mark());
  }
  return names;
}

/// The one document of a config text (Null when it has none). A second document with
/// content (after `---`) throws ConfigError: only the first would be read. `key` names what
/// the text is ("(yaml)" for a file, "train.epochs" for a --set value).
inline YAML::Node single_document(const std::vector<YAML::Node>& docs, const std::string& source,
                                  const std::string& key) {
  for (size_t i = 1; i < docs.size(); ++i) {
    if (docs[i].IsNull()) continue;  // a trailing '---' or '...' with nothing after it
    const auto& first = docs[0].Mark();
    const auto& second = docs[i].Mark();
    throw ConfigError(source, key, "",
                      "holds a second YAML document (after '---'), which would be ignored" +
                          positions(first, second),
                      "one config text is one document: drop the '---' line, or put the "
                      "second document in its own file and pass it with another --config");
  }
  return docs.empty() ? YAML::Node() : docs[0];
}

template <class T>
T read_scalar(const YAML::Node& node, const std::string& source, const std::string& key,
              const char* type_name) {
  if (!node.IsScalar()) {
    throw ConfigError(source, key, yaml_text(node), std::string("expected ") + type_name,
                      std::string("give a single ") + type_name + " value");
  }
  try {
    return node.as<T>();
  } catch (const YAML::Exception&) {
    throw ConfigError(source, key, yaml_text(node), std::string("expected ") + type_name,
                      std::string(type_name[0] == 'i' ? "give an " : "give a ") + type_name +
                          " value, e.g. " +
                          (std::string(type_name) == "integer"  ? "12"
                           : std::string(type_name) == "number" ? "1.5e-4"
                                                                : "true"));
  }
}

inline void read_field(const YAML::Node& n, int64_t& f, const std::string& s,
                       const std::string& k) {
  f = read_scalar<int64_t>(n, s, k, "integer");
}
inline void read_field(const YAML::Node& n, double& f, const std::string& s, const std::string& k) {
  f = read_scalar<double>(n, s, k, "number");
  if (!std::isfinite(f)) {
    throw ConfigError(s, k, yaml_text(n), "expected a finite number",
                      "give a finite value, e.g. 1.5e-4");
  }
}
inline void read_field(const YAML::Node& n, bool& f, const std::string& s, const std::string& k) {
  f = read_scalar<bool>(n, s, k, "boolean");
}
inline void read_field(const YAML::Node& n, std::string& f, const std::string& s,
                       const std::string& k) {
  if (n.IsNull()) {
    f.clear();
    return;
  }
  f = read_scalar<std::string>(n, s, k, "string");
}

/// One of the choice's names; another name throws ConfigError listing the allowed ones.
inline void read_field(const YAML::Node& n, ChoiceField& f, const std::string& s,
                       const std::string& k) {
  if (!n.IsScalar()) {
    std::string all;
    for (const auto& name : f.names()) all += (all.empty() ? "" : ", ") + name;
    throw ConfigError(s, k, yaml_text(n), "expected one name", "give one of: " + all);
  }
  if (!f.set(n.Scalar())) {
    throw ConfigError(s, k, n.Scalar(), "unknown value",
                      did_you_mean(n.Scalar(), f.names(), "values"));
  }
}

template <class T>
void read_list(const YAML::Node& n, std::vector<T>& f, const std::string& s, const std::string& k) {
  if (!n.IsSequence()) {
    throw ConfigError(s, k, yaml_text(n), "expected a list", "write it as [a, b, c]");
  }
  std::vector<T> out(n.size());
  for (size_t i = 0; i < n.size(); ++i) {
    read_field(n[i], out[i], s, k + "[" + std::to_string(i) + "]");
  }
  f = std::move(out);
}

/// Modality names, stored coarse to fine (the mask's M order) whatever order they are given in.
inline void read_field(const YAML::Node& n, std::vector<Modality>& f, const std::string& s,
                       const std::string& k) {
  std::vector<std::string> names;
  read_list(n, names, s, k);
  std::vector<Modality> out;
  for (const auto& name : names) {
    Modality m;
    try {
      m = parse_modality(name);
    } catch (const std::invalid_argument&) {
      throw ConfigError(s, k, name, "unknown modality", "use semantic, instance, rgb");
    }
    if (std::find(out.begin(), out.end(), m) != out.end()) {
      throw ConfigError(s, k, name, "listed twice", "list each modality once");
    }
    out.push_back(m);
  }
  std::sort(out.begin(), out.end());
  f = std::move(out);
}

/// {at: t, <generator>: weight, ..., weight_<modality>: weight, ...}. Generator names are
/// checked against the registry by the curriculum area.
inline void read_field(const YAML::Node& n, Keyframe& f, const std::string& s,
                       const std::string& k) {
  if (!n.IsMap()) {
    throw ConfigError(s, k, yaml_text(n), "expected a keyframe map",
                      "write {at: 0.5, semantic: 0.2, instance: 0.8}");
  }
  Keyframe out;
  bool has_at = false;
  unique_keys(n, s, k + ".", "keyframe key");
  for (const auto& kv : n) {
    const auto name = kv.first.Scalar();
    const std::string key = k + "." + name;
    if (name == "at") {
      read_field(kv.second, out.at, s, key);
      has_at = true;
      continue;
    }
    double w = 0.0;
    read_field(kv.second, w, s, key);
    const std::string prefix = kLossWeightKeyPrefix;
    if (name.rfind(prefix, 0) == 0) {
      Modality m;
      try {
        m = parse_modality(name.substr(prefix.size()));
      } catch (const std::invalid_argument&) {
        throw ConfigError(s, key, yaml_text(kv.second), "unknown loss weight key",
                          "loss weight keys: weight_semantic, weight_instance, weight_rgb");
      }
      out.loss_weights.emplace_back(m, w);
    } else {
      out.generators.emplace_back(name, w);
    }
  }
  if (!has_at) {
    throw ConfigError(s, k, yaml_text(n), "keyframe without 'at'",
                      "give its progress in [0, 1], e.g. {at: 0.5, random: 1}");
  }
  std::sort(out.loss_weights.begin(), out.loss_weights.end());
  f = std::move(out);
}
inline void read_field(const YAML::Node& n, std::vector<Keyframe>& f, const std::string& s,
                       const std::string& k) {
  read_list(n, f, s, k);
}

inline void emit_field(YAML::Emitter& e, int64_t v) { e << v; }
inline void emit_field(YAML::Emitter& e, bool v) { e << v; }
inline void emit_field(YAML::Emitter& e, const std::string& v) { e << YAML::DoubleQuoted << v; }
// Quoted as the strings these keys were before they were choices: the dump is unchanged.
inline void emit_field(YAML::Emitter& e, const ChoiceField& v) {
  e << YAML::DoubleQuoted << v.name();
}
inline void emit_field(YAML::Emitter& e, double v) {
  // Round-trips exactly and stays readable (0.00015 rather than 0.00014999999999999999).
  e << shortest_text(v);
}
inline void emit_field(YAML::Emitter& e, const std::vector<Modality>& v) {
  e << YAML::Flow << YAML::BeginSeq;
  for (auto m : v) e << modality_name(m);
  e << YAML::EndSeq;
}
inline void emit_field(YAML::Emitter& e, const std::vector<Keyframe>& v) {
  e << YAML::BeginSeq;
  for (const auto& kf : v) {
    e << YAML::Flow << YAML::BeginMap;
    e << YAML::Key << "at" << YAML::Value;
    emit_field(e, kf.at);
    for (const auto& [name, w] : kf.generators) {
      e << YAML::Key << name << YAML::Value;
      emit_field(e, w);
    }
    for (const auto& [m, w] : kf.loss_weights) {
      e << YAML::Key << loss_weight_key(m) << YAML::Value;
      emit_field(e, w);
    }
    e << YAML::EndMap;
  }
  e << YAML::EndSeq;
}

}  // namespace c2fmae::config
