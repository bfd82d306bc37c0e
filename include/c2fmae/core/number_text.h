// Numbers as text for people and for files read back later (YAML configs, metrics.jsonl).
#pragma once
#include <string>

namespace c2fmae {

/// The shortest decimal text that reads back as exactly `value` (0.4 rather than
/// 0.40000000000000002, 0.00015 rather than 0.00014999999999999999). Non-finite values give
/// "nan", "inf" or "-inf".
std::string shortest_text(double value);

}  // namespace c2fmae
