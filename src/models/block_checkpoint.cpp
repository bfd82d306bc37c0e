#include "c2fmae/models/block_checkpoint.h"

#include <ATen/autocast_mode.h>
#include <torch/autograd.h>

#include <vector>

namespace c2fmae::models {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

/// The default generator of `device` (CPU, or the CUDA device of the tensors).
at::Generator generator_of(const torch::Device& device) {
  return device.is_cuda() ? at::globalContext().defaultGenerator(device)
                          : at::globalContext().defaultGenerator(torch::kCPU);
}

torch::Tensor rng_state(const torch::Device& device) {
  auto gen = generator_of(device);
  std::lock_guard<std::mutex> lock(gen.mutex());
  return gen.get_state();
}

void set_rng_state(const torch::Device& device, const torch::Tensor& state) {
  auto gen = generator_of(device);
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
}

// A block has twelve parameters (two LayerNorms, qkv, proj, fc1, fc2: weights and biases);
// each is an input of the function, so that its gradient flows through autograd as the
// plain block's does (gradient hooks, accumulation, data-parallel reducers).
constexpr size_t kBlockParameters = 12;

struct BlockRecompute : torch::autograd::Function<BlockRecompute> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, BlockImpl* block,
                               const torch::Tensor& /*p0*/, const torch::Tensor& /*p1*/,
                               const torch::Tensor& /*p2*/, const torch::Tensor& /*p3*/,
                               const torch::Tensor& /*p4*/, const torch::Tensor& /*p5*/,
                               const torch::Tensor& /*p6*/, const torch::Tensor& /*p7*/,
                               const torch::Tensor& /*p8*/, const torch::Tensor& /*p9*/,
                               const torch::Tensor& /*p10*/, const torch::Tensor& /*p11*/) {
    ctx->saved_data["block"] = reinterpret_cast<int64_t>(block);
    ctx->saved_data["cpu_rng"] = rng_state(torch::kCPU);
    if (x.is_cuda()) ctx->saved_data["device_rng"] = rng_state(x.device());
    ctx->saved_data["autocast"] = at::autocast::is_autocast_enabled(at::kCUDA);
    ctx->saved_data["autocast_dtype"] =
        static_cast<int64_t>(at::autocast::get_autocast_dtype(at::kCUDA));
    ctx->save_for_backward({x});
    return block->forward(x);  // autograd is off here: no activation is kept
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_output) {
    auto* block = reinterpret_cast<BlockImpl*>(ctx->saved_data["block"].toInt());
    const auto saved = ctx->get_saved_variables()[0];
    const auto device = saved.device();
    auto x = saved.detach().requires_grad_(saved.requires_grad());
    // The draws of the first run, then back to where the backward pass found the generators.
    const auto cpu_now = rng_state(torch::kCPU);
    const auto device_now = device.is_cuda() ? rng_state(device) : torch::Tensor();
    set_rng_state(torch::kCPU, ctx->saved_data["cpu_rng"].toTensor());
    if (device.is_cuda()) set_rng_state(device, ctx->saved_data["device_rng"].toTensor());
    const bool autocast_now = at::autocast::is_autocast_enabled(at::kCUDA);
    const auto dtype_now = at::autocast::get_autocast_dtype(at::kCUDA);
    at::autocast::set_autocast_enabled(at::kCUDA, ctx->saved_data["autocast"].toBool());
    at::autocast::set_autocast_dtype(
        at::kCUDA, static_cast<at::ScalarType>(ctx->saved_data["autocast_dtype"].toInt()));
    torch::Tensor y;
    {
      torch::AutoGradMode grad(true);
      y = block->forward(x);
    }
    at::autocast::set_autocast_enabled(at::kCUDA, autocast_now);
    at::autocast::set_autocast_dtype(at::kCUDA, dtype_now);
    set_rng_state(torch::kCPU, cpu_now);
    if (device.is_cuda()) set_rng_state(device, device_now);

    // Differentiate with respect to what requires a gradient; the rest gets none.
    const auto params = block->parameters();
    std::vector<torch::Tensor> wrt;
    std::vector<size_t> slot;  // output position of each of wrt
    if (x.requires_grad()) {
      wrt.push_back(x);
      slot.push_back(0);
    }
    for (size_t i = 0; i < params.size(); ++i) {
      if (params[i].requires_grad()) {
        wrt.push_back(params[i]);
        slot.push_back(i + 2);
      }
    }
    variable_list out(2 + kBlockParameters);
    if (wrt.empty() || !y.requires_grad()) return out;
    const auto grads = torch::autograd::grad({y}, wrt, {grad_output[0]}, /*retain_graph=*/false,
                                             /*create_graph=*/false, /*allow_unused=*/true);
    for (size_t i = 0; i < wrt.size(); ++i) out[slot[i]] = grads[i];
    return out;
  }
};

}  // namespace

torch::Tensor checkpointed_block(BlockImpl& block, const torch::Tensor& x) {
  if (!block.is_training() || !torch::GradMode::is_enabled()) return block.forward(x);
  const auto p = block.parameters();
  TORCH_CHECK(p.size() == kBlockParameters, "checkpointed_block: a block of ", p.size(),
              " parameters, expected ", kBlockParameters);
  return BlockRecompute::apply(x, &block, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8],
                               p[9], p[10], p[11]);
}

}  // namespace c2fmae::models
