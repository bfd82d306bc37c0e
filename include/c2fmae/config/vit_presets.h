// ViT encoder presets as named functions (timm / MAE naming: vit_base_patch16 ...).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace c2fmae::config {

struct VitPreset {
  int64_t embed_dim;
  int64_t depth;
  int64_t num_heads;
  int64_t patch_size;
};

inline VitPreset vit_tiny() { return {192, 12, 3, 16}; }
inline VitPreset vit_small() { return {384, 12, 6, 16}; }
inline VitPreset vit_base() { return {768, 12, 12, 16}; }
inline VitPreset vit_large() { return {1024, 24, 16, 16}; }
inline VitPreset vit_huge() { return {1280, 32, 16, 14}; }

inline const std::vector<std::string>& vit_preset_names() {
  static const std::vector<std::string> kNames = {"tiny", "small", "base", "large", "huge"};
  return kNames;
}

/// The preset called `name`; throws std::invalid_argument for an unknown name.
inline VitPreset vit_preset(const std::string& name) {
  if (name == "tiny") return vit_tiny();
  if (name == "small") return vit_small();
  if (name == "base") return vit_base();
  if (name == "large") return vit_large();
  if (name == "huge") return vit_huge();
  throw std::invalid_argument("unknown ViT preset '" + name +
                              "'; hint: use tiny, small, base, large or huge");
}

}  // namespace c2fmae::config
