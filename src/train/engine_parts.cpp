#include "c2fmae/train/engine_parts.h"

#include <ATen/autocast_mode.h>
#include <c10/cuda/CUDAFunctions.h>
#include <torch/torch.h>

#include <algorithm>
#include <limits>

#include "c2fmae/core/usage_error.h"
#include "c2fmae/optim/lr_schedule.h"

namespace c2fmae::train {

AutocastScope::AutocastScope(bool enabled) : enabled_(enabled) {
  if (!enabled_) return;
  at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
  at::autocast::set_autocast_enabled(at::kCUDA, true);
}

AutocastScope::~AutocastScope() {
  if (!enabled_) return;
  at::autocast::set_autocast_enabled(at::kCUDA, false);
  at::autocast::clear_cache();
}

torch::Device choose_device(const config::TrainConfig& train, int64_t local_rank) {
  const bool cuda = torch::cuda::is_available();
  if (train.device == config::ComputeDevice::kCuda && !cuda) {
    throw std::runtime_error(
        "train.device = cuda, but no CUDA device is available\nhint: use "
        "--set train.device=cpu or auto");
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

void check_run_length(const config::Origins& origins, const config::DataConfig& d,
                      const config::OptimConfig& o, const config::TrainConfig& train,
                      int64_t dataset_size, int64_t world) {
  config::Checker c(origins);
  const int64_t global_batch = d.batch_size * world;
  c.require(global_batch <= dataset_size, "data.batch_size", d.batch_size,
            world > 1 ? c10::str("x ", world, " processes is larger than the dataset's ",
                                 dataset_size, " samples")
                      : c10::str("larger than the dataset's ", dataset_size, " samples"),
            "lower data.batch_size");
  const int64_t micro_per_epoch = dataset_size / global_batch;
  c.require(o.accum_steps <= micro_per_epoch, "optim.accum_steps", o.accum_steps,
            c10::str("longer than an epoch of ", micro_per_epoch, " micro-batches"),
            "lower optim.accum_steps or data.batch_size");
  const int64_t per_epoch = micro_per_epoch / o.accum_steps;
  c.require(train.epochs <= std::numeric_limits<int64_t>::max() / 4 / per_epoch, "train.epochs",
            train.epochs,
            c10::str("gives more optimizer steps than can be counted (", per_epoch, " per epoch)"),
            "lower train.epochs");
  // The warm-up within the run and a given optim.lr above optim.min_lr are config rules
  // (config::check_schedule); a peak derived from blr is known only here.
  const double peak = optim::scaled_learning_rate(o.blr, o.lr, global_batch * o.accum_steps);
  c.require(o.lr > 0 || o.min_lr <= peak, "optim.min_lr", o.min_lr,
            c10::str("above the peak learning rate ", peak, " (optim.blr x effective batch / 256)"),
            "lower optim.min_lr (MAE: 0)");
}

void BadSampleBudget::add(int64_t step_skipped, int64_t step_read) {
  skipped += step_skipped;
  read += step_read;
  const double judged = static_cast<double>(std::max(read, std::min<int64_t>(1000, dataset_size)));
  if (static_cast<double>(skipped) > max_fraction * judged) {
    throw std::runtime_error(c10::str(
        skipped, " of the ", read,
        " samples read so far were bad (skipped and replaced), more "
        "than data.max_bad_fraction = ",
        max_fraction,
        "; train.log names each bad file\nhint: "
        "repair or remove the bad files (or repack the shards), or raise "
        "data.max_bad_fraction; the run resumes from its last checkpoint with --resume auto"));
  }
}

void check_replicas(distributed::Communicator& group, const std::vector<torch::Tensor>& params,
                    int64_t bucket_bytes) {
  // Two integer checksums of each parameter's bits against rank 0's: replicas that drifted
  // apart (bitwise) would train W different models silently. Integer sums are exact in any
  // order, so the threads of a reduction cannot make equal parameters differ.
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> sums;
  for (const auto& p : params) {
    const auto flat = p.detach().contiguous().view({-1});
    const auto bits = (flat.element_size() == 4 ? flat.view(torch::kInt) : flat.view(torch::kShort))
                          .to(torch::kLong);
    const auto weight = torch::arange(bits.numel(), bits.options()).remainder(257) + 1;
    sums.push_back(torch::stack({bits.sum(), (bits * weight).sum()}));
  }
  const auto mine = torch::stack(sums);
  auto reference = mine.clone();
  group.broadcast_coalesced({reference}, bucket_bytes);
  const bool differ = !torch::equal(mine.cpu(), reference.cpu());
  if (group.any(differ)) {
    throw std::runtime_error(
        c10::str("the model's parameters differ between the processes (", group.env().describe(),
                 differ ? ": this one differs from rank 0" : ": another differs from rank 0",
                 ")\nhint: a bug in data-parallel training, or processes started with different "
                 "configs; please report it with the train.log of rank 0"));
  }
}

}  // namespace c2fmae::train
