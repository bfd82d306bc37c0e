#include "c2fmae/train/metrics_log.h"

#include <c10/util/StringUtil.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include "c2fmae/core/atomic_file.h"
#include "c2fmae/core/json_text.h"
#include "c2fmae/core/log.h"
#include "c2fmae/core/number_text.h"

namespace c2fmae::train {

int64_t truncate_metrics(const std::string& path, int64_t last_step, const std::string& aside) {
  if (!regular_file_or_none(path)) return 0;  // a device would be read without end
  std::ifstream in(path);
  if (!in) return 0;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw_file_error("read", path, errno ? errno : EIO);
  in.close();
  std::string kept, later;
  int64_t dropped = 0, malformed = 0;
  const std::string key = "\"step\": ";
  size_t begin = 0;
  while (begin < text.size()) {
    const auto end = text.find('\n', begin);
    if (end == std::string::npos) {
      ++dropped;  // a last line cut short by a kill
      break;
    }
    const std::string line = text.substr(begin, end - begin);
    begin = end + 1;
    const auto at = line.find(key);
    char* stop = nullptr;
    const long long step =
        at == std::string::npos ? 0 : std::strtoll(line.c_str() + at + key.size(), &stop, 10);
    if (at == std::string::npos || stop == line.c_str() + at + key.size()) {
      ++malformed;  // not ours to judge: kept
      kept += line + "\n";
    } else if (step <= last_step) {
      kept += line + "\n";
    } else {
      ++dropped;
      later += line + "\n";
    }
  }
  if (malformed > 0) {
    log::warn(
        c10::str(path, ": ", malformed, " line(s) without a readable step were kept as they are"));
  }
  if (dropped == 0) return 0;
  if (!aside.empty() && !later.empty()) write_text_atomically(aside, later);  // first: kept
  write_text_atomically(path, kept);
  return dropped;
}

MetricsRecord& MetricsRecord::add(const std::string& key, double value) {
  fields_.emplace_back(key, std::isfinite(value) ? shortest_text(value) : "null");
  return *this;
}

MetricsRecord& MetricsRecord::add(const std::string& key, int64_t value) {
  fields_.emplace_back(key, std::to_string(value));
  return *this;
}

MetricsRecord& MetricsRecord::add(const std::string& key, const std::string& value) {
  fields_.emplace_back(key, json_string(value));
  return *this;
}

MetricsRecord& MetricsRecord::append(const MetricsRecord& other) {
  fields_.insert(fields_.end(), other.fields_.begin(), other.fields_.end());
  return *this;
}

std::string MetricsRecord::json() const {
  std::string out = "{";
  for (size_t i = 0; i < fields_.size(); ++i) {
    out += (i ? ", " : "") + json_string(fields_[i].first) + ": " + fields_[i].second;
  }
  return out + "}";
}

MetricsLog::MetricsLog(const std::string& path)
    : file_((regular_file_or_none(path, /*devices=*/true), path), 0644,
            FileWriter::Existing::kAppend) {}

MetricsLog::~MetricsLog() = default;

void MetricsLog::write(const MetricsRecord& record) {
  const auto line = record.json() + "\n";
  file_.write(line.data(), line.size());
}

}  // namespace c2fmae::train
