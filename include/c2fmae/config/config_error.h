// The error every config problem raises: it names the source, the key, the value and the fix.
#pragma once
#include <stdexcept>
#include <string>

namespace c2fmae::config {

struct ConfigError : std::invalid_argument {
  /// "<source>: <key> = <value>: <problem>\nhint: <hint>"
  ConfigError(const std::string& source, const std::string& key, const std::string& value,
              const std::string& problem, const std::string& hint)
      : std::invalid_argument(source + ": " + key + (value.empty() ? "" : " = " + value) + ": " +
                              problem + (hint.empty() ? "" : "\nhint: " + hint)),
        key_(key) {}
  /// The dotted key ("model.depth") the error is about.
  const std::string& key() const { return key_; }

 private:
  std::string key_;
};

}  // namespace c2fmae::config
