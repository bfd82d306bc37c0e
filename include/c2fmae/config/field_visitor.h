// What the config machinery sees of a section: its fields, one call per field with the YAML
// key, the member and a one-line help. Each section lists its fields once, in a
// `template <class V> void visit(V& v)`; loading, --set, dumping, unknown-key errors, the
// origin table and --help all come from that list. A new field type adds one overload here
// and its YAML conversion in src/config/yaml_field.h.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "c2fmae/config/choice.h"
#include "c2fmae/config/keyframe.h"
#include "c2fmae/core/modality.h"

namespace c2fmae::config {

class FieldVisitor {
 public:
  virtual ~FieldVisitor() = default;
  virtual void field(const char* key, int64_t& value, const char* help) = 0;
  virtual void field(const char* key, double& value, const char* help) = 0;
  virtual void field(const char* key, bool& value, const char* help) = 0;
  virtual void field(const char* key, std::string& value, const char* help) = 0;
  /// Every Choice<E> (config/choice.h), whatever its enum.
  virtual void field(const char* key, ChoiceField& value, const char* help) = 0;
  virtual void field(const char* key, std::vector<Modality>& value, const char* help) = 0;
  virtual void field(const char* key, std::vector<Keyframe>& value, const char* help) = 0;

  /// Sections call v(key, member, help).
  template <class T>
  void operator()(const char* key, T& value, const char* help) {
    field(key, value, help);
  }
};

/// What the machinery sees of a config root: its named sections.
class SectionVisitor {
 public:
  virtual ~SectionVisitor() = default;
  virtual void section(const char* name, const std::function<void(FieldVisitor&)>& fields) = 0;

  /// Roots call v("model", model) for each section.
  template <class S>
  void operator()(const char* name, S& s) {
    section(name, [&s](FieldVisitor& f) { s.visit(f); });
  }
};

}  // namespace c2fmae::config
