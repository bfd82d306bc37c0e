// The rules on a run's length that need the dataset's size: they are checked when the
// engine has opened the dataset, before anything is trained or written.
#pragma once
#include <cstdint>

#include "c2fmae/config/config.h"

namespace c2fmae::train {

/// The rules on numbers derived from several sections and the dataset's size: a batch the
/// dataset can fill, at least one optimizer step per epoch, a step count that can be counted,
/// a learning-rate floor below a peak derived from optim.blr. Throws ConfigError (exit 2).
void check_run_length(const config::Origins& origins, const config::DataConfig& data,
                      const config::OptimConfig& optim, const config::TrainConfig& train,
                      int64_t dataset_size, int64_t world);

}  // namespace c2fmae::train
