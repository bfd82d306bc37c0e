// spdlog behind the logging facade; compiled without Torch on the include path.
#include "c2fmae/core/log.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <stdexcept>

namespace c2fmae::log {
namespace {

spdlog::logger& logger() {
  static std::shared_ptr<spdlog::logger> instance = [] {
    auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    auto made = std::make_shared<spdlog::logger>("c2fmae", sink);
    made->set_pattern("%Y-%m-%d %H:%M:%S %^%l%$ %v");
    made->set_level(spdlog::level::info);
    // Messages are few (one per logged step): flush each so `tail -f train.log` and a killed
    // run's log are complete.
    made->flush_on(spdlog::level::info);
    // A log that cannot be written (a full disk) is said once in plain words, not by
    // spdlog's "[*** LOG ERROR ***]" on every message; the run's own files report their
    // write failures themselves.
    made->set_error_handler([](const std::string& message) {
      static std::atomic<bool> said{false};
      if (!said.exchange(true)) std::fprintf(stderr, "c2fmae: cannot write the log: %s\n", message.c_str());
    });
    return made;
  }();
  return *instance;
}

}  // namespace

Level parse_level(const std::string& name) {
  if (name == "debug") return Level::kDebug;
  if (name == "info") return Level::kInfo;
  if (name == "warn") return Level::kWarn;
  if (name == "error") return Level::kError;
  if (name == "off") return Level::kOff;
  throw std::invalid_argument("unknown log level '" + name +
                              "'\nhint: use debug, info, warn, error or off");
}

void set_level(Level level) {
  static const spdlog::level::level_enum kMap[] = {spdlog::level::debug, spdlog::level::info,
                                                   spdlog::level::warn, spdlog::level::err,
                                                   spdlog::level::off};
  logger().set_level(kMap[static_cast<int>(level)]);
}

void add_file_sink(const std::string& path) {
  auto& sinks = logger().sinks();
  for (const auto& s : sinks) {
    auto file = std::dynamic_pointer_cast<spdlog::sinks::basic_file_sink_mt>(s);
    if (file && file->filename() == path) return;
  }
  auto sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path);
  sink->set_pattern("%Y-%m-%d %H:%M:%S.%e %l %v");
  sinks.push_back(sink);
}

void remove_file_sink(const std::string& path) {
  auto& sinks = logger().sinks();
  sinks.erase(std::remove_if(sinks.begin(), sinks.end(),
                             [&](const spdlog::sink_ptr& s) {
                               auto file =
                                   std::dynamic_pointer_cast<spdlog::sinks::basic_file_sink_mt>(s);
                               return file && file->filename() == path;
                             }),
              sinks.end());
}

void debug(const std::string& message) { logger().debug(message); }
void info(const std::string& message) { logger().info(message); }
void warn(const std::string& message) { logger().warn(message); }
namespace {

/// Logs at `level` even when the logger's level would hide it.
void log_unhidden(spdlog::level::level_enum level, const std::string& message) {
  auto& l = logger();
  const auto saved = l.level();
  if (saved > level) l.set_level(level);
  l.log(level, message);
  l.flush();
  if (saved > level) l.set_level(saved);
}

}  // namespace

void error(const std::string& message) { log_unhidden(spdlog::level::err, message); }
void notice(const std::string& message) { log_unhidden(spdlog::level::warn, message); }

}  // namespace c2fmae::log
