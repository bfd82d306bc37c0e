#include "c2fmae/models/vision_transformer.h"

#include <torch/torch.h>

#include "c2fmae/models/block.h"
#include "c2fmae/models/block_checkpoint.h"
#include "c2fmae/models/position_embedding.h"
#include "c2fmae/models/vit_presets.h"

namespace c2fmae::models {

VisionTransformerOptions VisionTransformerOptions::from_config(const config::ModelConfig& model) {
  const auto shape = encoder_shape(model);
  return VisionTransformerOptions(model.img_size, model.patch_size, shape.embed_dim, shape.depth,
                                  shape.num_heads)
      .mlp_ratio(model.mlp_ratio);
}

VisionTransformerImpl::VisionTransformerImpl(const VisionTransformerOptions& options_)
    : options(options_) {
  reset();
}

VisionTransformerImpl::VisionTransformerImpl(const config::ModelConfig& model)
    : VisionTransformerImpl(VisionTransformerOptions::from_config(model)) {}

void VisionTransformerImpl::reset() {
  const int64_t d = options.embed_dim(), p = options.patch_size();
  TORCH_CHECK(p > 0 && options.img_size() % p == 0, "VisionTransformer: img_size ",
              options.img_size(), " must be a multiple of the patch size ", p);
  // Registration order as timm's state dict: cls_token, pos_embed, patch_embed, blocks, norm.
  cls_token = register_parameter("cls_token", torch::zeros({1, 1, d}));
  auto positions = sincos_2d_embedding(d, grid(), /*cls_token=*/true).unsqueeze(0);
  pos_embed = options.learned_pos_embed() ? register_parameter("pos_embed", positions)
                                          : register_buffer("pos_embed", positions);
  patch_embed = register_module("patch_embed",
                                PatchEmbed(PatchEmbedOptions(p, d).in_chans(options.in_chans())));
  blocks = register_module("blocks", torch::nn::ModuleList());
  const int64_t depth = options.depth();
  for (int64_t i = 0; i < depth; ++i) {
    const double rate =
        depth > 1 ? options.drop_path_rate() * static_cast<double>(i) / (depth - 1) : 0.0;
    blocks->push_back(
        Block(BlockOptions(d, options.num_heads()).mlp_ratio(options.mlp_ratio()).drop_path(rate)));
  }
  if (options.final_norm()) norm = register_module("norm", LayerNorm(d));
}

torch::Tensor VisionTransformerImpl::patch_pos_embed() const {
  return pos_embed.narrow(1, 1, num_patches());
}

torch::Tensor VisionTransformerImpl::class_token() const {
  return cls_token + pos_embed.narrow(1, 0, 1);
}

torch::Tensor VisionTransformerImpl::patch_tokens(const torch::Tensor& rgb) {
  auto t = patch_embed(rgb);  // [B, L, D]
  TORCH_CHECK(t.size(1) == num_patches(), "VisionTransformer: the image gives ", t.size(1),
              " patches, but the model expects ", num_patches(), " (img_size ", options.img_size(),
              ", patch_size ", options.patch_size(), ")");
  return t + patch_pos_embed();
}

torch::Tensor VisionTransformerImpl::forward_blocks(const torch::Tensor& x) {
  auto y = x;
  for (const auto& block : *blocks) {
    auto* b = block->as<Block>();
    y = checkpoint_blocks_ ? checkpointed_block(*b, y) : b->forward(y);
  }
  return norm ? norm(y) : y;
}

torch::Tensor VisionTransformerImpl::forward_features(const torch::Tensor& rgb) {
  auto tokens = patch_tokens(rgb);
  const int64_t b = tokens.size(0), d = tokens.size(2);
  auto cls = class_token().expand({b, 1, d}).to(tokens.dtype());
  return forward_blocks(torch::cat({cls, tokens}, 1));
}

torch::Tensor VisionTransformerImpl::attention_affinity(const torch::Tensor& x) {
  auto y = x;
  torch::Tensor sum;
  for (const auto& block : *blocks) {
    auto [out, weights] = block->as<Block>()->forward_with_attention(y);
    y = out;
    auto w = weights.sum(1);  // over heads: [B, N, N]
    sum = sum.defined() ? sum + w : w;
  }
  const int64_t n = x.size(1);
  return sum.narrow(1, 1, n - 1).narrow(2, 1, n - 1).contiguous();
}

torch::OrderedDict<std::string, torch::Tensor> timm_state_dict(const VisionTransformerImpl& vit) {
  torch::OrderedDict<std::string, torch::Tensor> out;
  for (const auto& p : vit.named_parameters()) out.insert(p.key(), p.value().detach());
  for (const auto& b : vit.named_buffers()) out.insert(b.key(), b.value().detach());
  return out;
}

}  // namespace c2fmae::models
