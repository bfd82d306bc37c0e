#include "c2fmae/train/metrics_log.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "c2fmae/core/atomic_file.h"
#include "c2fmae/core/number_text.h"

namespace c2fmae::train {

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

int64_t truncate_metrics(const std::string& path, int64_t last_step) {
  std::ifstream in(path);
  if (!in) return 0;
  std::string kept, line;
  int64_t dropped = 0;
  const std::string key = "\"step\": ";
  while (std::getline(in, line)) {
    const auto at = line.find(key);
    // A line without a step or cut short by the kill is dropped too.
    const bool whole = !line.empty() && line.back() == '}';
    if (at != std::string::npos && whole && std::stoll(line.substr(at + key.size())) <= last_step) {
      kept += line + "\n";
    } else {
      ++dropped;
    }
  }
  in.close();
  if (dropped == 0) return 0;
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

MetricsLog::MetricsLog(const std::string& path) : file_(std::fopen(path.c_str(), "a")) {
  if (!file_) throw std::runtime_error("cannot open " + path + " for appending");
}

MetricsLog::~MetricsLog() { std::fclose(file_); }

void MetricsLog::write(const MetricsRecord& record) {
  const auto line = record.json() + "\n";
  std::fwrite(line.data(), 1, line.size(), file_);
  std::fflush(file_);
}

}  // namespace c2fmae::train
