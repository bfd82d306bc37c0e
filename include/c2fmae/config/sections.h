// The typed config sections. Each section lists its fields once, in visit(), with the
// YAML key, the member and a one-line help; loading, --set, dumping, unknown-key errors and
// --help all come from that list. Defaults are the C2FMAE ViT-B/16 recipe (DESIGN.md §1).
// A key with a fixed set of values is a Choice over an enum declared just above its section,
// with the enum's names in one table beside it (config/choice.h).
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "c2fmae/config/choice.h"
#include "c2fmae/config/keyframe.h"
#include "c2fmae/core/log.h"
#include "c2fmae/core/modality.h"

namespace c2fmae::config {

class Checker;

/// model.decoder_mode: whether each decoder stage reads the coarser stages' tokens.
enum class DecoderMode { kCascade, kParallel };
constexpr auto enum_names(DecoderMode) {
  return std::array{std::pair{DecoderMode::kCascade, "cascade"},
                    std::pair{DecoderMode::kParallel, "parallel"}};
}

/// Encoder, adapters, decoder and heads.
struct ModelConfig {
  std::string preset = "base";
  int64_t img_size = 224;
  int64_t patch_size = 16;
  int64_t embed_dim = 0;
  int64_t depth = 0;
  int64_t num_heads = 0;
  double mlp_ratio = 4.0;
  /// Coarse to fine, each once (sorted when read): the order of the mask's M axis.
  std::vector<Modality> modalities = {Modality::kSemantic, Modality::kInstance, Modality::kRgb};
  int64_t num_semantic_classes = 133;
  int64_t semantic_embed_dim = 64;
  int64_t instance_slots = 64;
  int64_t instance_slot_dim = 64;
  int64_t instance_head_dim = 8;
  Choice<DecoderMode> decoder_mode = DecoderMode::kCascade;
  int64_t decoder_dim = 256;
  int64_t decoder_depth = 2;
  int64_t decoder_heads = 8;
  int64_t decoder_cross_blocks = 1;
  bool decoder_cross_residual = true;
  bool decoder_final_norm = true;
  bool decoder_fp32_semantic = false;

  template <class V>
  void visit(V& v) {
    v("preset", preset, "encoder width, depth and heads: tiny, small, base, large, huge");
    v("img_size", img_size, "input resolution in pixels (square)");
    v("patch_size", patch_size, "patch size in pixels (MAE's ViT-H uses 14)");
    v("embed_dim", embed_dim, "encoder width; 0 = the preset's");
    v("depth", depth, "encoder blocks; 0 = the preset's");
    v("num_heads", num_heads, "encoder attention heads; 0 = the preset's");
    v("mlp_ratio", mlp_ratio, "MLP hidden width / embed_dim");
    v("modalities", modalities, "enabled inputs/outputs, any of semantic, instance, rgb");
    v("num_semantic_classes", num_semantic_classes, "semantic classes (255 = ignore)");
    v("semantic_embed_dim", semantic_embed_dim,
      "per-pixel class embedding width (semantic adapter)");
    v("instance_slots", instance_slots,
      "slot embeddings instance ids are mapped to, and the most instances per image the "
      "loader keeps (the largest; ours: 64, at most 254)");
    v("instance_slot_dim", instance_slot_dim, "width of an instance slot embedding");
    v("instance_head_dim", instance_head_dim, "per-pixel embedding width predicted for instances");
    v("decoder_mode", decoder_mode, "cascade (semantic -> instance -> rgb) or parallel (MultiMAE)");
    v("decoder_dim", decoder_dim, "decoder width of every stage");
    v("decoder_depth", decoder_depth, "self-attention blocks per decoder stage");
    v("decoder_heads", decoder_heads, "attention heads in the decoder");
    v("decoder_cross_blocks", decoder_cross_blocks,
      "cross-attention blocks per stage; 0 = MAE-style decoder over its own tokens only "
      "(parallel mode only)");
    v("decoder_cross_residual", decoder_cross_residual,
      "residual connection around the decoder's cross-attention (ours: true; MultiMAE: false)");
    v("decoder_final_norm", decoder_final_norm,
      "LayerNorm before each decoder head (ours and MAE: true; MultiMAE: false)");
    v("decoder_fp32_semantic", decoder_fp32_semantic,
      "compute the semantic decoder stage in fp32 under autocast (ours: false; MultiMAE's "
      "fp32_output_adapters: semseg = true)");
  }
  void validate(Checker& c) const;

