#include "c2fmae/models/memory_estimate.h"

#include <algorithm>

#include "c2fmae/core/modality.h"
#include "c2fmae/models/c2fmae_model.h"
#include "c2fmae/models/vit_presets.h"

namespace c2fmae::models {
namespace {

// Trainable values of a block of width d (LayerNorms, qkv, proj, MLP) and of a cross block
// (two more LayerNorm weights and biases, q and kv instead of qkv).
double block_parameters(double d, double r) { return (4 + 2 * r) * d * d + (9 + r) * d; }
double cross_block_parameters(double d, double r) { return (4 + 2 * r) * d * d + (12 + r) * d; }

// Values kept for backward by a block on t tokens of width d (the header's rule).
double block_values(double t, double d, double r) { return (11 + 2 * r) * t * d; }

}  // namespace

// The encoder's blocks: all their activations, or (checkpointed) each block's input and one
// block's activations in the backward pass.
static double encoder_values(double depth, double t, double d, double r, bool checkpointed) {
  return checkpointed ? depth * t * d + block_values(t, d, r) : depth * block_values(t, d, r);
}

ModelMemory pretrain_memory(const config::ModelConfig& model, int64_t num_visible,
                            double value_bytes, bool checkpointed) {
  const auto shape = encoder_shape(model);
  const double big_d = static_cast<double>(shape.embed_dim), r = model.mlp_ratio;
  const double p = static_cast<double>(model.patch_size), q = p / kLabelDownsample;
  const double l = static_cast<double>(model.grid_size() * model.grid_size());
  const double pixels = static_cast<double>(model.img_size) * static_cast<double>(model.img_size);
  const double label_pixels = pixels / (kLabelDownsample * kLabelDownsample);
  const double v = static_cast<double>(num_visible);
  const double m = static_cast<double>(model.modalities.size());
  const double d = static_cast<double>(model.decoder_dim);
  double params = static_cast<double>(shape.depth) * block_parameters(big_d, r) + 3 * big_d +
                  m * big_d;  // blocks, class token, final norm, modality embeddings
  double values = encoder_values(static_cast<double>(shape.depth), 1 + v, big_d, r, checkpointed);
  for (const auto mod : model.modalities) {
    switch (mod) {
      case Modality::kRgb:
        params += 3 * p * p * big_d + big_d;
        values += 3 * pixels + l * big_d;
        break;
      case Modality::kSemantic: {
        const double e = static_cast<double>(model.semantic_embed_dim);
        params +=
            static_cast<double>(model.num_semantic_classes + 1) * e + q * q * e * big_d + big_d;
        values += 2 * label_pixels * e + l * big_d;  // the embedding, permuted copy
        break;
      }
      case Modality::kInstance: {
        const double e = static_cast<double>(model.instance_slot_dim);
        params +=
            static_cast<double>(model.instance_slots + 1) * e + q * q * (e + 1) * big_d + big_d;
        values += 2 * label_pixels * (e + 1) + l * big_d;
        break;
      }
    }
  }
  const bool cascade = model.decoder_mode == config::DecoderMode::kCascade;
  const double cross = static_cast<double>(model.decoder_cross_blocks);
  for (size_t i = 0; i < model.modalities.size(); ++i) {
    const auto mod = model.modalities[i];
    const double out = static_cast<double>(head_output_dim(model, mod));
    const double queries = 1 + l;
    const double context = 1 + v + (cascade && i > 0 ? 1 + l : 0);
    params += big_d * d + d + d + 2 * d + d * out + out;  // embed, mask token, norm, head
    if (cross > 0) params += m * d + d + cross * cross_block_parameters(d, r);
    params += static_cast<double>(model.decoder_depth) * block_parameters(d, r);
    values += (1 + v) * (big_d + d) + queries * d;  // embedded tokens, the filled sequence
    values += cross * (block_values(queries, d, r) + 2 * context * d);
    values += static_cast<double>(model.decoder_depth) * block_values(queries, d, r);
    const double masked = std::max(0.0, (m * l - v) / m);
    values += masked * (2 * d + 2 * out);  // gathered rows, the head's output and its loss
    if (mod == Modality::kInstance) {
      // The instance loss's push term: the differences of every pair of cluster means,
      // [K + 1, K + 1, E], their norms and the hinge (losses/instance_loss.h).
      const double k1 = static_cast<double>(model.instance_slots + 1);
      values += 3 * k1 * k1 * static_cast<double>(model.instance_head_dim);
    }
  }
  ModelMemory out;
  out.parameters = static_cast<int64_t>(params);
  out.trained = out.parameters;
  out.activations_per_sample = values * value_bytes;
  return out;
}

ModelMemory classifier_memory(const config::ClassifierConfig& model, int64_t num_classes,
                              bool trains_encoder, double value_bytes, bool checkpointed) {
  const auto encoder = model.encoder();
  const auto shape = encoder_shape(encoder);
  const double big_d = static_cast<double>(shape.embed_dim), r = model.mlp_ratio;
  const double p = static_cast<double>(model.patch_size);
  const double l = static_cast<double>(encoder.grid_size() * encoder.grid_size());
  const double pixels = static_cast<double>(model.img_size) * static_cast<double>(model.img_size);
  const double c = static_cast<double>(num_classes);
  ModelMemory out;
  out.parameters = static_cast<int64_t>(
      static_cast<double>(shape.depth) * block_parameters(big_d, r) + 3 * p * p * big_d +
      (1 + l) * big_d + 4 * big_d + 2 * big_d + big_d * c + c);  // learned positions
  // A frozen encoder (linear probing, evaluation): only the head (and its BatchNorm) trains.
  out.trained = trains_encoder ? out.parameters : static_cast<int64_t>(big_d * c + c + 2 * big_d);
  const double block = block_values(1 + l, big_d, r);
  const double values = trains_encoder
                            ? 3 * pixels +
                                  encoder_values(static_cast<double>(shape.depth), 1 + l, big_d, r,
                                                 checkpointed) +
                                  2 * c
                            : 3 * pixels + block + 2 * c;  // no graph: one block's working set
  out.activations_per_sample = values * value_bytes;
  return out;
}

}  // namespace c2fmae::models
