// Logging facade. The sink behind it (spdlog) lives in its own target that does not see
// Torch's fmt headers (DESIGN.md §5); callers build messages with c10::str(...).
#pragma once
#include <array>
#include <string>
#include <utility>

namespace c2fmae::log {

enum class Level { kDebug, kInfo, kWarn, kError, kOff };
/// The names of log.level (core/enum_names.h).
constexpr auto enum_names(Level) {
  return std::array{std::pair{Level::kDebug, "debug"}, std::pair{Level::kInfo, "info"},
                    std::pair{Level::kWarn, "warn"}, std::pair{Level::kError, "error"},
                    std::pair{Level::kOff, "off"}};
}

/// Parses "debug", "info", "warn", "error" or "off"; throws std::invalid_argument otherwise.
Level parse_level(const std::string& name);
/// Sets the minimum level printed to the terminal and written to the file sink.
void set_level(Level level);
/// Also writes every message to `path` (appending); adding the same path again does nothing.
void add_file_sink(const std::string& path);
/// Stops writing to `path` (no-op if it was not added).
void remove_file_sink(const std::string& path);

void debug(const std::string& message);
void info(const std::string& message);
void warn(const std::string& message);
/// Shown whatever the level, even "off": the error that ends a run must never be hidden.
void error(const std::string& message);
/// A warning shown whatever the level (e.g. how to resume a stopped run).
void notice(const std::string& message);

}  // namespace c2fmae::log
