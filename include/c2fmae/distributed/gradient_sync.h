// Data-parallel gradient averaging (DESIGN.md §4): c10d's Reducer, the engine under PyTorch's
// DistributedDataParallel, on the parameters of one model replica per process. Gradients are
// packed into buckets of at most dist.bucket_mb MiB in the reverse order of definition (about
// the order backward produces a ViT's), one layout for the whole run so that a resumed run
// sums in the same order as the uninterrupted one, and each bucket's all-reduce starts while
// backward still runs. A backward that is not synchronised (the non-final
// micro-batches of gradient accumulation) communicates nothing; its gradients accumulate
// locally and the next synchronised backward averages the sum.
//
//   GradientSync sync(group, model->parameters(), 25 << 20);
//   for (k = 0; k < accum; ++k) {
//     const bool last = k + 1 == accum;
//     if (last) sync.before_forward();
//     auto loss = ...;
//     sync.backward(loss, last);    // last: gradients are the mean over ranks afterwards
//   }
//
// The Reducer's header is LibTorch's internal API (pytorch issue 88006):
// tests/distributed/gradient_sync_test.cpp pins what is used here.
#pragma once
#include <torch/types.h>

#include <memory>
#include <vector>

#include "c2fmae/distributed/communicator.h"

namespace c2fmae::distributed {

class GradientSync {
 public:
  /// Every rank passes its replica's parameters in the same order.
  GradientSync(Communicator& group, std::vector<torch::Tensor> params, int64_t bucket_bytes);
  ~GradientSync();
  GradientSync(const GradientSync&) = delete;
  GradientSync& operator=(const GradientSync&) = delete;

  /// Before the forward pass of a micro-batch whose backward synchronises.
  void before_forward();
  /// Runs `loss.backward()`, all-reducing the gradients if `sync` (a failed all-reduce is a
  /// PeerError) and leaving them local otherwise.
  void backward(const torch::Tensor& loss, bool sync);
  /// Number of gradient buckets (fixed at construction).
  int64_t num_buckets() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace c2fmae::distributed
