// JSON text for the files the library writes (metrics.jsonl, safetensors headers, the
// pseudo-label records): the one string escaper.
#pragma once
#include <string>

namespace c2fmae {

/// JSON string literal for `s` (quoted; '"', '\\' and control characters escaped).
std::string json_string(const std::string& s);

/// Whether `text` is valid UTF-8, as JSON requires (no overlong forms, surrogates or code points
/// past U+10FFFF).
bool is_utf8(const std::string& text);

}  // namespace c2fmae