  /// Patches per side and per modality.
  int64_t grid_size() const { return img_size / patch_size; }
  int64_t num_patches() const { return grid_size() * grid_size(); }
  /// Whether modality `m` is enabled.
  bool has(Modality m) const;
};

/// masking.guided_hide_in: which modalities a guided generator hides its regions in.
enum class GuidedHideIn {
  kAll,            ///< every enabled modality
  kGuideAndFiner,  ///< the guiding modality and those finer than it
};
constexpr auto enum_names(GuidedHideIn) {
  return std::array{std::pair{GuidedHideIn::kAll, "all"},
                    std::pair{GuidedHideIn::kGuideAndFiner, "guide_and_finer"}};
}

/// masking.semmae_schedule: lambda(t), SemMAE's intra-part share, over progress t.
enum class SemmaeSchedule { kQuadratic, kLinear, kCosine, kIntra, kInter };
constexpr auto enum_names(SemmaeSchedule) {
  return std::array{
      std::pair{SemmaeSchedule::kQuadratic, "quadratic"},
      std::pair{SemmaeSchedule::kLinear, "linear"},
      std::pair{SemmaeSchedule::kCosine, "cosine"},
      std::pair{SemmaeSchedule::kIntra, "intra"},
      std::pair{SemmaeSchedule::kInter, "inter"},
  };
}

/// masking.semmae_parts: where SemMAE's parts come from.
enum class SemmaeParts { kSemantic, kAttention };
constexpr auto enum_names(SemmaeParts) {
  return std::array{std::pair{SemmaeParts::kSemantic, "semantic"},
                    std::pair{SemmaeParts::kAttention, "attention"}};
}

/// Visible-token budget and the mask generators' knobs.
struct MaskingConfig {
  int64_t num_visible = 98;
  double dirichlet_alpha = 1.0;
  double rgb_only_prob = 0.0;
  double semantic_hide_ratio = 0.5;
  double instance_hide_ratio = 0.5;
  /// Ours: guide_and_finer (coarse-to-fine: the semantic map stays visible where instances
  /// are hidden); `all` is the behaviour before this key existed.
  Choice<GuidedHideIn> guided_hide_in = GuidedHideIn::kGuideAndFiner;
  double guided_max_region_share = 0.5;
  Choice<SemmaeSchedule> semmae_schedule = SemmaeSchedule::kQuadratic;
  Choice<SemmaeParts> semmae_parts = SemmaeParts::kSemantic;
  int64_t semmae_num_parts = 7;
  int64_t evolved_parts_start = 40;
  int64_t evolved_parts_end = 10;
  double evolved_alpha_power = 0.5;
  int64_t evolved_grid_cell = 2;
  double affinity_ema_decay = 0.99996;
  int64_t block_min_patches = 16;
  int64_t block_max_patches = 0;
  double block_min_aspect = 0.3;

