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
  // As DDP: one bucket for the first step (the order of definition need not be backward's),
  // rebuilt by backward's order after it.
  const std::vector<bool> sparse(trained.size(), false);
  auto [buckets, limits] = c10d::compute_bucket_assignment_by_size(
      trained, {std::numeric_limits<size_t>::max()}, sparse);
  (void)limits;
  std::reverse(buckets.begin(), buckets.end());
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
  // Rebuilding broadcasts rank 0's bucket order: every rank does it at the same point.
  impl_->group->guard("rebuilding the gradient buckets",
                      [&] { impl_->reducer->rebuild_buckets(); });
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
