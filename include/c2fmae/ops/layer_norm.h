// LayerNorm over the last dimension as one op, the place where a fused kernel would plug in.
//
// It is at::layer_norm (the CPU kernel, and cuDNN / ATen's kernel on GPU; under autocast it
// runs in float32 as torch.nn.functional.layer_norm does). DESIGN.md §5: most of
// torch.compile's gain over eager comes from fusing normalisation with its neighbours, so a
// fused CUDA kernel may come here later: layer_norm() would send the CUDA inputs it supports
// to it and every other input to at::layer_norm, and the kernel would have to match
// at::layer_norm's forward and backward. There is no such kernel, and no CUDA build option.
#pragma once
#include <torch/types.h>

namespace c2fmae::ops {

/// x: [..., D]; weight, bias: [D] (either may be undefined: no scale / no shift)
/// -> [..., D], each row normalised to zero mean and unit variance (biased, with eps),
/// then scaled and shifted. Same values and gradients as at::layer_norm(x, {D}, ...).
torch::Tensor layer_norm(const torch::Tensor& x, const torch::Tensor& weight,
                         const torch::Tensor& bias, double eps);

}  // namespace c2fmae::ops
