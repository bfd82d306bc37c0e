// A problem with what the user asked for — a config value, an argument, a run directory in
// use by another process — as opposed to a failure while running. Programs exit 2 for it
// (1 for other errors). Its message says what is wrong and, after "\nhint: ", the fix.
#pragma once
#include <stdexcept>
#include <string>

namespace c2fmae {

struct UsageError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

/// "<message>\nhint: <hint>", the one hint format of every message.
inline std::string with_hint(const std::string& message, const std::string& hint) {
  return message + "\nhint: " + hint;
}

}  // namespace c2fmae
