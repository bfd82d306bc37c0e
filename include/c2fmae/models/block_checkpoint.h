// Activation checkpointing of one transformer block (train.activation_checkpointing): the
// forward pass keeps only the block's input; the backward pass runs the block again, with
// the random draws (stochastic depth) and the autocast state of the first run, and
// differentiates that. The same loss and gradients as the plain block, for about one
// block's activations instead of all of them, at the cost of a second forward pass
// (torch.utils.checkpoint's reentrant variant, with preserve_rng_state).
#pragma once
#include <torch/types.h>

#include "c2fmae/models/block.h"

namespace c2fmae::models {

/// block(x), recomputed in the backward pass. Outside training, or with autograd off, it is
/// block->forward(x).
torch::Tensor checkpointed_block(BlockImpl& block, const torch::Tensor& x);

}  // namespace c2fmae::models
