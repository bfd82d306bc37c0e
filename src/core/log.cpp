// spdlog behind the logging facade; compiled without Torch on the include path.
#include "c2fmae/core/log.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/dist_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <stdexcept>

#include "c2fmae/core/enum_names.h"

namespace c2fmae::log {
namespace {

/// The file sinks. Loader threads log while the main thread adds or removes a run's file
/// (a run that ends while a batch is still being read), so files go through a dist_sink,
/// which locks around both; the logger's own sink list never changes after it is made.
struct FileSinks {
  std::shared_ptr<spdlog::sinks::dist_sink_mt> dist =
      std::make_shared<spdlog::sinks::dist_sink_mt>();
  std::mutex mutex;  ///< guards by_path
  std::map<std::string, spdlog::sink_ptr> by_path;
};

FileSinks& file_sinks() {
  static FileSinks instance;
  return instance;
}

spdlog::logger& logger() {
  static std::shared_ptr<spdlog::logger> instance = [] {
    auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    auto made = std::make_shared<spdlog::logger>("c2fmae",
                                                 spdlog::sinks_init_list{sink, file_sinks().dist});
    sink->set_pattern("%Y-%m-%d %H:%M:%S %^%l%$ %v");
    made->set_level(spdlog::level::info);
    // Messages are few (one per logged step): flush each so `tail -f train.log` and a killed
    // run's log are complete.
    made->flush_on(spdlog::level::info);
    // A log that cannot be written (a full disk) is said once in plain words, not by
    // spdlog's "[*** LOG ERROR ***]" on every message; the run's own files report their
    // write failures themselves.
    made->set_error_handler([](const std::string& message) {
      static std::atomic<bool> said{false};
      if (!said.exchange(true))
        std::fprintf(stderr, "c2fmae: cannot write the log: %s\n", message.c_str());
    });
    return made;
  }();
  return *instance;
}

}  // namespace

Level parse_level(const std::string& name) {
  if (const auto level = enum_from_name<Level>(name)) return *level;
  throw std::invalid_argument("unknown log level '" + name + "'\nhint: use one of " +
                              enum_names_text<Level>());
}

void set_level(Level level) {
  static const spdlog::level::level_enum kMap[] = {spdlog::level::debug, spdlog::level::info,
                                                   spdlog::level::warn, spdlog::level::err,
                                                   spdlog::level::off};
  logger().set_level(kMap[static_cast<int>(level)]);
}

void add_file_sink(const std::string& path) {
  logger();  // made first: its pattern is set before any file sink exists
  auto& files = file_sinks();
  std::lock_guard<std::mutex> lock(files.mutex);
  if (files.by_path.count(path)) return;
  auto sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path);
  sink->set_pattern("%Y-%m-%d %H:%M:%S.%e %l %v");
  files.by_path[path] = sink;
  files.dist->add_sink(sink);
}

void remove_file_sink(const std::string& path) {
  auto& files = file_sinks();
  std::lock_guard<std::mutex> lock(files.mutex);
  const auto it = files.by_path.find(path);
  if (it == files.by_path.end()) return;
  files.dist->remove_sink(it->second);
  files.by_path.erase(it);
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
