// The learning-rate schedule as a pure function of the step (MAE's adjust_learning_rate,
// stepped per iteration): linear warm-up from 0, then a half-cycle cosine to min_lr.
#pragma once
#include <cstdint>

#include "c2fmae/config/sections.h"

namespace c2fmae::optim {

struct LrSchedule {
  double peak_lr = 1e-3;
  double min_lr = 0.0;
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;
};

/// Learning rate at optimizer step `step` (0-based).
double learning_rate(const LrSchedule& schedule, int64_t step);

/// lr = blr * effective_batch / 256 (MAE's linear scaling rule), unless `lr` > 0.
double scaled_learning_rate(double blr, double lr, int64_t effective_batch);

/// The optim section's schedule for a run of `total_steps` optimizer steps of
/// `effective_batch` samples (every process and micro-step counted), with
/// `steps_per_epoch` steps per epoch (for optim.warmup_epochs).
LrSchedule make_schedule(const config::OptimConfig& optim, int64_t steps_per_epoch,
                         int64_t total_steps, int64_t effective_batch);

}  // namespace c2fmae::optim
