#include "c2fmae/models/c2fmae_model.h"

#include <torch/torch.h>

#include <algorithm>

#include "c2fmae/core/mask.h"
#include "c2fmae/core/patchify.h"
#include "c2fmae/models/vit_presets.h"

namespace c2fmae::models {

C2fmaeImpl::C2fmaeImpl(const config::ModelConfig& config_) : config(config_) { reset(); }

void C2fmaeImpl::reset() {
  modalities_ = config.modalities;
  const int64_t d = encoder_shape(config).embed_dim, p = config.patch_size;
  backbone = register_module("backbone", VisionTransformer(config));  // checks img_size
  const int64_t grid = backbone->grid();
  std::vector<DecoderStageOptions> stages;
  for (auto m : modalities_) {
    if (m == Modality::kSemantic) {
      semantic_adapter =
          register_module("semantic_adapter",
                          SemanticAdapter(SemanticAdapterOptions(config.num_semantic_classes, p, d)
                                              .class_dim(config.semantic_embed_dim)));
    } else if (m == Modality::kInstance) {
      instance_adapter = register_module("instance_adapter",
                                         InstanceAdapter(InstanceAdapterOptions(p, d)
                                                             .num_slots(config.instance_slots)
                                                             .slot_dim(config.instance_slot_dim)));
    }
    const bool cascade = config.decoder_mode == config::DecoderMode::kCascade;
    stages.push_back(DecoderStageOptions(d, config.decoder_dim, grid, output_dim(m))
                         .depth(config.decoder_depth)
                         .cross_blocks(config.decoder_cross_blocks)
                         .num_heads(config.decoder_heads)
                         .mlp_ratio(config.mlp_ratio)
                         .num_modalities(static_cast<int64_t>(modalities_.size()))
                         .has_previous(cascade && !stages.empty())
                         .cross_residual(config.decoder_cross_residual)
                         .final_norm(config.decoder_final_norm)
                         .fp32(m == Modality::kSemantic && config.decoder_fp32_semantic));
  }
  modality_embed = register_parameter("modality_embed",
                                      torch::zeros({static_cast<int64_t>(modalities_.size()), d}));
  decoder =
      register_module("decoder", CascadeDecoder(CascadeDecoderOptions().stages(stages).cascade(
                                     config.decoder_mode == config::DecoderMode::kCascade)));
  init_mae_weights(*this);
}

int64_t head_output_dim(const config::ModelConfig& model, Modality m) {
  const int64_t p = model.patch_size, q = p / kLabelDownsample;
  switch (m) {
    case Modality::kSemantic:
      return model.num_semantic_classes * q * q;
    case Modality::kInstance:
      return model.instance_head_dim * q * q;
    case Modality::kRgb:
      return p * p * 3;
  }
  return 0;
}

int64_t C2fmaeImpl::output_dim(Modality m) const { return head_output_dim(config, m); }

torch::Tensor C2fmaeImpl::embed_tokens(const Batch& batch) {
  // Every modality's tokens take the backbone's patch positions (the RGB ones inside
  // patch_tokens), then their modality embedding: the same sums in the same order for all.
  const auto positions = backbone->patch_pos_embed();  // [1, L, D]
  std::vector<torch::Tensor> tokens;
  for (size_t i = 0; i < modalities_.size(); ++i) {
    torch::Tensor t;
    switch (modalities_[i]) {
      case Modality::kSemantic:
        TORCH_CHECK(batch.semantic.defined(),
                    "C2fmae: semantic is enabled but the batch has no "
                    "semantic map");
        t = semantic_adapter(label_resolution(batch.semantic, config.img_size));
        break;
      case Modality::kInstance:
        TORCH_CHECK(batch.instance.defined(),
                    "C2fmae: instance is enabled but the batch has no "
                    "instance map");
        t = instance_adapter(label_resolution(batch.instance, config.img_size), batch.slot_order);
        break;
      case Modality::kRgb:
        TORCH_CHECK(batch.rgb.defined(), "C2fmae: rgb is enabled but the batch has no image");
        t = backbone->patch_tokens(batch.rgb);  // positions added
        break;
    }
    TORCH_CHECK(t.size(1) == num_patches(), "C2fmae: input gives ", t.size(1),
                " patches, but the model expects ", num_patches(), " (img_size ", config.img_size,
                ")");
    if (modalities_[i] != Modality::kRgb) t = t + positions;
    tokens.push_back(t + modality_embed[static_cast<int64_t>(i)]);
  }
  return torch::cat(tokens, 1);
}

torch::Tensor C2fmaeImpl::encode(const Batch& batch, const torch::Tensor& visible) {
  auto tokens = embed_tokens(batch);  // [B, M * L, D]
  const int64_t b = tokens.size(0), d = tokens.size(2);
  auto kept = tokens.gather(1, visible.unsqueeze(-1).expand({b, visible.size(1), d}));
  // The global token is the backbone's class token (its position is zero, as in MAE).
  auto x = torch::cat({backbone->class_token().expand({b, 1, d}).to(kept.dtype()), kept}, 1);
  return backbone->forward_blocks(x);
}

torch::Tensor C2fmaeImpl::encode_rgb(const torch::Tensor& rgb) {
  const auto it = std::find(modalities_.begin(), modalities_.end(), Modality::kRgb);
  TORCH_CHECK(it != modalities_.end(), "C2fmae::encode_rgb: rgb is not enabled");
  auto tokens = backbone->patch_tokens(rgb) + modality_embed[it - modalities_.begin()];
  const int64_t b = tokens.size(0), d = tokens.size(2);
  auto x = torch::cat({backbone->class_token().expand({b, 1, d}).to(tokens.dtype()), tokens}, 1);
  return backbone->forward_blocks(x);
}

ModelOutput C2fmaeImpl::forward(const Batch& batch, bool all_tokens) {
  TORCH_CHECK(batch.mask.defined(),
              "C2fmae: the batch has no mask\nhint: run a mask generator "
              "(masking/) before the model");
  const auto m = static_cast<int64_t>(modalities_.size());
  TORCH_CHECK(
      batch.mask.dim() == 3 && batch.mask.size(1) == m && batch.mask.size(2) == num_patches(),
      "C2fmae: expected mask [B, ", m, ", ", num_patches(), "], but got ", batch.mask.sizes());
  const auto device = batch.mask.device();
  ModelOutput out;
  out.visible =
      batch.visible.defined() ? batch.visible : visible_token_indices(batch.mask).to(device);
  const int64_t b = batch.mask.size(0);
  for (int64_t i = 0; i < m; ++i) {
    if (all_tokens) {
      out.rows.push_back(torch::arange(b * num_patches(), out.visible.options()));
    } else if (static_cast<int64_t>(batch.masked.size()) == m) {
      out.rows.push_back(batch.masked[i]);
    } else {
      out.rows.push_back(masked_rows(batch.mask, i).to(device));
    }
  }
  out.encoded = encode(batch, out.visible);
  out.predictions = decoder(out.encoded, out.visible, out.rows);
  return out;
}

void init_mae_weights(torch::nn::Module& module) {
  // Refuse before changing anything, so a refused module is left as it was.
  for (const auto& item : module.named_modules("", /*include_self=*/false)) {
    TORCH_CHECK(item.value()->as<torch::nn::LayerNorm>() == nullptr,
                "init_mae_weights: ", item.key(),
                " is a torch::nn::LayerNorm, which it does not initialise\nhint: use "
                "models::LayerNorm (models/layer_norm.h) for every norm of the model");
  }
  torch::NoGradGuard no_grad;
  for (auto& item : module.named_modules("", /*include_self=*/false)) {
    auto& m = *item.value();
    if (auto* linear = m.as<torch::nn::Linear>()) {
      torch::nn::init::xavier_uniform_(linear->weight);
      if (linear->bias.defined()) linear->bias.zero_();
    } else if (auto* conv = m.as<torch::nn::Conv2d>()) {
      // MAE: xavier on the weight viewed as a [out, in * k * k] matrix. The bias is zeroed
      // as for the linear layers (ours: MAE leaves PyTorch's default uniform init there).
      auto w = conv->weight.view({conv->weight.size(0), -1});
      torch::nn::init::xavier_uniform_(w);
      if (conv->bias.defined()) conv->bias.zero_();
    } else if (auto* norm = m.as<LayerNorm>()) {
      norm->reset_parameters();
    } else if (auto* emb = m.as<torch::nn::Embedding>()) {
      emb->weight.normal_(0.0, 0.02);
    }
  }
  for (auto& p : module.named_parameters()) {
    const auto& name = p.key();
    auto ends_with = [&](const std::string& s) {
      return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
    };
    if (ends_with("mask_token") || ends_with("cls_token") || ends_with("modality_embed") ||
        ends_with("context_embed") || ends_with("previous_embed")) {
      p.value().normal_(0.0, 0.02);
    }
  }
}

torch::OrderedDict<std::string, torch::Tensor> timm_state_dict(const C2fmaeImpl& model) {
  return timm_state_dict(*model.backbone);
}

}  // namespace c2fmae::models