  template <class V>
  void visit(V& v) {
    v("num_visible", num_visible, "visible tokens per sample over all modalities (MAE: 49)");
    v("dirichlet_alpha", dirichlet_alpha,
      "Dirichlet concentration of the budget split over modalities (random, semantic, instance)");
    v("rgb_only_prob", rgb_only_prob,
      "probability that a sample's whole visible budget goes to its RGB tokens, so that its "
      "semantic and instance maps are predicted from pixels alone (every generator; MultiMAE "
      "and ours by default: 0, the Dirichlet split always)");
    v("semantic_hide_ratio", semantic_hide_ratio,
      "semantic generator: fraction of patches hidden, whole semantic regions that fit first, "
      "then random patches");
    v("instance_hide_ratio", instance_hide_ratio,
      "instance generator: fraction of patches hidden, whole instances that fit first, then "
      "random patches");
    v("guided_hide_in", guided_hide_in,
      "semantic/instance generators hide in: guide_and_finer (the guiding modality and finer "
      "ones; coarser stay available) or all (every modality)");
    v("guided_max_region_share", guided_max_region_share,
      "semantic/instance generators: at most max(1, floor(share * n)) of n regions hidden "
      "whole, never all when n >= 2");
    v("semmae_schedule", semmae_schedule,
      "semmae: lambda(t), the intra-part share of its mix, over progress t: quadratic "
      "(SemMAE: 1 - t^2), linear (1 - t), cosine ((1 + cos(pi t)) / 2), intra (1) or inter (0)");
    v("semmae_parts", semmae_parts,
      "semmae: parts from the semantic map (patch majority class) or from attention (the "
      "EMA encoder's affinity hierarchy cut at semmae_num_parts)");
    v("semmae_num_parts", semmae_num_parts,
      "semmae with semmae_parts = attention: parts per image (SemMAE: 7)");
    v("evolved_parts_start", evolved_parts_start,
      "evolved: groups of the hierarchy level masked at progress 0 (EPM: 40)");
    v("evolved_parts_end", evolved_parts_end,
      "evolved: groups of the level masked at progress 1 (EPM: 10); linear in between");
    v("evolved_alpha_power", evolved_alpha_power,
      "evolved: mask noise (1 - a) * grid noise + a * group noise with a = progress^power "
      "(EPM: 0.5)");
    v("evolved_grid_cell", evolved_grid_cell,
      "evolved: period in patches of the regular grid noise (EPM: 2, a 2 x 2 pattern)");
    v("affinity_ema_decay", affinity_ema_decay,
      "evolved / semmae on attention: decay of the EMA encoder whose attention gives the "
      "patch affinity (EPM: 0.99996)");
    v("block_min_patches", block_min_patches, "block: least patches of one block (BEiT: 16)");
    v("block_max_patches", block_max_patches,
      "block: most patches one block may newly hide; 0 = no cap (BEiT's default)");
    v("block_min_aspect", block_min_aspect,
      "block: a block's h / w is log-uniform in [min_aspect, 1 / min_aspect] (BEiT: 0.3)");
  }
  void validate(Checker& c) const;
};

/// curriculum.interpolation: how weights move between keyframes.
enum class CurriculumInterpolation { kLinear, kCosine, kStep };
constexpr auto enum_names(CurriculumInterpolation) {
  return std::array{std::pair{CurriculumInterpolation::kLinear, "linear"},
                    std::pair{CurriculumInterpolation::kCosine, "cosine"},
                    std::pair{CurriculumInterpolation::kStep, "step"}};
}

/// Progressive masking curriculum (DESIGN.md §1).
struct CurriculumConfig {
  Choice<CurriculumInterpolation> interpolation = CurriculumInterpolation::kLinear;
  std::vector<Keyframe> keyframes = {
      {0.0, {{"semantic", 1.0}, {"instance", 0.0}, {"random", 0.0}}, {}},
      {0.4, {{"semantic", 0.0}, {"instance", 1.0}, {"random", 0.0}}, {}},
      {0.8, {{"semantic", 0.0}, {"instance", 0.0}, {"random", 1.0}}, {}}};

  template <class V>
  void visit(V& v) {
    v("interpolation", interpolation, "how weights move between keyframes");
    v("keyframes", keyframes,
      "list of {at, <generator>: weight, ...[, weight_semantic, weight_instance, weight_rgb]}; "
      "generators by name (semantic, instance, random, ...)");
  }
  void validate(Checker& c) const;
};

/// loss.reduction: how a loss term averages over a batch's masked tokens (losses/reduction.h).
enum class Reduction { kPixels, kSamples };
constexpr auto enum_names(Reduction) {
  return std::array{std::pair{Reduction::kPixels, "pixels"},
                    std::pair{Reduction::kSamples, "samples"}};
}

/// loss.instance_background: whether background pixels form a cluster of the instance loss.
enum class InstanceBackground { kCluster, kIgnore };
constexpr auto enum_names(InstanceBackground) {
  return std::array{std::pair{InstanceBackground::kCluster, "cluster"},
                    std::pair{InstanceBackground::kIgnore, "ignore"}};
}

/// Loss weights and the instance loss.
struct LossConfig {
  // Chosen so that no weighted term outweighs another by more than 3x at the start (README,
  // "Loss weights"): at initialisation CE ~ ln(C) (4.9 for 133 classes), the discriminative
  // loss ~ 10-13 (the push hinge (2 * 1.5)^2 = 9 between collapsed means), norm-pix ~ 1.3.
  double weight_semantic = 0.5;
  double weight_instance = 0.2;
  double weight_rgb = 1.0;
  Choice<Reduction> reduction = Reduction::kPixels;
  Choice<InstanceBackground> instance_background = InstanceBackground::kIgnore;
  double instance_delta_pull = 0.5;
  double instance_delta_push = 1.5;
  double instance_weight_reg = 0.001;
  bool norm_pix = true;

