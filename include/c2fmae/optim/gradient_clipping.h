// The total gradient norm, and clipping by it (torch.nn.utils.clip_grad_norm_). The norm is
// always computed: a finite loss can still give inf / NaN gradients, and such a step must
// be skipped rather than written into the weights.
#pragma once
#include <torch/types.h>

#include <vector>

namespace c2fmae::optim {

/// The L2 norm over the gradients of all `params` that have one, as a 0-dim float tensor on
/// their device (no host sync). When `max_norm` > 0 and the norm is larger, the gradients
/// are scaled so that it becomes `max_norm`; non-finite norms leave the gradients alone.
torch::Tensor clip_gradient_norm(const std::vector<torch::Tensor>& params, double max_norm);

}  // namespace c2fmae::optim
