// metrics.jsonl: one JSON object per logged step, appended and flushed line by line so a
// killed run keeps every line it wrote.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "c2fmae/core/file_writer.h"

namespace c2fmae::train {

/// One metrics record: ordered (key, number or string) fields.
class MetricsRecord {
 public:
  MetricsRecord& add(const std::string& key, double value);
  MetricsRecord& add(const std::string& key, int64_t value);
  MetricsRecord& add(const std::string& key, const std::string& value);
  /// Adds the fields of `other` after these.
  MetricsRecord& append(const MetricsRecord& other);
  /// {"key": value, ...} on one line; numbers round-trip (shortest exact text), non-finite
  /// numbers are written as null.
  std::string json() const;

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

class MetricsLog {
 public:
  /// Opens `path` for appending.
  explicit MetricsLog(const std::string& path);
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;
  /// Appends one line, handed to the OS at once; throws FileError (a std::runtime_error)
  /// with the OS reason.
  void write(const MetricsRecord& record);

 private:
  FileWriter file_;
};

/// Keeps only the records of `path` with "step" <= `last_step` (rewritten atomically; a
/// missing file is left missing). On resume this drops what a hard-killed run logged after
/// its last checkpoint, so the replayed steps are not logged twice, and a last line the kill
/// cut short. A line without a readable step is kept, with a warning. Returns lines dropped.
/// With `aside` given, the dropped whole lines are written there (atomically) rather than
/// lost: a deliberate rewind to an earlier checkpoint keeps the history it replaces.
int64_t truncate_metrics(const std::string& path, int64_t last_step, const std::string& aside = "");

}  // namespace c2fmae::train
