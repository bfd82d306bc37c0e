// Numbers as text for people and for files read back later (YAML configs, metrics.jsonl).
#pragma once
#include <optional>
#include <string>

namespace c2fmae {

/// The shortest decimal text that reads back as exactly `value` (0.4 rather than
/// 0.40000000000000002, 0.00015 rather than 0.00014999999999999999). Non-finite values give
/// "nan", "inf" or "-inf".
std::string shortest_text(double value);

/// `text` as a number if all of it is one (strtod's syntax; out of range: none).
std::optional<double> parse_number(const std::string& text);

}  // namespace c2fmae
