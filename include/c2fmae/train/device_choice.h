// Which device a training process computes on (train.device), one rule for the engines and
// the programs that join a process group.
#pragma once
#include <torch/types.h>

#include <cstdint>

#include "c2fmae/config/sections.h"

namespace c2fmae::train {

/// The CPU, or the CUDA device of this process (one per process, by its local rank), made
/// the current device. Throws for train.device = cuda without one (std::runtime_error) and a
/// local rank without a GPU of its own (UsageError).
torch::Device choose_device(const config::TrainConfig& train, int64_t local_rank);

}  // namespace c2fmae::train
