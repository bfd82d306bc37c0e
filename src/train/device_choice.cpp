#include "c2fmae/train/device_choice.h"

#include <c10/cuda/CUDAFunctions.h>
#include <torch/cuda.h>

#include "c2fmae/core/usage_error.h"

namespace c2fmae::train {

torch::Device choose_device(const config::TrainConfig& train, int64_t local_rank) {
  const bool cuda = torch::cuda::is_available();
  if (train.device == config::ComputeDevice::kCuda && !cuda) {
    // A config this machine cannot run: exit 2, as every config problem.
    throw UsageError(with_hint("train.device = cuda, but no CUDA device is available",
                               "use --set train.device=cpu or auto"));
  }
  if (train.device == config::ComputeDevice::kCpu || !cuda) return torch::Device(torch::kCPU);
  const auto count = static_cast<int64_t>(torch::cuda::device_count());
  if (local_rank >= count) {
    throw UsageError(c10::str("local rank ", local_rank, " has no GPU of its own: this node has ",
                              count, "\nhint: start at most ", count,
                              " processes per node (torchrun --nproc-per-node, srun "
                              "--ntasks-per-node)"));
  }
  // The current device too: streams, NCCL and the allocator then stay on this GPU.
  c10::cuda::set_device(static_cast<c10::DeviceIndex>(local_rank));
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(local_rank));
}

}  // namespace c2fmae::train
