#include "c2fmae/models/vit_presets.h"

#include <algorithm>
#include <stdexcept>

namespace c2fmae::models {
namespace {

struct NamedShape {
  const char* name;
  VitShape shape;
};

constexpr NamedShape kPresets[] = {{"tiny", {192, 12, 3}},
                                   {"small", {384, 12, 6}},
                                   {"base", {768, 12, 12}},
                                   {"large", {1024, 24, 16}},
                                   {"huge", {1280, 32, 16}}};

}  // namespace

const std::vector<std::string>& vit_preset_names() {
  static const std::vector<std::string> kNames = [] {
    std::vector<std::string> names;
    for (const auto& p : kPresets) names.emplace_back(p.name);
    return names;
  }();
  return kNames;
}

namespace {

/// "use tiny, small, base, large or huge", from the table.
std::string preset_hint() {
  std::string out = "use ";
  const auto& names = vit_preset_names();
  for (size_t i = 0; i < names.size(); ++i) {
    out += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
  }
  return out;
}

}  // namespace

VitShape vit_preset(const std::string& name) {
  for (const auto& p : kPresets) {
    if (name == p.name) return p.shape;
  }
  throw std::invalid_argument("unknown ViT preset '" + name + "'\nhint: " + preset_hint());
}

VitShape encoder_shape(const config::ModelConfig& model) {
  VitShape s = vit_preset(model.preset);
  if (model.embed_dim > 0) s.embed_dim = model.embed_dim;
  if (model.depth > 0) s.depth = model.depth;
  if (model.num_heads > 0) s.num_heads = model.num_heads;
  return s;
}

void check_model_config(const config::ModelConfig& model, config::Checker& c) {
  const auto& names = vit_preset_names();
  c.require(std::find(names.begin(), names.end(), model.preset) != names.end(), "model.preset",
            model.preset, "unknown preset", preset_hint());
  const VitShape e = encoder_shape(model);
  c.require(e.num_heads > 0 && e.embed_dim % e.num_heads == 0, "model.embed_dim", e.embed_dim,
            "not divisible by num_heads " + std::to_string(e.num_heads),
            "pick a width that is a multiple of the head count");
  c.require(e.embed_dim % 4 == 0, "model.embed_dim", e.embed_dim,
            "2-D sin-cos position embeddings need a multiple of 4", "use e.g. 192, 384, 768");
}

}  // namespace c2fmae::models
