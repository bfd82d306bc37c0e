// The run's memory, estimated before anything is allocated, against what the machine has:
// a run that cannot fit is refused (exit 2, naming the keys that drive it) instead of
// swapping or dying in an allocator minutes later. The estimate's parts:
//
//   weights, gradients and AdamW's two moments   4 bytes per value, 12 more per value that
//                                                trains (+ 4 per encoder value for an EMA
//                                                encoder)
//   activations                                  data.batch_size x the model's bytes per
//                                                sample (models/memory_estimate.h)
//   loader buffers                               (data.prefetch + 2) micro-batches of RGB
//                                                (float) and label maps (int64), per loader
//   encoder features                             knn and dense_probe: the frozen encoder's
//                                                features they keep (float, host memory)
//   runtime                                      LibTorch, threads and the CUDA context
//
// On a GPU the first two are device memory and the loader's pinned buffers host memory; on
// the CPU all of them are host memory, times the processes on this host. How close the
// estimate comes to measured peaks: docs/PERFORMANCE.md, "Memory estimate".
#pragma once
#include <torch/types.h>

#include <string>
#include <vector>

#include "c2fmae/config/finetune_config.h"
#include "c2fmae/config/pretrain_config.h"

namespace c2fmae::train {

struct MemoryEstimate {
  struct Part {
    std::string name;
    double bytes = 0;
    std::string keys;        ///< the config keys that drive it
    bool on_device = false;  ///< in GPU memory (a CUDA run's weights and activations)
  };
  std::vector<Part> parts;
  int64_t processes_on_host = 1;  ///< host memory is shared by the processes of one host

  double device_bytes() const;
  double host_bytes() const;  ///< for all processes of this host
  /// "3.2 GiB (activations 2.1 GiB, weights, gradients and AdamW state 0.9 GiB, ...)", each
  /// side on its own line on a GPU.
  std::string describe() const;
};

MemoryEstimate estimate_pretrain_memory(const config::PretrainConfig& cfg,
                                        const torch::Device& device, bool autocast,
                                        bool ema_encoder, int64_t processes_on_host);

/// `loaders`: the batch loaders the run keeps (train and validation: 2); `feature_rows`: the
/// rows of encoder features a measure keeps in host memory (knn, dense_probe; else 0).
MemoryEstimate estimate_finetune_memory(const config::FinetuneConfig& cfg, int64_t num_classes,
                                        const torch::Device& device, bool autocast, int64_t loaders,
                                        int64_t feature_rows, int64_t processes_on_host);

/// Host memory this process may use: MemTotal, or the cgroup's limit when lower.
double host_memory_limit();

/// Throws UsageError when the estimate exceeds the host's memory or the device's (with
/// `check`; without it, and when it only exceeds what is free now, it warns).
void check_memory_budget(const MemoryEstimate& estimate, const torch::Device& device, bool check);

}  // namespace c2fmae::train
