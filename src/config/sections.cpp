// Per-section validation rules. Each rule names the key, the value and the fix.
#include "c2fmae/config/sections.h"

#include <algorithm>
#include <cmath>

#include "c2fmae/config/config.h"

namespace c2fmae::config {
namespace {

bool one_of(const std::string& v, std::initializer_list<const char*> allowed) {
  return std::any_of(allowed.begin(), allowed.end(), [&](const char* a) { return v == a; });
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
  for (auto [key, v] : {std::pair{"model.embed_dim", embed_dim},
                        {"model.depth", depth},
                        {"model.num_heads", num_heads}}) {
    c.require(v >= 0, key, v, "must be >= 0", "0 takes the preset's value");
  }
  c.require(patch_size > 0, "model.patch_size", patch_size, "must be > 0", "ViT: 16");
  c.require(img_size > 0 && img_size % patch_size == 0, "model.img_size", img_size,
            "must be a positive multiple of the patch size " + std::to_string(patch_size),
            "use e.g. 224 with patch 16 or 224 with patch 14");
  c.require(mlp_ratio > 0, "model.mlp_ratio", mlp_ratio, "must be > 0", "MAE uses 4.0");
  c.require(!modalities.empty(), "model.modalities", "[]", "no modality enabled",
            "enable at least one of semantic, instance, rgb");
  const bool mask_inputs = has(Modality::kSemantic) || has(Modality::kInstance);
  c.require(!mask_inputs || patch_size % kLabelDownsample == 0, "model.patch_size", patch_size,
            "semantic and instance inputs are read at 1/4 resolution and need a multiple of 4",
            "use patch 16, or only rgb");
  c.require(num_semantic_classes > 0 && num_semantic_classes < 255, "model.num_semantic_classes",
            num_semantic_classes, "must be in 1..254 (255 marks ignored pixels)",
            "COCO panoptic: 133");
  c.require(semantic_embed_dim > 0, "model.semantic_embed_dim", semantic_embed_dim, "must be > 0",
            "MultiMAE: 64");
  c.require(instance_slots > 0, "model.instance_slots", instance_slots, "must be > 0",
            "use more slots than instances per image, e.g. 64");
  c.require(instance_slot_dim > 0, "model.instance_slot_dim", instance_slot_dim, "must be > 0",
            "e.g. 64");
  c.require(instance_head_dim > 0, "model.instance_head_dim", instance_head_dim, "must be > 0",
            "e.g. 8");
  c.require(one_of(decoder_mode, {"cascade", "parallel"}), "model.decoder_mode", decoder_mode,
            "unknown decoder mode", "use cascade (C2FMAE) or parallel (MultiMAE baseline)");
  c.require(decoder_heads > 0 && decoder_dim > 0 && decoder_dim % decoder_heads == 0,
            "model.decoder_heads", decoder_heads,
            "must divide decoder_dim " + std::to_string(decoder_dim),
            "MultiMAE: 256 with 8 heads; MAE: 512 with 16 heads");
  c.require(decoder_dim % 4 == 0, "model.decoder_dim", decoder_dim,
            "2-D sin-cos position embeddings need a multiple of 4", "use e.g. 256 or 512");
  c.require(decoder_depth >= 0, "model.decoder_depth", decoder_depth, "must be >= 0",
            "MultiMAE: 2, MAE: 8");
  c.require(decoder_cross_blocks >= 0, "model.decoder_cross_blocks", decoder_cross_blocks,
            "must be >= 0", "MultiMAE: 1; MAE: 0");
  c.require(decoder_depth + decoder_cross_blocks > 0, "model.decoder_depth", decoder_depth,
            "a decoder stage needs at least one block", "set decoder_depth >= 1");
}

void MaskingConfig::validate(Checker& c) const {
  c.require(num_visible > 0, "masking.num_visible", num_visible, "must be > 0",
            "MultiMAE: 98, MAE: 49");
  c.require(dirichlet_alpha > 0, "masking.dirichlet_alpha", dirichlet_alpha, "must be > 0",
            "MultiMAE: 1.0");
  c.require(semantic_hide_ratio >= 0 && semantic_hide_ratio <= 1, "masking.semantic_hide_ratio",
            semantic_hide_ratio, "must be in [0, 1]", "e.g. 0.5");
  c.require(instance_hide_ratio >= 0 && instance_hide_ratio <= 1, "masking.instance_hide_ratio",
            instance_hide_ratio, "must be in [0, 1]", "e.g. 0.5");
}

void CurriculumConfig::validate(Checker& c) const {
  c.require(one_of(interpolation, {"linear", "cosine", "step"}), "curriculum.interpolation",
            interpolation, "unknown interpolation", "use linear, cosine or step");
  c.require(!keyframes.empty(), "curriculum.keyframes", "[]", "needs at least one keyframe",
            "e.g. [{at: 0, random: 1}]");
  for (size_t i = 0; i < keyframes.size(); ++i) {
    const auto& k = keyframes[i];
    const std::string key = "curriculum.keyframes[" + std::to_string(i) + "]";
    c.require(k.at >= 0 && k.at <= 1, key + ".at", k.at, "must be in [0, 1]",
              "progress is step / total steps");
    c.require(i == 0 || k.at > keyframes[i - 1].at, key + ".at", k.at,
              "keyframes must have strictly increasing 'at'", "sort the keyframes by 'at'");
    for (const auto& [name, w] : k.generators) {
      c.require(w >= 0, key + "." + name, w, "generator weights must be >= 0",
                "use weights such as semantic: 0.7, random: 0.3");
    }
    c.require(k.total_weight() > 0, key, "(weights)", "all generator weights are 0",
              "give at least one generator a positive weight, e.g. random: 1");
    c.require(k.loss_weights.size() == keyframes[0].loss_weights.size(), key, "(loss weights)",
              "either every keyframe moves the same loss weights or none does",
              "give each keyframe the same loss_* keys");
    for (const auto& [m, w] : k.loss_weights) {
      c.require(!std::isnan(keyframes[0].loss_weight(m)), key + "." + loss_weight_key(m), w,
                "the first keyframe does not move this loss weight",
                "give each keyframe the same loss_* keys");
      c.require(w >= 0, key + "." + loss_weight_key(m), w, "loss weights must be >= 0",
                "use e.g. loss_rgb: 1.0");
    }
  }
}

void LossConfig::validate(Checker& c) const {
  c.require(weight_semantic >= 0, "loss.weight_semantic", weight_semantic, "must be >= 0", "");
  c.require(weight_instance >= 0, "loss.weight_instance", weight_instance, "must be >= 0", "");
  c.require(weight_rgb >= 0, "loss.weight_rgb", weight_rgb, "must be >= 0", "");
  c.require(instance_loss == "discriminative", "loss.instance_loss", instance_loss,
            "unknown instance loss", "use discriminative");
  c.require(instance_delta_pull >= 0 && instance_delta_push > instance_delta_pull,
            "loss.instance_delta_push", instance_delta_push,
            "the push margin must exceed the pull margin",
            "De Brabandere et al.: pull 0.5, push 1.5");
  c.require(instance_weight_reg >= 0, "loss.instance_weight_reg", instance_weight_reg,
            "must be >= 0", "e.g. 0.001");
}

void DataConfig::validate(Checker& c) const {
  c.require(source == "synthetic", "data.source", source,
            one_of(source, {"folder", "shards"}) ? "this reader is not implemented yet"
                                                 : "unknown data source",
            "use synthetic (folder and shard readers are planned; c2fmae_make_synthetic already "
            "writes the folder layout)");
  // Keys of features that have not landed: accepted only at their defaults, so that no
  // value is silently ignored.
  c.require(root.empty(), "data.root", root,
            "is read by the folder and shards sources, which are not implemented yet",
            "leave data.root unset with data.source = synthetic");
  c.require(max_bad_fraction == DataConfig().max_bad_fraction, "data.max_bad_fraction",
            max_bad_fraction,
            "bad-sample skipping comes with the folder and shards sources, not implemented yet "
            "(the synthetic source has no bad samples)",
            "leave data.max_bad_fraction at its default");
  c.require(batch_size > 0, "data.batch_size", batch_size, "must be > 0", "MAE: 256 per GPU");
  c.require(num_workers >= 0, "data.num_workers", num_workers, "must be >= 0", "e.g. 8");
  c.require(synthetic_samples > 0, "data.synthetic_samples", synthetic_samples, "must be > 0",
            "e.g. 1281167");
  c.require(crop_scale_min > 0 && crop_scale_min <= crop_scale_max && crop_scale_max <= 1,
            "data.crop_scale_min", crop_scale_min, "need 0 < crop_scale_min <= crop_scale_max <= 1",
            "MAE: 0.2 and 1.0");
  c.require(hflip >= 0 && hflip <= 1, "data.hflip", hflip, "must be a probability", "e.g. 0.5");
}

void OptimConfig::validate(Checker& c) const {
  c.require(blr > 0 || lr > 0, "optim.blr", blr, "needs blr > 0 or lr > 0", "MAE: blr 1.5e-4");
  c.require(lr >= 0, "optim.lr", lr, "must be >= 0", "0 derives it from blr");
  c.require(min_lr >= 0, "optim.min_lr", min_lr, "must be >= 0", "e.g. 0");
  c.require(weight_decay >= 0, "optim.weight_decay", weight_decay, "must be >= 0", "MAE: 0.05");
  c.require(beta1 >= 0 && beta1 < 1, "optim.beta1", beta1, "must be in [0, 1)", "MAE: 0.9");
  c.require(beta2 >= 0 && beta2 < 1, "optim.beta2", beta2, "must be in [0, 1)", "MAE: 0.95");
  c.require(eps > 0, "optim.eps", eps, "must be > 0", "e.g. 1e-8");
  c.require(warmup_epochs >= 0, "optim.warmup_epochs", warmup_epochs, "must be >= 0", "MAE: 40");
  c.require(clip_grad >= 0, "optim.clip_grad", clip_grad, "must be >= 0", "0 turns clipping off");
  c.require(accum_steps >= 1, "optim.accum_steps", accum_steps, "must be >= 1", "1 = none");
}

void TrainConfig::validate(Checker& c) const {
  c.require(epochs > 0, "train.epochs", epochs, "must be > 0", "MAE: 400, 800 or 1600");
  c.require(seed >= 0, "train.seed", seed, "must be >= 0", "e.g. 0");
  c.require(!output_dir.empty(), "train.output_dir", "\"\"", "must not be empty",
            "e.g. runs/c2fmae_vit_base");
  c.require(one_of(device, {"auto", "cpu", "cuda"}), "train.device", device, "unknown device",
            "use auto, cpu or cuda");
  c.require(one_of(precision, {"fp32", "bf16"}), "train.precision", precision, "unknown precision",
            "use fp32 or bf16");
  c.require(checkpoint_every > 0, "train.checkpoint_every", checkpoint_every, "must be > 0",
            "e.g. 1000");
  c.require(keep_last >= 1, "train.keep_last", keep_last, "must be >= 1", "e.g. 3");
  c.require(max_nonfinite >= 1, "train.max_nonfinite", max_nonfinite, "must be >= 1", "e.g. 10");
  c.require(max_steps >= 0, "train.max_steps", max_steps, "must be >= 0", "0 runs to the end");
}

void DistConfig::validate(Checker& c) const {
  c.require(one_of(backend, {"auto", "nccl", "gloo"}), "dist.backend", backend, "unknown backend",
            "use auto, nccl or gloo");
  c.require(timeout_s > 0, "dist.timeout_s", timeout_s, "must be > 0", "e.g. 600");
  c.require(bucket_mb > 0, "dist.bucket_mb", bucket_mb, "must be > 0", "PyTorch DDP: 25");
  // Multi-process training has not landed: a value other than the default would be ignored.
  const DistConfig defaults;
  const char* hint = "multi-process training is not implemented yet; leave dist.* at its defaults";
  c.require(backend == defaults.backend, "dist.backend", backend, "not implemented yet", hint);
  c.require(timeout_s == defaults.timeout_s, "dist.timeout_s", timeout_s, "not implemented yet",
            hint);
  c.require(bucket_mb == defaults.bucket_mb, "dist.bucket_mb", bucket_mb, "not implemented yet",
            hint);
}

void LogConfig::validate(Checker& c) const {
  c.require(one_of(level, {"debug", "info", "warn", "error", "off"}), "log.level", level,
            "unknown level", "use debug, info, warn, error or off");
  c.require(every > 0, "log.every", every, "must be > 0", "e.g. 20");
}

}  // namespace c2fmae::config
