#include "c2fmae/optim/lr_schedule.h"

#include <algorithm>
#include <cmath>

namespace c2fmae::optim {

double learning_rate(const LrSchedule& s, int64_t step) {
  if (step < s.warmup_steps) {
    return s.peak_lr * static_cast<double>(step) / static_cast<double>(s.warmup_steps);
  }
  const int64_t span = std::max<int64_t>(1, s.total_steps - s.warmup_steps);
  const double t =
      std::min(1.0, static_cast<double>(step - s.warmup_steps) / static_cast<double>(span));
  return s.min_lr + (s.peak_lr - s.min_lr) * 0.5 * (1.0 + std::cos(M_PI * t));
}

double scaled_learning_rate(double blr, double lr, int64_t effective_batch) {
  return lr > 0.0 ? lr : blr * static_cast<double>(effective_batch) / 256.0;
}

LrSchedule make_schedule(const config::OptimConfig& optim, int64_t steps_per_epoch,
                         int64_t total_steps, int64_t effective_batch) {
  LrSchedule s;
  s.peak_lr = scaled_learning_rate(optim.blr, optim.lr, effective_batch);
  s.min_lr = optim.min_lr;
  s.warmup_steps = static_cast<int64_t>(std::llround(optim.warmup_epochs * steps_per_epoch));
  s.total_steps = total_steps;
  return s;
}

}  // namespace c2fmae::optim
