#include "c2fmae/distributed/gradient_sync.h"

#include <torch/torch.h>

#include <limits>
#include <torch/csrc/distributed/c10d/reducer.hpp>

namespace c2fmae::distributed {

struct GradientSync::Impl {
  Communicator* group = nullptr;
  std::unique_ptr<c10d::Reducer> reducer;
  int64_t bucket_bytes = 0;
};

GradientSync::GradientSync(Communicator& group, std::vector<torch::Tensor> params,
                           int64_t bucket_bytes)
    : impl_(std::make_unique<Impl>()) {
  impl_->group = &group;
  impl_->bucket_bytes = bucket_bytes;
  std::vector<torch::Tensor> trained;
  for (auto& p : params) {
    if (p.requires_grad()) trained.push_back(p);
  }
  TORCH_CHECK(!trained.empty(), "GradientSync: no parameter requires a gradient");
  // Buckets of at most bucket_bytes in the reverse order of definition (DDP's first layout;
  // backward produces a ViT's gradients in about that order), kept for the whole run. DDP
  // rebuilds them by backward's order after the first step, but then a resumed process's
  // first step would all-reduce in another layout than the uninterrupted run's step did,
  // and with 3 or more processes gloo's ring sums the elements in another order: the resumed
  // run would differ in the last bit. A fixed layout keeps resume bit-exact.
  const std::vector<bool> sparse(trained.size(), false);
  std::vector<torch::Tensor> reversed(trained.rbegin(), trained.rend());
  auto [buckets, limits] = c10d::compute_bucket_assignment_by_size(
      reversed, {static_cast<size_t>(std::max<int64_t>(bucket_bytes, 1))}, sparse);
  (void)limits;
  const auto last = static_cast<int64_t>(trained.size()) - 1;
  for (auto& bucket : buckets) {
    for (auto& index : bucket) index = static_cast<size_t>(last - static_cast<int64_t>(index));
  }
  group.guard("setting up the gradient all-reduce", [&] {
    impl_->reducer = std::make_unique<c10d::Reducer>(
        trained, buckets, group.process_group(), sparse, bucket_bytes,
        /*find_unused_parameters=*/false, /*gradient_as_bucket_view=*/false,
        std::unordered_map<size_t, std::string>{},
        /*first_bucket_bytes_cap=*/std::min<int64_t>(c10d::kDefaultFirstBucketBytes, bucket_bytes),
        /*skip_all_reduce_unused_params=*/false, /*use_python_reducer=*/false,
        std::vector<int64_t>{});
  });
}

GradientSync::~GradientSync() = default;

void GradientSync::before_forward() {
  // No rebuild_buckets(): the layout stays the constructor's (see there).
  impl_->reducer->prepare_for_forward();
}

void GradientSync::backward(const torch::Tensor& loss, bool sync) {
  if (!sync) {
    loss.backward();  // the Reducer's hooks ignore it: no prepare_for_backward
    return;
  }
  impl_->reducer->prepare_for_backward({});
  impl_->group->guard("the gradient all-reduce", [&] { loss.backward(); });
}

int64_t GradientSync::num_buckets() const {
  return static_cast<int64_t>(
      impl_->reducer->get_grad_buckets(/*return_zero_tensors=*/true).size());
}

}  // namespace c2fmae::distributed
