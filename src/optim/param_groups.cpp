#include "c2fmae/optim/param_groups.h"

#include <torch/torch.h>

namespace c2fmae::optim {

bool exempt_from_weight_decay(const std::string& name, int64_t dim) {
  if (dim <= 1) return true;  // biases, LayerNorm weights
  auto ends_with = [&](const char* s) {
    const std::string suffix(s);
    return name.size() >= suffix.size() &&
           name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  for (const char* s :
       {"token", "pos_embed", "modality_embed", "class_embed.weight", "slot_embed.weight"}) {
    if (ends_with(s)) return true;
  }
  return false;
}

std::vector<ParamGroup> weight_decay_groups(
    const torch::OrderedDict<std::string, torch::Tensor>& named_parameters, double weight_decay) {
  ParamGroup decay{{}, {}, weight_decay}, exempt{{}, {}, 0.0};
  for (const auto& p : named_parameters) {
    if (!p.value().requires_grad()) continue;
    auto& g = exempt_from_weight_decay(p.key(), p.value().dim()) ? exempt : decay;
    g.names.push_back(p.key());
    g.params.push_back(p.value());
  }
  return {decay, exempt};
}

}  // namespace c2fmae::optim