  template <class V>
  void visit(V& v) {
    v("weight_semantic", weight_semantic, "lambda_S (ours: 0.5)");
    v("weight_instance", weight_instance, "lambda_I (ours: 0.2)");
    v("weight_rgb", weight_rgb, "lambda_R (ours: 1.0)");
    v("reduction", reduction,
      "mean over masked tokens: pixels (ours: one mean over the batch's masked pixels) or "
      "samples (MultiMAE: per-sample mean, then the batch mean)");
    v("instance_background", instance_background,
      "discriminative loss: background pixels are a cluster or ignored (ours: ignore)");
    v("instance_delta_pull", instance_delta_pull, "discriminative loss: pull margin");
    v("instance_delta_push", instance_delta_push, "discriminative loss: push margin");
    v("instance_weight_reg", instance_weight_reg, "discriminative loss: weight of |mean|");
    v("norm_pix", norm_pix, "RGB target normalised per patch (MAE norm_pix_loss)");
  }
  void validate(Checker& c) const;
};

/// data.source: where samples come from; each has a row in data/dataset_registry.h.
enum class DataSource { kSynthetic, kFolder, kShards };
constexpr auto enum_names(DataSource) {
  return std::array{std::pair{DataSource::kSynthetic, "synthetic"},
                    std::pair{DataSource::kFolder, "folder"},
                    std::pair{DataSource::kShards, "shards"}};
}

/// data.interpolation: how RGB images are resampled (label maps: always nearest).
enum class ImageInterpolation { kBicubic, kBilinear };
constexpr auto enum_names(ImageInterpolation) {
  return std::array{std::pair{ImageInterpolation::kBicubic, "bicubic"},
                    std::pair{ImageInterpolation::kBilinear, "bilinear"}};
}

/// Where samples come from and how they are batched.
struct DataConfig {
  Choice<DataSource> source = DataSource::kSynthetic;
  std::string root = "";
  std::string split = "train";
  int64_t batch_size = 256;
  int64_t num_workers = 8;
  int64_t prefetch = 2;
  int64_t synthetic_samples = 1281167;
  double crop_scale_min = 0.2;
  double crop_scale_max = 1.0;
  double hflip = 0.5;
  Choice<ImageInterpolation> interpolation = ImageInterpolation::kBicubic;
  double max_bad_fraction = 0.01;

  template <class V>
  void visit(V& v) {
    v("source", source,
      "synthetic (built-in shapes), folder (MultiMAE layout or ImageFolder) or shards "
      "(tar shards written by c2fmae_pack)");
    v("root", root, "dataset folder (folder, shards)");
    v("split", split, "which split of data.root to train on (folder, shards)");
    v("batch_size", batch_size, "samples per process and step");
    v("num_workers", num_workers, "threads reading and decoding samples per process");
    v("prefetch", prefetch, "batches prepared ahead of the step");
    v("synthetic_samples", synthetic_samples, "synthetic epoch length (default: ImageNet's)");
    v("crop_scale_min", crop_scale_min, "RandomResizedCrop smallest area fraction");
    v("crop_scale_max", crop_scale_max, "RandomResizedCrop largest area fraction");
    v("hflip", hflip, "horizontal flip probability");
    v("interpolation", interpolation, "RGB resampling: bicubic (MAE) or bilinear; masks: nearest");
    v("max_bad_fraction", max_bad_fraction,
      "stop the run when more than this fraction of the samples read were bad (skipped and "
      "replaced), judged over at least min(1000, dataset size) samples");
  }
  void validate(Checker& c) const;
};

/// AdamW and the learning-rate schedule.
struct OptimConfig {
  double blr = 1.5e-4;
  double lr = 0.0;
  double min_lr = 0.0;
  double weight_decay = 0.05;
  double beta1 = 0.9;
  double beta2 = 0.95;
  double eps = 1e-8;
  double warmup_epochs = 40;
  double clip_grad = 0.0;
  int64_t accum_steps = 1;

