#include "c2fmae/optim/layer_decay.h"

#include <cmath>
#include <map>
#include <utility>

namespace c2fmae::optim {

int64_t vit_layer_id(const std::string& full_name, int64_t num_blocks) {
  const std::string prefix = "backbone.";
  const std::string name = full_name.compare(0, prefix.size(), prefix) == 0
                               ? full_name.substr(prefix.size())
                               : full_name;
  if (name == "cls_token" || name == "pos_embed" || name.compare(0, 12, "patch_embed.") == 0) {
    return 0;
  }
  if (name.compare(0, 7, "blocks.") == 0) {
    const auto end = name.find('.', 7);
    return std::stoll(name.substr(7, end - 7)) + 1;
  }
  return num_blocks + 1;
}

std::vector<ParamGroup> layer_decay_groups(
    const torch::OrderedDict<std::string, torch::Tensor>& named_parameters, double weight_decay,
    double layer_decay, int64_t num_blocks) {
  std::vector<ParamGroup> groups;
  std::map<std::pair<int64_t, bool>, size_t> index;  // (layer, exempt) -> group
  for (const auto& p : named_parameters) {
    if (!p.value().requires_grad()) continue;
    const int64_t layer = vit_layer_id(p.key(), num_blocks);
    const bool exempt = exempt_from_weight_decay(p.key(), p.value().dim());
    auto [it, added] = index.emplace(std::make_pair(layer, exempt), groups.size());
    if (added) {
      ParamGroup g;
      g.weight_decay = exempt ? 0.0 : weight_decay;
      g.lr_scale = std::pow(layer_decay, static_cast<double>(num_blocks + 1 - layer));
      groups.push_back(std::move(g));
    }
    auto& g = groups[it->second];
    g.names.push_back(p.key());
    g.params.push_back(p.value());
  }
  return groups;
}

}  // namespace c2fmae::optim
