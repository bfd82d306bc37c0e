// Per-section validation rules. Each rule names the key, the value and the fix. Every
// number has a range, stated once in its require_range call: generous, but finite, so that a
// hostile or mistyped value (depth 100000, mlp_ratio 1e308, 3e9 samples) is a config error
// naming the key rather than a LibTorch exception or an absurd allocation later on. Choice
// keys need no rule for their names: an unknown one is refused when read (config/choice.h).
#include "c2fmae/config/sections.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "c2fmae/config/config.h"
#include "c2fmae/core/number_text.h"

namespace c2fmae::config {
namespace {

// Limits shared by several keys.
constexpr int64_t kMaxWidth = 65536;          // embed_dim, decoder_dim
constexpr int64_t kMaxPixelWidth = 4096;      // per-pixel widths, multiplied by pixels per patch
constexpr int64_t kMaxDepth = 256;            // blocks of any stack
constexpr int64_t kMaxHeads = 1024;           // attention heads
constexpr int64_t kMaxImgSize = 4096;         // pixels per side
constexpr int64_t kMaxSteps = 1000000000000;  // step counts and intervals (int64 step math)
constexpr double kMaxLossWeight = 1000.0;     // loss.weight_*, keyframe weight_* and friends
constexpr double kMaxLr = 10.0;               // blr, lr, min_lr

template <class T>
struct Same {
  using type = T;
};

std::string range_text(int64_t v) { return std::to_string(v); }
std::string range_text(double v) { return shortest_text(v); }

/// Throws for `key` unless lo <= value <= hi (NaN fails too): "must be in [lo, hi]".
template <class T>
void require_range(Checker& c, const std::string& key, T value, typename Same<T>::type lo,
                   typename Same<T>::type hi, const std::string& hint) {
  c.require(value >= lo && value <= hi, key, value,
            "must be in [" + range_text(lo) + ", " + range_text(hi) + "]", hint);
}

}  // namespace

bool ModelConfig::has(Modality m) const {
  return std::find(modalities.begin(), modalities.end(), m) != modalities.end();
}

void ModelConfig::validate(Checker& c) const {
  // The preset's name and the encoder's shape are the models area's rules
  // (models::check_model_config); these need no preset.
  c.require(!preset.empty(), "model.preset", "\"\"", "must name a preset",
            "use tiny, small, base, large or huge");
  require_range(c, "model.patch_size", patch_size, 1, 1024, "ViT: 16 (MAE's ViT-H: 14)");
  require_range(c, "model.img_size", img_size, 1, kMaxImgSize, "ImageNet: 224");
  c.require(img_size % patch_size == 0, "model.img_size", img_size,
            "must be a positive multiple of the patch size " + std::to_string(patch_size),
            "use e.g. 224 with patch 16 or 224 with patch 14");
  require_range(c, "model.embed_dim", embed_dim, 0, kMaxWidth, "0 takes the preset's; ViT-B: 768");
  require_range(c, "model.depth", depth, 0, kMaxDepth, "0 takes the preset's; ViT-B: 12");
  require_range(c, "model.num_heads", num_heads, 0, kMaxHeads, "0 takes the preset's; ViT-B: 12");
  require_range(c, "model.mlp_ratio", mlp_ratio, 0.05, 64.0, "MAE uses 4.0");
  c.require(!modalities.empty(), "model.modalities", "[]", "no modality enabled",
            "enable at least one of semantic, instance, rgb");
  const bool mask_inputs = has(Modality::kSemantic) || has(Modality::kInstance);
  c.require(!mask_inputs || patch_fits_label_maps(patch_size), "model.patch_size", patch_size,
            "the model reads semantic or instance inputs, and " + label_patch_rule(),
            "use patch 16, or only rgb");
  require_range(c, "model.num_semantic_classes", num_semantic_classes, 1, 254,
                "COCO panoptic: 133 (label 255 marks ignored pixels)");
  require_range(c, "model.semantic_embed_dim", semantic_embed_dim, 1, kMaxPixelWidth,
                "MultiMAE: 64");
  require_range(c, "model.instance_slots", instance_slots, 1, kMaxCanonicalInstances,
                "use more slots than instances per image, e.g. 64 (ids are kept in 8 bits)");
  require_range(c, "model.instance_slot_dim", instance_slot_dim, 1, kMaxPixelWidth, "e.g. 64");
  require_range(c, "model.instance_head_dim", instance_head_dim, 1, kMaxPixelWidth, "e.g. 8");
  require_range(c, "model.decoder_dim", decoder_dim, 4, kMaxWidth, "MultiMAE: 256; MAE: 512");
  require_range(c, "model.decoder_heads", decoder_heads, 1, kMaxHeads,
                "MultiMAE: 8 heads; MAE: 16 heads");
  c.require(decoder_dim % decoder_heads == 0, "model.decoder_heads", decoder_heads,
            "must divide decoder_dim " + std::to_string(decoder_dim),
            "MultiMAE: 256 with 8 heads; MAE: 512 with 16 heads");
  c.require(decoder_dim % 4 == 0, "model.decoder_dim", decoder_dim,
            "2-D sin-cos position embeddings need a multiple of 4", "use e.g. 256 or 512");
  require_range(c, "model.decoder_depth", decoder_depth, 0, kMaxDepth, "MultiMAE: 2, MAE: 8");
  require_range(c, "model.decoder_cross_blocks", decoder_cross_blocks, 0, kMaxDepth,
                "MultiMAE: 1; MAE: 0");
  c.require(decoder_depth + decoder_cross_blocks > 0, "model.decoder_depth", decoder_depth,
            "a decoder stage needs at least one block", "set decoder_depth >= 1");
  // Without cross-attention no stage reads another's tokens: a cascade would silently be
  // the parallel decoder.
  c.require(decoder_mode != DecoderMode::kCascade || decoder_cross_blocks > 0,
            "model.decoder_cross_blocks", decoder_cross_blocks,
            "decoder_mode cascade passes each stage's tokens through cross-attention and needs "
            "at least one cross-attention block",
            "set model.decoder_cross_blocks >= 1, or model.decoder_mode: parallel (MAE)");
}

void MaskingConfig::validate(Checker& c) const {
  // The upper bound of num_visible is the token count, a rule across sections
  // (PretrainConfig::validate).
  c.require(num_visible > 0, "masking.num_visible", num_visible, "must be > 0",
            "MultiMAE: 98, MAE: 49");
  // Below ~0.01 the Dirichlet's gamma draws underflow to all-zero splits.
  require_range(c, "masking.dirichlet_alpha", dirichlet_alpha, 0.01, 1000.0, "MultiMAE: 1.0");
  require_range(c, "masking.rgb_only_prob", rgb_only_prob, 0.0, 1.0, "MultiMAE: 0");
  require_range(c, "masking.semantic_hide_ratio", semantic_hide_ratio, 0.0, 1.0, "e.g. 0.5");
  require_range(c, "masking.instance_hide_ratio", instance_hide_ratio, 0.0, 1.0, "e.g. 0.5");
  c.require(guided_max_region_share > 0.0 && guided_max_region_share <= 1.0,
            "masking.guided_max_region_share", guided_max_region_share, "must be in (0, 1]",
            "e.g. 0.5: at most half of an image's regions hidden whole");
  c.require(semmae_num_parts >= 1 && semmae_num_parts <= 4096, "masking.semmae_num_parts",
            semmae_num_parts, "must be in [1, 4096]", "SemMAE: 7");
  c.require(evolved_parts_start >= 1 && evolved_parts_start <= 4096, "masking.evolved_parts_start",
            evolved_parts_start, "must be in [1, 4096]", "EPM: 40");
  c.require(evolved_parts_end >= 1 && evolved_parts_end <= 4096, "masking.evolved_parts_end",
            evolved_parts_end, "must be in [1, 4096]", "EPM: 10");
  require_range(c, "masking.evolved_alpha_power", evolved_alpha_power, 0.0, 100.0, "EPM: 0.5");
  c.require(evolved_grid_cell >= 1 && evolved_grid_cell <= 64, "masking.evolved_grid_cell",
            evolved_grid_cell, "must be in [1, 64]", "EPM: 2");
  c.require(affinity_ema_decay >= 0.0 && affinity_ema_decay < 1.0, "masking.affinity_ema_decay",
            affinity_ema_decay, "must be in [0, 1)", "EPM: 0.99996");
  c.require(block_min_patches >= 1, "masking.block_min_patches", block_min_patches, "must be >= 1",
            "BEiT: 16");
  c.require(block_max_patches == 0 || block_max_patches >= block_min_patches,
            "masking.block_max_patches", block_max_patches,
            "must be 0 (no cap) or >= masking.block_min_patches", "BEiT: 0 (no cap)");
  // Below 0.01 a block is a line of 100 patches or more: no grid has room for the shapes.
  require_range(c, "masking.block_min_aspect", block_min_aspect, 0.01, 1.0, "BEiT: 0.3");
}

void CurriculumConfig::validate(Checker& c) const {
  c.require(!keyframes.empty(), "curriculum.keyframes", "[]", "needs at least one keyframe",
            "e.g. [{at: 0, random: 1}]");
  for (size_t i = 0; i < keyframes.size(); ++i) {
    const auto& k = keyframes[i];
    const std::string key = "curriculum.keyframes[" + std::to_string(i) + "]";
    require_range(c, key + ".at", k.at, 0.0, 1.0, "progress is step / total steps");
    c.require(i == 0 || k.at > keyframes[i - 1].at, key + ".at", k.at,
              "keyframes must have strictly increasing 'at'", "sort the keyframes by 'at'");
    for (const auto& [name, w] : k.generators) {
      // Shares, normalised per keyframe; the bound keeps their sum finite.
      require_range(c, key + "." + name, w, 0.0, 1e6,
                    "use weights such as semantic: 0.7, random: 0.3");
    }
    c.require(k.total_weight() > 0, key, "(weights)", "all generator weights are 0",
              "give at least one generator a positive weight, e.g. random: 1");
    c.require(k.loss_weights.size() == keyframes[0].loss_weights.size(), key, "(loss weights)",
              "either every keyframe moves the same loss weights or none does",
              "give each keyframe the same weight_* keys");
    for (const auto& [m, w] : k.loss_weights) {
      c.require(!std::isnan(keyframes[0].loss_weight(m)), key + "." + loss_weight_key(m), w,
                "the first keyframe does not move this loss weight",
                "give each keyframe the same weight_* keys");
      require_range(c, key + "." + loss_weight_key(m), w, 0.0, kMaxLossWeight,
                    "use e.g. weight_rgb: 1.0");
    }
  }
}

void LossConfig::validate(Checker& c) const {
  require_range(c, "loss.weight_semantic", weight_semantic, 0.0, kMaxLossWeight, "e.g. 1.0");
  require_range(c, "loss.weight_instance", weight_instance, 0.0, kMaxLossWeight, "e.g. 1.0");
  require_range(c, "loss.weight_rgb", weight_rgb, 0.0, kMaxLossWeight, "e.g. 1.0");
  require_range(c, "loss.instance_delta_pull", instance_delta_pull, 0.0, 100.0,
                "De Brabandere et al.: 0.5");
  require_range(c, "loss.instance_delta_push", instance_delta_push, 0.0, 100.0,
                "De Brabandere et al.: 1.5");
  c.require(instance_delta_push > instance_delta_pull, "loss.instance_delta_push",
            instance_delta_push,
            "the push margin must exceed the pull margin loss.instance_delta_pull = " +
                shortest_text(instance_delta_pull),
            "De Brabandere et al.: pull 0.5, push 1.5");
  require_range(c, "loss.instance_weight_reg", instance_weight_reg, 0.0, kMaxLossWeight,
                "e.g. 0.001");
}

void DataConfig::validate(Checker& c) const {
  // What a source reads from data.root is the data area's (data/dataset_registry.h); here
  // only whether it reads one.
  const bool files = source != DataSource::kSynthetic;
  c.require(!files || !root.empty(), "data.source", source,
            "reads its samples from data.root, which is not set",
            "set data.root to the dataset folder (folder: the one that holds <split>/; shards: "
            "<split>.index)");
  c.require(files || root.empty(), "data.root", root,
            "is read by the folder and shards sources, not by " + source.name(),
            "leave data.root unset with data.source = " + source.name());
  c.require(!split.empty() && split.find('/') == std::string::npos && split != "." && split != "..",
            "data.split", split, "must be a folder or shard-set name (no '/', not . or ..)",
            "e.g. train");
  require_range(c, "data.max_bad_fraction", max_bad_fraction, 0.0, 1.0,
                "e.g. 0.01; 0 stops at the first bad sample");
  require_range(c, "data.batch_size", batch_size, 1, 65536, "MAE: 256 per GPU");
  require_range(c, "data.num_workers", num_workers, 0, 1024, "e.g. 8");
  require_range(c, "data.prefetch", prefetch, 1, 64, "e.g. 2");
  require_range(c, "data.synthetic_samples", synthetic_samples, 1,
                int64_t{std::numeric_limits<int32_t>::max()}, "ImageNet-1k: 1281167");
  c.require(crop_scale_min > 0 && crop_scale_min <= crop_scale_max && crop_scale_max <= 1,
            "data.crop_scale_min", crop_scale_min, "need 0 < crop_scale_min <= crop_scale_max <= 1",
            "MAE: 0.2 and 1.0");
  require_range(c, "data.hflip", hflip, 0.0, 1.0, "a probability, e.g. 0.5");
}

void OptimConfig::validate(Checker& c) const {
  require_range(c, "optim.blr", blr, 0.0, kMaxLr, "MAE: 1.5e-4");
  require_range(c, "optim.lr", lr, 0.0, kMaxLr, "0 derives it from blr");
  c.require(blr > 0 || lr > 0, "optim.blr", blr, "needs blr > 0 or lr > 0", "MAE: blr 1.5e-4");
  require_range(c, "optim.min_lr", min_lr, 0.0, kMaxLr, "e.g. 0");
  require_range(c, "optim.weight_decay", weight_decay, 0.0, 10.0, "MAE: 0.05");
  c.require(beta1 >= 0 && beta1 < 1, "optim.beta1", beta1, "must be in [0, 1)", "MAE: 0.9");
  c.require(beta2 >= 0 && beta2 < 1, "optim.beta2", beta2, "must be in [0, 1)", "MAE: 0.95");
  // Smaller than ~1e-38 it is 0 in fp32 and 0/0 turns a silent parameter into NaN.
  require_range(c, "optim.eps", eps, 1e-30, 1.0, "AdamW: 1e-8");
  // At most train.epochs: a rule across sections (PretrainConfig::validate).
  require_range(c, "optim.warmup_epochs", warmup_epochs, 0.0, 100000.0, "MAE: 40");
  require_range(c, "optim.clip_grad", clip_grad, 0.0, 1e6, "0 turns clipping off; e.g. 3.0");
  require_range(c, "optim.accum_steps", accum_steps, 1, 65536, "1 = none");
}

void check_schedule(Checker& c, const OptimConfig& optim, const TrainConfig& train,
                    const std::string& warmup_example, const std::string& min_lr_example) {
  c.require(optim.warmup_epochs <= static_cast<double>(train.epochs), "optim.warmup_epochs",
            optim.warmup_epochs,
            "longer than the run's train.epochs = " + std::to_string(train.epochs),
            "the warm-up is part of the run: lower optim.warmup_epochs (" + warmup_example + ")");
  c.require(optim.lr == 0.0 || optim.min_lr <= optim.lr, "optim.min_lr", optim.min_lr,
            "above optim.lr = " + shortest_text(optim.lr) + ", so the cosine decay would climb",
            "set optim.min_lr below optim.lr, e.g. " + min_lr_example);
}

void TrainConfig::validate(Checker& c) const {
  require_range(c, "train.epochs", epochs, 1, 100000, "MAE: 400, 800 or 1600");
  c.require(seed >= 0, "train.seed", seed, "must be >= 0", "e.g. 0");
  c.require(!output_dir.empty(), "train.output_dir", "\"\"", "must not be empty",
            "e.g. runs/c2fmae_vit_base");
  require_range(c, "train.checkpoint_every", checkpoint_every, 1, kMaxSteps, "e.g. 1000");
  require_range(c, "train.eval_every", eval_every, 0, 100000, "1 (every epoch) or 0 (at the end)");
  require_range(c, "train.keep_last", keep_last, 1, 1000, "e.g. 3");
  require_range(c, "train.max_nonfinite", max_nonfinite, 1, 1000000, "e.g. 10");
  require_range(c, "train.max_steps", max_steps, 0, kMaxSteps, "0 runs to the end");
}

ModelConfig ClassifierConfig::encoder() const {
  ModelConfig m;
  m.preset = preset;
  m.img_size = img_size;
  m.patch_size = patch_size;
  m.embed_dim = embed_dim;
  m.depth = depth;
  m.num_heads = num_heads;
  m.mlp_ratio = mlp_ratio;
  m.modalities = {Modality::kRgb};
  return m;
}

void ClassifierConfig::validate(Checker& c) const {
  encoder().validate(c);  // the same keys, named alike
  require_range(c, "model.num_classes", num_classes, 0, 1000000, "0 = the dataset's classes");
  c.require(drop_path >= 0.0 && drop_path < 1.0, "model.drop_path", drop_path, "must be in [0, 1)",
            "MAE ViT-B: 0.1, ViT-L: 0.2");
  require_range(c, "model.head_init_std", head_init_std, 0.0, 1.0, "MAE: 2e-5");
}

void FinetuneRecipeConfig::validate(Checker& c) const {
  require_range(c, "finetune.knn_k", knn_k, 1, 100000, "DINO: 20");
  c.require(knn_temperature > 0.0 && knn_temperature <= 100.0, "finetune.knn_temperature",
            knn_temperature, "must be in (0, 100]", "DINO: 0.07");
  require_range(c, "finetune.dense_iterations", dense_iterations, 1, 100000, "e.g. 100");
  require_range(c, "finetune.dense_weight_decay", dense_weight_decay, 0.0, 100.0, "e.g. 1e-4");
  c.require(layer_decay > 0.0 && layer_decay <= 1.0, "finetune.layer_decay", layer_decay,
            "must be in (0, 1]", "MAE ViT-B: 0.65; 1 turns it off");
  require_range(c, "finetune.mixup", mixup, 0.0, 100.0, "MAE: 0.8; 0 = off");
  require_range(c, "finetune.cutmix", cutmix, 0.0, 100.0, "MAE: 1.0; 0 = off");
  require_range(c, "finetune.mixup_prob", mixup_prob, 0.0, 1.0, "MAE: 1.0");
  require_range(c, "finetune.mixup_switch_prob", mixup_switch_prob, 0.0, 1.0, "MAE: 0.5");
  c.require(label_smoothing >= 0.0 && label_smoothing < 1.0, "finetune.label_smoothing",
            label_smoothing, "must be in [0, 1)", "MAE: 0.1");
  require_range(c, "finetune.random_erasing", random_erasing, 0.0, 1.0, "MAE: 0.25; 0 = off");
  c.require(eval_crop_pct > 0.0 && eval_crop_pct <= 1.0, "finetune.eval_crop_pct", eval_crop_pct,
            "must be in (0, 1]", "timm: 0.875; 1 = the whole centre square");
  c.require(!val_split.empty() && val_split.find('/') == std::string::npos && val_split != "." &&
                val_split != "..",
            "finetune.val_split", val_split, "must be a folder or shard-set name", "e.g. val");
  require_range(c, "finetune.synthetic_val_samples", synthetic_val_samples, 1,
                int64_t{std::numeric_limits<int32_t>::max()}, "e.g. 10000");
}

void DistConfig::validate(Checker& c) const {
  require_range(c, "dist.timeout_s", timeout_s, 1, 86400, "e.g. 600");
  require_range(c, "dist.bucket_mb", bucket_mb, 1, 4096, "PyTorch DDP: 25");
}

void LogConfig::validate(Checker& c) const {
  require_range(c, "log.every", every, 1, kMaxSteps, "e.g. 20");
  c.require(pictures_every >= 0, "log.pictures_every", pictures_every, "must be >= 0",
            "e.g. 10 (epochs), or 0 for no pictures");
  c.require(pictures_count >= 1 && pictures_count <= 64, "log.pictures_count", pictures_count,
            "must be in [1, 64]", "e.g. 8");
}

}  // namespace c2fmae::config