  template <class V>
  void visit(V& v) {
    v("blr", blr, "base lr; lr = blr * effective batch / 256");
    v("lr", lr, "absolute lr; 0 = from blr");
    v("min_lr", min_lr, "floor of the cosine schedule");
    v("weight_decay", weight_decay, "AdamW decay (none on biases, norms, tokens, embeddings)");
    v("beta1", beta1, "AdamW beta1");
    v("beta2", beta2, "AdamW beta2");
    v("eps", eps, "AdamW epsilon");
    v("warmup_epochs", warmup_epochs, "linear warm-up length in epochs");
    v("clip_grad", clip_grad, "gradient norm clip; 0 = off");
    v("accum_steps", accum_steps, "gradient accumulation steps per optimizer step");
  }
  void validate(Checker& c) const;
};

/// train.device: where the run computes; auto takes CUDA when there is one.
enum class ComputeDevice { kAuto, kCpu, kCuda };
constexpr auto enum_names(ComputeDevice) {
  return std::array{std::pair{ComputeDevice::kAuto, "auto"}, std::pair{ComputeDevice::kCpu, "cpu"},
                    std::pair{ComputeDevice::kCuda, "cuda"}};
}

/// train.precision: bf16 is autocast on CUDA; CPU runs compute in fp32 either way.
enum class Precision { kFp32, kBf16 };
constexpr auto enum_names(Precision) {
  return std::array{std::pair{Precision::kFp32, "fp32"}, std::pair{Precision::kBf16, "bf16"}};
}

/// The run: length, seed, device, precision, checkpoints.
struct TrainConfig {
  int64_t epochs = 400;
  int64_t seed = 0;
  std::string output_dir = "runs/c2fmae";
  Choice<ComputeDevice> device = ComputeDevice::kAuto;
  Choice<Precision> precision = Precision::kBf16;
  int64_t checkpoint_every = 1000;
  int64_t eval_every = 1;
  int64_t keep_last = 3;
  int64_t max_nonfinite = 10;
  int64_t max_steps = 0;
  std::string pretrained = "";
  bool memory_check = true;
  bool activation_checkpointing = false;

  template <class V>
  void visit(V& v) {
    v("epochs", epochs, "training epochs");
    v("seed", seed, "seed of weights, data order and masks");
    v("output_dir", output_dir, "run directory");
    v("device", device, "where the run computes; auto: CUDA when there is one");
    v("precision", precision, "bf16: autocast, CUDA only (CPU runs compute in fp32)");
    v("checkpoint_every", checkpoint_every, "steps between checkpoints");
    v("eval_every", eval_every,
      "epochs between validations of c2fmae_finetune (MAE's: 1); 0 = once, at the end");
    v("keep_last", keep_last, "checkpoints kept besides latest");
    v("max_nonfinite", max_nonfinite, "consecutive non-finite losses before the run stops");
    v("max_steps", max_steps,
      "stop (with a checkpoint) after this many steps; 0 = run to the end. "
      "The schedule still spans all epochs");
    v("pretrained", pretrained,
      "weights to start from (a c2fmae checkpoint, or a timm / MAE ViT or c2fmae_export "
      "safetensors file); what loads is reported; ignored when a run resumes");
    v("memory_check", memory_check,
      "refuse (exit 2) a run whose memory estimate exceeds the machine's or the GPU's memory; "
      "false: warn only");
    v("activation_checkpointing", activation_checkpointing,
      "recompute each encoder block in the backward pass instead of keeping its activations: "
      "the same loss and gradients for less memory and about a third more compute");
  }
  void validate(Checker& c) const;
};

/// The schedule's rules across the two sections (every root's validate() calls it): the
/// warm-up is part of the run, and a given optim.lr is not below optim.min_lr (from blr the
/// peak depends on the batch: train/run_length.h). `warmup_example` and
/// `min_lr_example` end the hints ("MAE: 40 of 400-1600", "0").
void check_schedule(Checker& c, const OptimConfig& optim, const TrainConfig& train,
                    const std::string& warmup_example, const std::string& min_lr_example);

/// dist.backend: the collectives' library; auto is nccl on CUDA, gloo on the CPU.
enum class DistBackend { kAuto, kNccl, kGloo };
constexpr auto enum_names(DistBackend) {
  return std::array{std::pair{DistBackend::kAuto, "auto"}, std::pair{DistBackend::kNccl, "nccl"},
                    std::pair{DistBackend::kGloo, "gloo"}};
}

/// Multi-process training (DESIGN.md §4).
struct DistConfig {
  Choice<DistBackend> backend = DistBackend::kAuto;
  int64_t timeout_s = 600;
  int64_t bucket_mb = 25;

