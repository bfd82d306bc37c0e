// The names of an enum's values, written once in a table next to the enum. An enum opts in
// with a function in its own namespace, found by argument-dependent lookup:
//
//   enum class Precision { kFp32, kBf16 };
//   constexpr auto enum_names(Precision) {
//     return std::array{std::pair{Precision::kFp32, "fp32"}, std::pair{Precision::kBf16, "bf16"}};
//   }
//
// (std::array's deduction counts the entries, so the table cannot hold an unnamed slot.)
// The table is plain data so that any area, core included, can give its enums names; the
// config field over such an enum is config/choice.h.
#pragma once
#include <array>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace c2fmae {

/// The name of `value` in its table ("?" for a value the table lacks).
template <class E>
const char* enum_name(E value) {
  for (const auto& [v, name] : enum_names(E{})) {
    if (v == value) return name;
  }
  return "?";
}

/// The value called `name`, or nothing.
template <class E>
std::optional<E> enum_from_name(const std::string& name) {
  for (const auto& [v, n] : enum_names(E{})) {
    if (name == n) return v;
  }
  return std::nullopt;
}

/// Every name, in table order.
template <class E>
std::vector<std::string> enum_name_list() {
  std::vector<std::string> out;
  for (const auto& entry : enum_names(E{})) out.emplace_back(entry.second);
  return out;
}

/// The names joined with ", " ("fp32, bf16"), for hints.
template <class E>
std::string enum_names_text() {
  std::string out;
  for (const auto& entry : enum_names(E{}))
    out += (out.empty() ? "" : ", ") + std::string(entry.second);
  return out;
}

}  // namespace c2fmae
