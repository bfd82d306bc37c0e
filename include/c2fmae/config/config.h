// The config machinery, for any program's root of sections: defaults < config files (in
// order) < --set key=value, unknown-key errors with "did you mean", validate(), the resolved
// YAML, the origin table and --help by section.
//
//   auto cfg = config::load_config<config::PretrainConfig>(
//       {"configs/pretrain/c2fmae_vit_base_400ep.yaml"}, {"train.epochs=1600"});
//   cfg.validate();               // before any heavy work; throws ConfigError
//   std::cout << cfg.dump_yaml(); // what is saved into the run directory
//
// A root is a struct of sections deriving from Root<itself>; it lists them once in
// visit_sections() and states its cross-section rules in validate().
#pragma once
#include <cstddef>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "c2fmae/config/config_error.h"
#include "c2fmae/config/field_visitor.h"
#include "c2fmae/config/sections.h"
#include "c2fmae/core/number_text.h"

namespace c2fmae::config {

/// The longest config file merge_file reads: a config is a few KiB of YAML, and the bound
/// makes a wrong path (/dev/zero, a checkpoint, a data file) fail at once.
inline constexpr size_t kMaxConfigFileBytes = size_t{1} << 20;

/// Where each key's value came from: "defaults", a file path, "--set" or an option name.
using Origins = std::map<std::string, std::string>;

class ConfigRoot {
 public:
  virtual ~ConfigRoot() = default;

  /// Calls v(name, section) for each section, in the order they are dumped.
  virtual void visit_sections(SectionVisitor& v) = 0;
  void visit_sections(SectionVisitor& v) const { const_cast<ConfigRoot*>(this)->visit_sections(v); }
  /// Checks every rule of the sections and those that span them; throws ConfigError for the
  /// first broken one.
  virtual void validate() const = 0;
  /// A root of the same type with default values.
  virtual std::unique_ptr<ConfigRoot> fresh() const = 0;

  /// Merges a YAML text (one document, a map of sections) over the current values.
  /// Unknown sections or keys, wrong types, a section or key written twice, a key that is
  /// not a plain name and a second document throw ConfigError naming `source`.
  void merge_yaml(const std::string& yaml_text, const std::string& source);
  /// Merges a YAML file. A file that cannot be opened (with the OS's reason), a directory, one
  /// longer than kMaxConfigFileBytes (reading stops one byte past it) or one merge_yaml
  /// rejects throws ConfigError.
  void merge_file(const std::string& path);
  /// Applies "section.key=value"; the value is parsed as YAML ("[a, b]", "1e-4", "true").
  void set(const std::string& assignment);

  /// The resolved config as YAML, loadable again with merge_file.
  std::string dump_yaml() const;
  /// The resolved config as an aligned "key  value  (source)" table.
  std::string table() const;
  /// Every key with its default value and help text, grouped by section (for --help).
  std::string describe_keys() const;
  /// Dotted keys whose values differ between this config and `yaml_text` read over a root
  /// of the same type (throws ConfigError if it does not read).
  std::vector<std::string> differing_keys(const std::string& yaml_text,
                                          const std::string& source) const;

  Origins origins;
};

/// Base of a concrete root: `struct PretrainConfig : Root<PretrainConfig> { ... }`.
template <class Derived>
class Root : public ConfigRoot {
 public:
  std::unique_ptr<ConfigRoot> fresh() const override { return std::make_unique<Derived>(); }
};

/// defaults < files in order < sets in order.
template <class R>
R load_config(const std::vector<std::string>& files, const std::vector<std::string>& sets) {
  R cfg;
  for (const auto& f : files) cfg.merge_file(f);
  for (const auto& s : sets) cfg.set(s);
  return cfg;
}

/// Checks rules during validate(); throws on the first broken one.
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
  /// Every digit needed to read the number back: 1.0000001 is not shown as 1.
  static std::string format(double value) { return shortest_text(value); }
  const Origins& origins_;
};

}  // namespace c2fmae::config