  template <class V>
  void visit(V& v) {
    v("backend", backend, "auto (nccl on CUDA, gloo on CPU), nccl or gloo (multi-process runs)");
    v("timeout_s", timeout_s,
      "seconds a collective may wait: a dead or hung peer stops the others after this");
    v("bucket_mb", bucket_mb, "gradient all-reduce bucket size in MiB (PyTorch DDP: 25)");
  }
  void validate(Checker& c) const;
};

/// model.global_pool of the classifier: what its head reads.
enum class GlobalPool { kAvg, kToken };
constexpr auto enum_names(GlobalPool) {
  return std::array{std::pair{GlobalPool::kAvg, "avg"}, std::pair{GlobalPool::kToken, "token"}};
}

/// The classifier c2fmae_finetune trains (its `model` section): the encoder, shaped as the
/// pre-training model's (model.preset, ...), and the head (MAE's models_vit).
struct ClassifierConfig {
  std::string preset = "base";
  int64_t img_size = 224;
  int64_t patch_size = 16;
  int64_t embed_dim = 0;
  int64_t depth = 0;
  int64_t num_heads = 0;
  double mlp_ratio = 4.0;
  int64_t num_classes = 0;
  Choice<GlobalPool> global_pool = GlobalPool::kAvg;
  double drop_path = 0.1;
  double head_init_std = 2e-5;

  template <class V>
  void visit(V& v) {
    v("preset", preset, "encoder width, depth and heads: tiny, small, base, large, huge");
    v("img_size", img_size, "input resolution in pixels (square)");
    v("patch_size", patch_size, "patch size in pixels");
    v("embed_dim", embed_dim, "encoder width; 0 = the preset's");
    v("depth", depth, "encoder blocks; 0 = the preset's");
    v("num_heads", num_heads, "encoder attention heads; 0 = the preset's");
    v("mlp_ratio", mlp_ratio, "MLP hidden width / embed_dim");
    v("num_classes", num_classes, "classes of the head; 0 = the dataset's");
    v("global_pool", global_pool,
      "avg (mean of the patch tokens + fc_norm; MAE fine-tuning) or token (the class token "
      "after the final norm; MAE linear probing)");
    v("drop_path", drop_path, "stochastic depth rate of the last block (MAE ViT-B: 0.1)");
    v("head_init_std", head_init_std,
      "std of the head's truncated normal init (MAE: 2e-5 fine-tuning, 0.01 linear probing)");
  }
  void validate(Checker& c) const;
  /// The encoder's fields as a pre-training model section (RGB only), for the presets and
  /// the backbone's options.
  ModelConfig encoder() const;
};

/// finetune.mode: what c2fmae_finetune does with the encoder.
enum class FinetuneMode { kFinetune, kLinprobe, kEval, kKnn, kDenseProbe };
constexpr auto enum_names(FinetuneMode) {
  return std::array{
      std::pair{FinetuneMode::kFinetune, "finetune"},
      std::pair{FinetuneMode::kLinprobe, "linprobe"},
      std::pair{FinetuneMode::kEval, "eval"},
      std::pair{FinetuneMode::kKnn, "knn"},
      std::pair{FinetuneMode::kDenseProbe, "dense_probe"},
  };
}

/// How c2fmae_finetune trains and evaluates (its `finetune` section): MAE's fine-tuning recipe
/// by default (DESIGN.md §1).
struct FinetuneRecipeConfig {
  Choice<FinetuneMode> mode = FinetuneMode::kFinetune;
  double layer_decay = 0.65;
  double mixup = 0.8;
  double cutmix = 1.0;
  double mixup_prob = 1.0;
  double mixup_switch_prob = 0.5;
  double label_smoothing = 0.1;
  std::string rand_augment = "rand-m9-mstd0.5-inc1";
  double random_erasing = 0.25;
  double eval_crop_pct = 0.875;
  std::string val_split = "val";
  int64_t synthetic_val_samples = 10000;
  int64_t knn_k = 20;
  double knn_temperature = 0.07;
  int64_t dense_iterations = 100;
  double dense_weight_decay = 1e-4;
  std::string dense_background;

