// LayerNorm over the last dimension as one op, the place where a fused kernel plugs in.
//
// The default path is at::layer_norm (the CPU kernel, and cuDNN / ATen's kernel on GPU;
// under autocast it runs in float32 as torch.nn.functional.layer_norm does). DESIGN.md §5:
// most of torch.compile's gain over eager comes from fusing normalisation with its
// neighbours, so a fused CUDA kernel is expected here later. How one plugs in:
//
//  - its source goes to src/ops/ as a .cu file; the library compiles src/ops/*.cu only when
//    CMake is configured with -DC2FMAE_WITH_CUDA_OPS=ON, which also defines
//    C2FMAE_WITH_CUDA_OPS=1 for the library and everything linking it;
//  - layer_norm() dispatches on the device: under `#if C2FMAE_WITH_CUDA_OPS`, a CUDA input
//    the kernel supports (dtype, width, contiguity) goes to it; every other input, and every
//    build without the option, takes at::layer_norm, so CPU machines and CI need no CUDA;
//  - the kernel has to match this fallback's forward and backward (an autograd function
//    with its own backward), checked by a CUDA test against at::layer_norm that skips itself
//    when no GPU is present.
#pragma once
#include <torch/types.h>

namespace c2fmae::ops {

/// x: [..., D]; weight, bias: [D] (either may be undefined: no scale / no shift)
/// -> [..., D], each row normalised to zero mean and unit variance (biased, with eps),
/// then scaled and shifted. Same values and gradients as at::layer_norm(x, {D}, ...).
torch::Tensor layer_norm(const torch::Tensor& x, const torch::Tensor& weight,
                         const torch::Tensor& bias, double eps);

}  // namespace c2fmae::ops
