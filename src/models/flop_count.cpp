#include "c2fmae/models/flop_count.h"

#include "c2fmae/core/modality.h"
#include "c2fmae/models/c2fmae_model.h"
#include "c2fmae/models/vit_presets.h"

namespace c2fmae::models {
namespace {

double block(double t, double d, double r) {
  return 2 * t * (4 * d * d + 2 * r * d * d) + 4 * t * t * d;
}

double cross_block(double t, double c, double d, double r) {
  return 2 * t * (2 * d * d + 2 * r * d * d) + 4 * c * d * d + 4 * t * c * d;
}

}  // namespace

StepFlops pretrain_flops(const config::ModelConfig& model, int64_t num_visible) {
  const auto shape = encoder_shape(model);
  const double big_d = static_cast<double>(shape.embed_dim), r = model.mlp_ratio;
  const double p = static_cast<double>(model.patch_size), q = p / kLabelDownsample;
  const double l = static_cast<double>(model.grid_size() * model.grid_size());
  const double v = static_cast<double>(num_visible);
  const double m = static_cast<double>(model.modalities.size());
  const double d = static_cast<double>(model.decoder_dim);
  StepFlops f;
  for (const auto mod : model.modalities) {
    switch (mod) {
      case Modality::kRgb:
        f.adapters += 2 * l * 3 * p * p * big_d;
        break;
      case Modality::kSemantic:
        f.adapters += 2 * l * q * q * static_cast<double>(model.semantic_embed_dim) * big_d;
        break;
      case Modality::kInstance:
        f.adapters += 2 * l * q * q * static_cast<double>(model.instance_slot_dim + 1) * big_d;
        break;
    }
  }
  f.encoder = static_cast<double>(shape.depth) * block(1 + v, big_d, r);
  const bool cascade = model.decoder_mode == config::DecoderMode::kCascade;
  for (size_t i = 0; i < model.modalities.size(); ++i) {
    const auto mod = model.modalities[i];
    const double out = static_cast<double>(head_output_dim(model, mod));
    const double context = 1 + v + (cascade && i > 0 ? 1 + l : 0);
    f.decoder += 2 * (1 + v) * big_d * d;
    f.decoder +=
        static_cast<double>(model.decoder_cross_blocks) * cross_block(1 + l, context, d, r);
    f.decoder += static_cast<double>(model.decoder_depth) * block(1 + l, d, r);
    f.decoder += 2 * ((m * l - v) / m) * d * out;
  }
  return f;
}

}  // namespace c2fmae::models