  /// Modes that train nothing and write no run directory: they measure the given encoder.
  bool measures_only() const {
    return mode == FinetuneMode::kEval || mode == FinetuneMode::kKnn ||
           mode == FinetuneMode::kDenseProbe;
  }

  template <class V>
  void visit(V& v) {
    v("mode", mode,
      "finetune (every parameter), linprobe (frozen encoder in eval mode, BatchNorm without "
      "affine + linear head), eval (evaluate the given weights, no training), knn (DINO's "
      "weighted k-NN of the frozen encoder's features, trains nothing) or dense_probe (a "
      "linear classifier of each patch's semantic class from the frozen encoder's patch "
      "tokens); knn and dense_probe without train.pretrained measure a random encoder");
    v("layer_decay", layer_decay,
      "layer-wise lr decay: block i of N trains at decay^(N - i) of the head's lr (MAE ViT-B: "
      "0.65; 1 = off)");
    v("mixup", mixup, "mixup alpha; 0 = off (MAE: 0.8)");
    v("cutmix", cutmix, "cutmix alpha; 0 = off (MAE: 1.0)");
    v("mixup_prob", mixup_prob, "probability of mixing a batch at all");
    v("mixup_switch_prob", mixup_switch_prob, "probability of cutmix rather than mixup");
    v("label_smoothing", label_smoothing, "label smoothing of the targets (MAE: 0.1)");
    v("rand_augment", rand_augment,
      "timm RandAugment spec, e.g. rand-m9-mstd0.5-inc1 (MAE); none = off");
    v("random_erasing", random_erasing, "random erasing probability, pixel mode (MAE: 0.25)");
    v("eval_crop_pct", eval_crop_pct,
      "evaluation: the centre crop's side / the image's shorter side (timm: 0.875, i.e. resize "
      "to 256 and crop 224)");
    v("val_split", val_split,
      "split evaluated (folder, shards): every train.eval_every epochs, and by eval, knn "
      "and dense_probe");
    v("synthetic_val_samples", synthetic_val_samples,
      "data.source synthetic: samples of the validation split (drawn apart from training's)");
    v("knn_k", knn_k, "knn: neighbours that vote (DINO: 20)");
    v("knn_temperature", knn_temperature,
      "knn: a neighbour's vote is exp(cosine similarity / T) (DINO: 0.07)");
    v("dense_iterations", dense_iterations, "dense_probe: L-BFGS iterations of the classifier");
    v("dense_weight_decay", dense_weight_decay,
      "dense_probe: L2 penalty on the classifier's weights (per the mean loss)");
    v("dense_background", dense_background,
      "dense_probe: semantic classes left out of mean_class_acc, e.g. 0-3 (the synthetic "
      "stuff) or 80-132 (COCO panoptic stuff); empty = none");
  }
  void validate(Checker& c) const;
};

/// Logging.
struct LogConfig {
  Choice<log::Level> level = log::Level::kInfo;
  int64_t every = 20;
  bool progress = true;
  int64_t pictures_every = 10;
  int64_t pictures_count = 8;

  template <class V>
  void visit(V& v) {
    v("level", level, "least severe messages shown");
    v("every", every, "steps between metric lines");
    v("progress", progress, "progress line with ETA on a terminal");
    v("pictures_every", pictures_every,
      "pre-training: epochs between reconstruction pictures in pictures/ (also at the end); "
      "0: none");
    v("pictures_count", pictures_count,
      "pre-training: samples in each picture (the dataset's first ones)");
  }
  void validate(Checker& c) const;
};

}  // namespace c2fmae::config
