// ViT encoder presets (timm / MAE naming: vit_tiny ... vit_huge): width, depth and heads.
// The patch size is model.patch_size (16 by default; MAE's ViT-H uses 14).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "c2fmae/config/config.h"

namespace c2fmae::models {

struct VitShape {
  int64_t embed_dim;
  int64_t depth;
  int64_t num_heads;
};

/// tiny, small, base, large, huge.
const std::vector<std::string>& vit_preset_names();
/// The preset called `name`; throws std::invalid_argument for an unknown name.
VitShape vit_preset(const std::string& name);
/// The encoder of `model`: its preset, with the fields set to a non-zero value overriding it.
VitShape encoder_shape(const config::ModelConfig& model);
/// The model section's rules that need the presets: a known preset name and an encoder
/// shape the blocks and the 2-D sin-cos position embedding accept.
void check_model_config(const config::ModelConfig& model, config::Checker& c);

}  // namespace c2fmae::models
