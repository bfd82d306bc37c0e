// The error every config problem raises: it names the source, the key, the value and the fix.
#pragma once
#include <stdexcept>
#include <string>
#include <vector>

#include "c2fmae/core/usage_error.h"

namespace c2fmae::config {

/// `text` cut to its first 80 characters with a note of its length when it is longer than
/// 200: a 100 kB value in a config is named, not repeated.
inline std::string shortened(const std::string& text) {
  if (text.size() <= 200) return text;
  return text.substr(0, 80) + "... (" + std::to_string(text.size()) + " characters)";
}

struct ConfigError : UsageError {
  /// "<source>: <key> = <value>: <problem>\nhint: <hint>"; a long key or value is shortened.
  ConfigError(const std::string& source, const std::string& key, const std::string& value,
              const std::string& problem, const std::string& hint)
      : UsageError(shortened(source) + ": " + shortened(key) +
                   (value.empty() ? "" : " = " + shortened(value)) + ": " + problem +
                   (hint.empty() ? "" : "\nhint: " + hint)),
        key_(key) {}
  /// The dotted key ("model.depth") the error is about.
  const std::string& key() const { return key_; }

 private:
  std::string key_;
};

/// A hint for an unknown `name`: "did you mean '<closest>'? known <what>: a, b, c" when one of
/// `known` is close, else "known <what>: a, b, c".
std::string did_you_mean(const std::string& name, const std::vector<std::string>& known,
                         const std::string& what);

}  // namespace c2fmae::config
