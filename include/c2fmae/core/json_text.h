// JSON text for the files the library writes (metrics.jsonl, safetensors headers, the
// pseudo-label records): the one string escaper.
#pragma once
#include <string>

namespace c2fmae {

/// JSON string literal for `s` (quoted; '"', '\\' and control characters escaped).
std::string json_string(const std::string& s);

}  // namespace c2fmae
