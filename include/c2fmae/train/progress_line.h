// A one-line progress display with images/s and ETA, redrawn in place on a terminal.
#pragma once
#include <cstdint>
#include <string>

namespace c2fmae::train {

/// "step 120/600 (20.0%) loss 1.2345 | 310.2 img/s | ETA 3m20s"
std::string progress_text(int64_t step, int64_t total, double loss, double images_per_s,
                          double seconds_per_step);

/// Seconds as "1h02m", "3m20s" or "12s".
std::string format_duration(double seconds);

class ProgressLine {
 public:
  /// Draws only if stderr is a terminal and `enabled`.
  explicit ProgressLine(bool enabled);
  void update(const std::string& text);
  /// Ends the line so log messages start on a fresh one.
  void finish();

 private:
  bool active_;
  bool drawn_ = false;
};

}  // namespace c2fmae::train
