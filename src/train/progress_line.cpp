#include "c2fmae/train/progress_line.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace c2fmae::train {

std::string format_duration(double seconds) {
  const auto s = static_cast<int64_t>(std::max(0.0, std::round(seconds)));
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", (long long)(s / 3600),
                  (long long)(s % 3600 / 60));
  else if (s >= 60)
    std::snprintf(buf, sizeof buf, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
  else
    std::snprintf(buf, sizeof buf, "%llds", (long long)s);
  return buf;
}

std::string progress_text(int64_t step, int64_t total, double loss, double images_per_s,
                          double seconds_per_step) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "step %lld/%lld (%.1f%%) loss %.4f | %.1f img/s | ETA %s",
                (long long)step, (long long)total, 100.0 * step / std::max<int64_t>(1, total), loss,
                images_per_s, format_duration(seconds_per_step * (total - step)).c_str());
  return buf;
}

ProgressLine::ProgressLine(bool enabled) : active_(enabled && ::isatty(STDERR_FILENO)) {}

void ProgressLine::update(const std::string& text) {
  if (!active_) return;
  std::fprintf(stderr, "\r\033[K%s", text.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressLine::finish() {
  if (active_ && drawn_) std::fprintf(stderr, "\n");
  drawn_ = false;
}

}  // namespace c2fmae::train
