// Layer-wise learning-rate decay for fine-tuning a ViT (BEiT, MAE's util/lr_decay.py
// param_groups_lrd): with N blocks, the patch embedding, class token and positions are layer
// 0, block i is layer i + 1 and everything after the blocks (fc_norm, head) is layer N + 1;
// layer j's learning rate is scaled by layer_decay^(N + 1 - j), so the head trains at the full
// rate and the embeddings at layer_decay^(N + 1). Weight decay as param_groups.h exempts.
#pragma once
#include <torch/ordered_dict.h>
#include <torch/types.h>

#include <string>
#include <vector>

#include "c2fmae/optim/param_groups.h"

namespace c2fmae::optim {

/// MAE's get_layer_id_for_vit for a parameter name, with or without a "backbone." prefix:
/// 0 for cls_token, pos_embed and patch_embed.*, i + 1 for blocks.i.*, num_blocks + 1 else.
int64_t vit_layer_id(const std::string& name, int64_t num_blocks);

/// Groups by (layer, decayed or exempt), each with lr_scale = layer_decay^(num_blocks + 1 -
/// layer), in order of first appearance; parameters that do not require gradients are left
/// out. layer_decay = 1 gives every group scale 1.
std::vector<ParamGroup> layer_decay_groups(
    const torch::OrderedDict<std::string, torch::Tensor>& named_parameters, double weight_decay,
    double layer_decay, int64_t num_blocks);

}  // namespace c2fmae::optim
