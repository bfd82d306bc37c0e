#include "c2fmae/train/data_parallel_step.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>

#include "c2fmae/distributed/gradient_sync.h"
#include "c2fmae/optim/gradient_clipping.h"

namespace c2fmae::train {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

DataParallelStep::DataParallelStep(distributed::Communicator* group, torch::Device device,
                                   std::vector<torch::Tensor> trained, optim::AdamW& optimizer,
                                   const Options& options, const std::vector<torch::Tensor>& state)
    : group_(group && group->world_size() > 1 ? group : nullptr),
      rank_(group_ ? group_->rank() : 0),
      world_(group_ ? group_->world_size() : 1),
      device_(device),
      trained_(std::move(trained)),
      optimizer_(optimizer),
      options_(options) {
  TORCH_CHECK(options_.accum_steps >= 1, "DataParallelStep: accum_steps must be >= 1");
  bad_.max_fraction = options_.max_bad_fraction;
  bad_.dataset_size = options_.dataset_size;
  if (!group_) return;
  broadcast(state);
  if (!trained_.empty()) {
    sync_ = std::make_unique<distributed::GradientSync>(*group_, trained_, options_.bucket_bytes);
  }
}

DataParallelStep::~DataParallelStep() = default;

torch::Tensor DataParallelStep::forward_backward(int64_t step, const Hooks& hooks) {
  TORCH_CHECK(!trained_.empty(), "DataParallelStep: nothing trains (an evaluating engine)");
  const int64_t accum = options_.accum_steps;
  data_wait_seconds_ = 0.0;
  step_skipped_ = step_read_ = 0;
  // What backward differentiates, so that the Reducer's average over the W processes and the
  // micro-batches' sum make the global batch's gradient.
  const bool share = options_.loss_scope == LossScope::kGlobalShare;
  const double share_scale = static_cast<double>(world_) / static_cast<double>(accum);
  std::vector<torch::Tensor> rows;
  for (int64_t k = 0; k < accum; ++k) {
    const bool last = k + 1 == accum;  // data-parallel: only its backward communicates
    const int64_t micro_step = step * accum + k;
    const auto asked = Clock::now();
    Batch batch = hooks.next_batch(micro_step);
    data_wait_seconds_ += std::chrono::duration<double>(Clock::now() - asked).count();
    step_skipped_ += batch.data_skipped;
    step_read_ += batch.size() + batch.data_skipped;
    if (hooks.prepare) hooks.prepare(batch, micro_step);
    batch = batch.to(device_, /*non_blocking=*/true);
    if (sync_ && last) sync_->before_forward();
    const auto out = hooks.forward_loss(batch, last);
    rows.push_back(out.figures.detach().to(torch::kFloat));
    // A non-finite loss gives non-finite gradients: the norm in run() catches it.
    const auto scaled = share ? out.loss * share_scale : out.loss / static_cast<double>(accum);
    if (sync_) {
      sync_->backward(scaled, last);
    } else {
      scaled.backward();
    }
  }
  return torch::stack(rows);
}

DataParallelStep::Result DataParallelStep::run(int64_t step, double lr, const Hooks& hooks) {
  Result r;
  const auto figures = forward_backward(step, hooks);  // [accum, F]
  const int64_t accum = options_.accum_steps, width = figures.size(1);

  // The gradient norm, always measured: a finite loss can still give inf / NaN gradients,
  // which must not reach the weights (nor the checkpoint of the "last good state").
  const auto norm = optim::clip_gradient_norm(trained_, options_.clip_grad);

  // One host read of every micro-batch's figures, the norm and the bad-sample counts;
  // data-parallel, summed over the processes first (one all-reduce), so that every process
  // sees the global figures and takes the same decisions (skip, stop). The counts are filled
  // on the device: copying a host tensor there would sync.
  const auto on_device = torch::TensorOptions().dtype(torch::kDouble).device(device_);
  auto values = torch::cat({figures.flatten().to(torch::kDouble), norm.to(torch::kDouble).view({1}),
                            torch::full({1}, static_cast<double>(step_skipped_), on_device),
                            torch::full({1}, static_cast<double>(step_read_), on_device)});
  if (group_) {
    group_->all_reduce_sum(values);
    // Every process's norm is the same: their mean. Shares sum to the global figure; means
    // average to it.
    const int64_t first = options_.loss_scope == LossScope::kProcessMean ? 0 : figures.numel();
    values.narrow(0, first, figures.numel() + 1 - first).div_(static_cast<double>(world_));
  }
  values = values.cpu();
  const auto* v = values.data_ptr<double>();
  const int64_t n = figures.numel();
  r.bad_samples = std::llround(v[n + 1]);
  bad_.add(r.bad_samples, std::llround(v[n + 2]));
  r.data_wait_seconds = data_wait_seconds_;
  r.figures.assign(static_cast<size_t>(width), 0.0);
  for (int64_t k = 0; k < accum; ++k) {
    const double total = v[k * width];
    if (!std::isfinite(total)) {
      r.skipped = true;
      r.loss = total;
      r.skip_reason = c10::str("non-finite loss (", total, ")");
      break;
    }
    r.loss += total / static_cast<double>(accum);
    for (int64_t i = 0; i < width; ++i) {
      r.figures[static_cast<size_t>(i)] += v[k * width + i] / static_cast<double>(accum);
    }
  }
  r.grad_norm = r.skipped ? std::nan("") : v[n];
  if (!r.skipped && !std::isfinite(r.grad_norm)) {
    r.skipped = true;
    r.skip_reason = c10::str("non-finite gradient norm (", r.grad_norm, ")");
  }

  // The update, unless the step is skipped.
  if (!r.skipped) {
    optimizer_.step(lr);
    if (hooks.after_update) hooks.after_update();
  }
  optimizer_.zero_grad();
  return r;
}

void DataParallelStep::broadcast(const std::vector<torch::Tensor>& tensors) {
  if (!group_ || tensors.empty()) return;
  torch::NoGradGuard no_grad;
  group_->broadcast_coalesced(tensors, options_.bucket_bytes);
}

void DataParallelStep::check_replicas(const std::vector<torch::Tensor>& params) {
  if (!group_) return;
  auto& group = *group_;
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
  group.broadcast_coalesced({reference}, options_.bucket_bytes);
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
