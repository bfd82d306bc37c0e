// AdamW on parameter groups through ATen's fused kernel (at::_fused_adamw_, on CPU and
// CUDA alike, as torch.optim.AdamW(fused=True)). Gradients are reset to undefined rather
// than zeroed. State (exp_avg, exp_avg_sq, step per parameter) saves into checkpoints.
#pragma once
#include <torch/serialize/archive.h>
#include <torch/types.h>

#include <string>
#include <vector>

#include "c2fmae/config/sections.h"
#include "c2fmae/optim/param_groups.h"

namespace c2fmae::optim {

struct AdamWOptions {
  double beta1 = 0.9;
  double beta2 = 0.95;
  double eps = 1e-8;
};

class AdamW {
 public:
  AdamW(std::vector<ParamGroup> groups, AdamWOptions options);

  /// One update of every parameter that has a gradient, at learning rate `lr` times its
  /// group's lr_scale.
  void step(double lr);
  /// Resets every gradient to undefined.
  void zero_grad();

  /// Every parameter's state tensors (exp_avg, exp_avg_sq, step), a fresh state (zeros, what
  /// the first update would start from) where a parameter has none yet: what a data-parallel
  /// run broadcasts from rank 0 after a resume.
  std::vector<torch::Tensor> state_tensors();

  void save(torch::serialize::OutputArchive& archive) const;
  /// Restores state saved by save(); throws std::runtime_error on a mismatch.
  void load(torch::serialize::InputArchive& archive);

 private:
  struct State {
    torch::Tensor exp_avg, exp_avg_sq, step;
  };
  State& state_for(size_t group, size_t index);

  std::vector<ParamGroup> groups_;
  AdamWOptions options_;
  std::vector<std::vector<State>> state_;
};

/// AdamW over `named_parameters` with the optim section's betas, eps and weight decay (none
/// on the parameters param_groups.h exempts).
AdamW make_adamw(const torch::OrderedDict<std::string, torch::Tensor>& named_parameters,
                 const config::OptimConfig& optim);

}  // namespace c2fmae::optim
