// Which parameters get weight decay (MAE's param_groups_weight_decay): none on biases,
// norms and other 1-D parameters, nor on tokens and position / modality / class / slot
// embeddings.
#pragma once
#include <torch/ordered_dict.h>
#include <torch/types.h>

#include <string>
#include <vector>

namespace c2fmae::optim {

struct ParamGroup {
  std::vector<std::string> names;
  std::vector<torch::Tensor> params;
  double weight_decay = 0.0;
  /// The group's learning rate is the schedule's times this (layer-wise decay, layer_decay.h).
  double lr_scale = 1.0;
};

/// Whether the parameter called `name` with `dim` dimensions is exempt from weight decay.
bool exempt_from_weight_decay(const std::string& name, int64_t dim);

/// Two groups, {decayed with `weight_decay`, exempt with 0}, in parameter order; parameters
/// that do not require gradients are left out.
std::vector<ParamGroup> weight_decay_groups(
    const torch::OrderedDict<std::string, torch::Tensor>& named_parameters, double weight_decay);

}  // namespace c2fmae::optim
