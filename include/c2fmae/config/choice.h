// A config key whose value is one of an enum's names ("model.decoder_mode: cascade"). The
// section holds the enum, `Choice<DecoderMode> decoder_mode = DecoderMode::kCascade;`, and
// code switches on it or compares it with the enum's values; the name is only text in YAML,
// --set, the dump, --help and messages. An unknown name is refused when it is read, with the
// key, the value and the allowed names.
//
// A new choice key touches three places, all in the header of the section that owns it: the
// enum, its name table (enum_names, core/enum_names.h) next to it, and the section's field
// line in visit(). Loading, --set, dumping, --help and the error come with them.
#pragma once
#include <ostream>
#include <string>
#include <vector>

#include "c2fmae/core/enum_names.h"

namespace c2fmae::config {

/// What the config machinery sees of any Choice: one FieldVisitor overload covers them all.
class ChoiceField {
 public:
  virtual ~ChoiceField() = default;
  /// The current value's name.
  virtual std::string name() const = 0;
  /// Every allowed name, in table order.
  virtual std::vector<std::string> names() const = 0;
  /// Sets the value called `name`; returns false, leaving the value as it was, for a name
  /// the table lacks.
  virtual bool set(const std::string& name) = 0;

 protected:
  ChoiceField() = default;
  ChoiceField(const ChoiceField&) = default;
  ChoiceField& operator=(const ChoiceField&) = default;
};

/// One value of enum `E`, whose names come from `enum_names(E)`.
template <class E>
class Choice final : public ChoiceField {
 public:
  // Implicit both ways: a section writes `Choice<E> x = E::kA;`, code `switch (cfg.x)`.
  Choice(E value) : value_(value) {}  // NOLINT(google-explicit-constructor)
  Choice& operator=(E value) {
    value_ = value;
    return *this;
  }
  operator E() const { return value_; }  // NOLINT(google-explicit-constructor)
  /// The enum value (where a conversion would be ambiguous, e.g. in `a ? choice : E::kB`).
  E value() const { return value_; }

  std::string name() const override { return enum_name(value_); }
  std::vector<std::string> names() const override { return enum_name_list<E>(); }
  bool set(const std::string& name) override {
    const auto v = enum_from_name<E>(name);
    if (v) value_ = *v;
    return v.has_value();
  }

 private:
  E value_;
};

/// Prints the name (Checker messages, test failures).
inline std::ostream& operator<<(std::ostream& os, const ChoiceField& c) { return os << c.name(); }

}  // namespace c2fmae::config
