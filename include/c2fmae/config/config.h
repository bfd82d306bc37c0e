// The whole resolved configuration: defaults < config files (in order) < --set key=value.
//
//   auto cfg = config::load_config({"configs/pretrain/c2fmae_vit_base_400.yaml"},
//                                  {"train.epochs=1600"});
//   cfg.validate();               // before any heavy work; throws ConfigError
//   std::cout << cfg.dump_yaml(); // what is saved into the run directory
#pragma once
#include <map>
#include <string>
#include <vector>

#include "c2fmae/config/config_error.h"
#include "c2fmae/config/sections.h"

namespace c2fmae::config {

/// Where each key's value came from: "defaults", a file path or "--set".
using Origins = std::map<std::string, std::string>;

struct Config {
  ModelConfig model;
  MaskingConfig masking;
  CurriculumConfig curriculum;
  LossConfig loss;
  DataConfig data;
  OptimConfig optim;
  TrainConfig train;
  DistConfig dist;
  LogConfig log;
  Origins origins;

  template <class V>
  void visit_sections(V& v) {
    v("model", model);
    v("masking", masking);
    v("curriculum", curriculum);
    v("loss", loss);
    v("data", data);
    v("optim", optim);
    v("train", train);
    v("dist", dist);
    v("log", log);
  }
  template <class V>
  void visit_sections(V& v) const {
    const_cast<Config*>(this)->visit_sections(v);
  }

  /// Merges a parsed YAML document (a map of sections) over the current values.
  /// Unknown sections or keys and wrong types throw ConfigError naming `source`.
  void merge_yaml(const std::string& yaml_text, const std::string& source);
  /// Merges a YAML file; a missing or unparsable file throws ConfigError.
  void merge_file(const std::string& path);
  /// Applies "section.key=value"; the value is parsed as YAML ("[a, b]", "1e-4", "true").
  void set(const std::string& assignment);

  /// Checks every rule; throws ConfigError for the first broken one.
  void validate() const;

  /// The resolved config as YAML, loadable again with merge_file.
  std::string dump_yaml() const;
  /// One section of dump_yaml() ("model", "optim", ...); throws for an unknown section.
  std::string section_yaml(const std::string& section) const;
  /// The resolved config as an aligned "key  value  (source)" table.
  std::string table() const;
  /// Every key with its help text, grouped by section (for --help).
  static std::string describe_keys();
};

/// defaults < files in order < sets in order.
Config load_config(const std::vector<std::string>& files, const std::vector<std::string>& sets);

/// Collects rule violations during validate(); throws on the first.
class Checker {
 public:
  explicit Checker(const Origins& origins) : origins_(origins) {}
  /// Throws ConfigError for `key` (dotted) unless `ok`.
  template <class T>
  void require(bool ok, const std::string& key, const T& value, const std::string& problem,
               const std::string& hint) {
    if (!ok) fail(key, format(value), problem, hint);
  }
  [[noreturn]] void fail(const std::string& key, const std::string& value,
                         const std::string& problem, const std::string& hint) const;

 private:
  template <class T>
  static std::string format(const T& value) {
    std::ostringstream os;
    os << value;
    return os.str();
  }
  const Origins& origins_;
};

}  // namespace c2fmae::config
