#include "c2fmae/train/finetune_engine.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "c2fmae/core/error_text.h"
#include "c2fmae/core/log.h"
#include "c2fmae/core/modality.h"
#include "c2fmae/core/seeding.h"
#include "c2fmae/core/usage_error.h"
#include "c2fmae/data/batch_loader.h"
#include "c2fmae/data/dataset.h"
#include "c2fmae/data/mixup.h"
#include "c2fmae/data/rand_augment.h"
#include "c2fmae/data/random_erasing.h"
#include "c2fmae/losses/classification_loss.h"
#include "c2fmae/masking/patch_majority.h"
#include "c2fmae/models/classifier.h"
#include "c2fmae/models/vit_presets.h"
#include "c2fmae/optim/adamw.h"
#include "c2fmae/optim/layer_decay.h"
#include "c2fmae/optim/lr_schedule.h"
#include "c2fmae/train/autocast_scope.h"
#include "c2fmae/train/data_parallel_step.h"
#include "c2fmae/train/dense_probe.h"
#include "c2fmae/train/device_choice.h"
#include "c2fmae/train/encoder_export.h"
#include "c2fmae/train/knn_classifier.h"
#include "c2fmae/train/memory_budget.h"
#include "c2fmae/train/pretrained_weights.h"
#include "c2fmae/train/run_length.h"

namespace c2fmae::train {
namespace {

/// dense_probe: the most training patches whose features it keeps (every stride-th).
constexpr int64_t kMaxDensePatches = int64_t{1} << 20;

using Clock = std::chrono::steady_clock;

/// RandAugment works on the uint8 image (timm applies it to the PIL image before
/// normalising), random erasing on the normalised one: the loader's image, normalised with
/// kImageNetMean / Std, is taken back to 0..255 (exact: it was decoded as uint8), augmented,
/// normalised again, then erased.
void augment_image(float* rgb, int64_t size, uint64_t seed,
                   const std::optional<data::RandAugmentOptions>& rand_augment,
                   const data::RandomErasingOptions& erasing) {
  const int64_t plane = size * size;
  if (rand_augment) {
    for (int64_t c = 0; c < 3; ++c) {
      float* p = rgb + c * plane;
      for (int64_t i = 0; i < plane; ++i) {
        p[i] = std::nearbyint((p[i] * data::kImageNetStd[c] + data::kImageNetMean[c]) * 255.0f);
      }
    }
    data::rand_augment(rgb, size, size, *rand_augment, mix_seed({seed, 0xA11u}));
    for (int64_t c = 0; c < 3; ++c) {
      float* p = rgb + c * plane;
      for (int64_t i = 0; i < plane; ++i) {
        p[i] = (p[i] / 255.0f - data::kImageNetMean[c]) / data::kImageNetStd[c];
      }
    }
  }
  if (erasing.prob > 0.0) data::random_erase(rgb, 3, size, size, erasing, mix_seed({seed, 0xE4Au}));
}

/// The training and validation splits label the same classes: their counts agree, and so do
/// their names where they have names (a renamed class folder would shift every label).
void check_same_classes(const data::Dataset& train, const data::Dataset& val,
                        const config::FinetuneConfig& cfg) {
  const auto a = train.class_names(), b = val.class_names();
  if (train.num_classes() == val.num_classes() && !a.empty() && a.size() == b.size()) {
    for (size_t i = 0; i < a.size(); ++i) {
      if (a[i] == b[i]) continue;
      throw UsageError(
          with_hint(c10::str("label ", i, " is class '", a[i], "' in data.split ", cfg.data.split,
                             " but '", b[i], "' in finetune.val_split ", cfg.finetune.val_split,
                             ": the labels would not mean the same classes"),
                    "give both splits the same class folders (names and all)"));
    }
  }
  if (train.num_classes() == val.num_classes()) return;
  throw UsageError(
      with_hint(c10::str("data.split ", cfg.data.split, " has ", train.num_classes(),
                         " classes but finetune.val_split ", cfg.finetune.val_split, " has ",
                         val.num_classes(), ": their labels would not mean the same classes"),
                "give both splits the same class folders"));
}

}  // namespace

void check_finetune_config(const config::FinetuneConfig& cfg) {
  cfg.validate();
  config::Checker c(cfg.origins);
  models::check_model_config(cfg.model.encoder(), c);
  check_pretrained_path(cfg.train, c);
  std::optional<data::RandAugmentOptions> rand_augment;
  try {
    rand_augment = data::parse_rand_augment(cfg.finetune.rand_augment);
  } catch (const std::invalid_argument& e) {
    c.fail("finetune.rand_augment", cfg.finetune.rand_augment, e.what(),
           "use timm's form, e.g. rand-m9-mstd0.5-inc1 (MAE), or none");
  }
  // Each op costs a pass over the image on the loader's threads: n is a handful in practice
  // (timm: 2), and a mistyped huge n would stall the run.
  c.require(!rand_augment || (rand_augment->num_ops <= 16 && rand_augment->magnitude <= 100),
            "finetune.rand_augment", cfg.finetune.rand_augment,
            "has more than 16 ops (n) or a magnitude (m) above 100",
            "use timm's form with n <= 16, e.g. rand-m9-mstd0.5-inc1 (n2)");
  try {
    parse_class_list(cfg.finetune.dense_background);
  } catch (const std::invalid_argument& e) {
    c.fail("finetune.dense_background", cfg.finetune.dense_background, e.what(),
           "list class ids and ranges, e.g. 0-3 or 80-132,255");
  }
}

struct FinetuneEngine::Impl {
  Impl(const config::FinetuneConfig& cfg, distributed::Communicator* group);
  ~Impl() {
    loader.reset();
    val_loader.reset();
    bank_loader.reset();
  }

  config::FinetuneConfig cfg;
  distributed::Communicator* group;  ///< null in a single process
  int64_t rank = 0, world = 1;
  uint64_t seed;
  torch::Device device;
  bool autocast;
  bool linear_probe, evaluate_only, knn, dense;
  int64_t num_classes = 0;
  std::unique_ptr<data::BatchLoader> loader, val_loader;
  MemoryEstimate memory;
  /// knn, dense_probe: the training split once, in order, as evaluation reads it.
  std::unique_ptr<data::BatchLoader> bank_loader;
  int64_t val_size = 0;
  int64_t accum = 1, steps_per_epoch = 0, total_steps = 0, effective_batch = 0;
  optim::LrSchedule lr_schedule;
  data::MixupOptions mixup;
  models::Classifier model{nullptr};
  std::unique_ptr<optim::AdamW> optimizer;
  /// Micro-batches, backward, the host read, skip policy, update (data_parallel_step.h); with
  /// nothing to train for evaluation.
  std::unique_ptr<DataParallelStep> steps;
  std::string pretrained_report = "none (random initialisation)";
  /// The classes the head learns, by label (empty: the dataset names none), and where from.
  std::vector<std::string> class_names;
  std::string class_source;

  int64_t bucket_bytes() const { return cfg.dist.bucket_mb << 20; }

  std::vector<torch::Tensor> state_tensors(bool with_optimizer) {
    std::vector<torch::Tensor> out;
    for (const auto& p : model->parameters()) out.push_back(p);
    for (const auto& b : model->buffers()) out.push_back(b);
    if (with_optimizer) {
      for (const auto& t : optimizer->state_tensors()) out.push_back(t);
    }
    return out;
  }

  /// Training mode, except a linear probe's encoder, which always computes as in evaluation.
  void set_training_mode() {
    model->train();
    if (linear_probe) model->backbone->eval();
  }

  /// What a frozen encoder gives for one pass over a loader (knn, dense_probe).
  struct Features {
    torch::Tensor features;  ///< [N, D] float on the CPU
    torch::Tensor labels;    ///< [N] int64: image labels, or patch classes (-1: none)
    int64_t skipped = 0;     ///< bad samples replaced
  };
  /// One evaluation-order pass of `source`: per image the pooled feature (knn: the patch
  /// tokens' mean for model.global_pool avg, else the class token), or per patch its token
  /// and the majority class of its pixels in the semantic map (dense: every
  /// `patch_stride`-th patch, counted over the whole pass, so memory stays bounded).
  Features read_features(data::BatchLoader& source, bool patches, int64_t patch_stride = 1);
  Evaluation evaluate_knn();
  Evaluation evaluate_dense();

  /// The loss of a batch's logits [B, C]: soft-target CE on mixed targets, else label
  /// smoothing CE (plain CE at smoothing 0), as MAE's main_finetune.py chooses its criterion.
  torch::Tensor loss(const torch::Tensor& logits, const Batch& batch) const {
    if (batch.target.defined()) return losses::soft_target_cross_entropy(logits, batch.target);
    return losses::label_smoothing_cross_entropy(logits, batch.label, cfg.finetune.label_smoothing);
  }
};

FinetuneEngine::Impl::Impl(const config::FinetuneConfig& config, distributed::Communicator* group_)
    : cfg(config),
      group(group_ && group_->world_size() > 1 ? group_ : nullptr),
      rank(group ? group->rank() : 0),
      world(group ? group->world_size() : 1),
      seed(static_cast<uint64_t>(cfg.train.seed)),
      device(choose_device(cfg.train, group ? group->env().local_rank : 0)),
      autocast(device.is_cuda() && cfg.train.precision == config::Precision::kBf16),
      linear_probe(cfg.finetune.mode == config::FinetuneMode::kLinprobe),
      evaluate_only(cfg.finetune.measures_only()),
      knn(cfg.finetune.mode == config::FinetuneMode::kKnn),
      dense(cfg.finetune.mode == config::FinetuneMode::kDenseProbe) {
  if ((knn || dense) && group) {
    throw UsageError(with_hint("finetune.mode = " + cfg.finetune.mode.name() +
                                   " runs in one process: its features are compared as a whole",
                               "start it without a launcher (it trains nothing)"));
  }
  const int64_t img = cfg.model.img_size;
  // Validation: the whole split once per evaluation, each process its share.
  auto val = data::make_dataset(cfg.data, seed, cfg.finetune.val_split,
                                cfg.finetune.synthetic_val_samples);
  auto val_options = data::loader_options(cfg.data, img, seed, rank, world);
  val_options.masks = false;
  val_options.evaluation = true;
  val_options.augmentation.enabled = false;
  val_options.augmentation.center_crop = cfg.finetune.eval_crop_pct;
  val_options.pin_memory = device.is_cuda();
  val_options.masks = dense;  // the semantic maps at the image's resolution
  if (dense && !val->has_masks()) {
    throw UsageError(with_hint("finetune.mode = dense_probe needs semantic maps, and " +
                                   cfg.finetune.val_split + " has none",
                               "give a dataset in MultiMAE's layout (rgb, semseg, instance)"));
  }
  val_size = val->size();
  class_names = val->class_names();
  class_source = "finetune.val_split " + cfg.finetune.val_split;
  num_classes = cfg.model.num_classes > 0 ? cfg.model.num_classes : val->num_classes();
  std::shared_ptr<const data::Dataset> train_set;
  if (!evaluate_only) {
    train_set = data::make_dataset(cfg.data, seed, cfg.data.split);
    if (cfg.model.num_classes == 0) num_classes = train_set->num_classes();
    check_same_classes(*train_set, *val, cfg);
    check_run_length(cfg.origins, cfg.data, cfg.optim, cfg.train, train_set->size(), world);
  }
  if (num_classes < val->num_classes()) {
    throw UsageError(with_hint(c10::str("model.num_classes = ", num_classes,
                                        " but the dataset has ", val->num_classes(), " classes"),
                               "set model.num_classes to 0 (the dataset's) or at least that"));
  }
  std::shared_ptr<const data::Dataset> bank;
  if (knn || dense) {
    bank = data::make_dataset(cfg.data, seed, cfg.data.split);
    check_same_classes(*bank, *val, cfg);
    if (dense && !bank->has_masks()) {
      throw UsageError(
          with_hint("finetune.mode = dense_probe needs semantic maps, and data.split " +
                        cfg.data.split + " has none",
                    "give a dataset in MultiMAE's layout (rgb, semseg, instance)"));
    }
  }
  // Before anything large is allocated: a run that cannot fit stops here, naming its keys.
  // The frozen encoder's features a measure keeps: knn one row per image of both splits,
  // dense_probe one per patch of the validation split and at most kMaxDensePatches of the
  // training split's.
  int64_t feature_rows = 0;
  if (knn) feature_rows = bank->size() + val_size;
  if (dense) {
    const int64_t patches =
        (cfg.model.img_size / cfg.model.patch_size) * (cfg.model.img_size / cfg.model.patch_size);
    feature_rows = std::min(bank->size() * patches, kMaxDensePatches) + val_size * patches;
  }
  memory = estimate_finetune_memory(cfg, num_classes, device, autocast,
                                    1 + (train_set ? 1 : 0) + (bank ? 1 : 0), feature_rows,
                                    group ? group->env().local_world_size : 1);
  check_memory_budget(memory, device, cfg.train.memory_check);
  val_loader = std::make_unique<data::BatchLoader>(val, val_options);
  if (bank) bank_loader = std::make_unique<data::BatchLoader>(bank, val_options);

  accum = cfg.optim.accum_steps;
  effective_batch = cfg.data.batch_size * accum * world;
  if (train_set) {
    auto options = data::loader_options(cfg.data, img, seed, rank, world);
    options.masks = false;
    options.pin_memory = device.is_cuda();
    const auto rand_augment = data::parse_rand_augment(cfg.finetune.rand_augment);
    data::RandomErasingOptions erasing;
    erasing.prob = cfg.finetune.random_erasing;
    if (rand_augment || erasing.prob > 0.0) {
      options.rgb_transform = [rand_augment, erasing](float* rgb, int64_t size, uint64_t s) {
        augment_image(rgb, size, s, rand_augment, erasing);
      };
    }
    mixup.mixup_alpha = cfg.finetune.mixup;
    mixup.cutmix_alpha = cfg.finetune.cutmix;
    mixup.prob = cfg.finetune.mixup_prob;
    mixup.switch_prob = cfg.finetune.mixup_switch_prob;
    mixup.label_smoothing = cfg.finetune.label_smoothing;
    mixup.num_classes = num_classes;
    if (mixup.active()) {
      // On the loader's threads, from (seed, micro-batch, process): each process mixes its
      // own samples, as timm's Mixup does per rank.
      options.transform = [this](Batch& batch, int64_t micro_step) {
        batch.target = data::mix_batch(batch.rgb, batch.label, mixup,
                                       mix_seed({seed, static_cast<uint64_t>(micro_step),
                                                 static_cast<uint64_t>(rank), 0x313u}));
      };
    }
    loader = std::make_unique<data::BatchLoader>(train_set, options);
    steps_per_epoch = loader->micro_steps_per_epoch() / accum;
    total_steps = cfg.train.epochs * steps_per_epoch;
    lr_schedule = optim::make_schedule(cfg.optim, steps_per_epoch, total_steps, effective_batch);
  }

  torch::manual_seed(seed);  // weight initialisation
  const auto vit = models::VisionTransformerOptions::from_config(cfg.model.encoder())
                       .drop_path_rate(linear_probe ? 0.0 : cfg.model.drop_path)
                       .learned_pos_embed(true);
  // knn and dense_probe read the encoder's output tokens as pre-training computed them:
  // after its final norm (which a classifier pooling with fc_norm leaves out).
  model = models::Classifier(
      models::ClassifierOptions(vit, num_classes)
          .global_pool(knn || dense ? config::GlobalPool::kToken : cfg.model.global_pool.value())
          .linear_probe(linear_probe)
          .head_init_std(cfg.model.head_init_std));
  model->backbone->set_activation_checkpointing(cfg.train.activation_checkpointing);
  model->to(device);
  if (linear_probe) {
    // MAE's main_linprobe.py: only the head trains (fc_norm, if pooling uses it, stays as
    // initialised, a LayerNorm without affine).
    for (auto& p : model->parameters()) p.set_requires_grad(false);
    for (auto& p : model->head->parameters()) p.set_requires_grad(true);
  }
  set_training_mode();
  std::vector<torch::Tensor> trained;  // a probe: the head's
  if (!evaluate_only) {
    for (const auto& p : model->parameters()) {
      if (p.requires_grad()) trained.push_back(p);
    }
  }
  const int64_t blocks = static_cast<int64_t>(model->backbone->blocks->size());
  optimizer = std::make_unique<optim::AdamW>(
      optim::layer_decay_groups(model->named_parameters(), cfg.optim.weight_decay,
                                linear_probe ? 1.0 : cfg.finetune.layer_decay, blocks),
      optim::AdamWOptions{cfg.optim.beta1, cfg.optim.beta2, cfg.optim.eps});
  DataParallelStep::Options step_options;
  step_options.accum_steps = accum;
  step_options.clip_grad = cfg.optim.clip_grad;
  step_options.bucket_bytes = bucket_bytes();
  step_options.max_bad_fraction = cfg.data.max_bad_fraction;
  step_options.dataset_size = train_set ? train_set->size() : 0;
  // Each process's loss is its own batch's mean.
  step_options.loss_scope = LossScope::kProcessMean;
  steps = std::make_unique<DataParallelStep>(group, device, trained, *optimizer, step_options,
                                             state_tensors(/*with_optimizer=*/false));
}

FinetuneEngine::FinetuneEngine(const config::FinetuneConfig& cfg,
                               distributed::Communicator* group) {
  check_finetune_config(cfg);
  impl_ = std::make_unique<Impl>(cfg, group);
}

FinetuneEngine::~FinetuneEngine() = default;

void FinetuneEngine::fresh_start() {
  auto& m = *impl_;
  if (m.cfg.train.pretrained.empty()) return;
  auto file = read_weights(m.cfg.train.pretrained);
  if (!m.model->head_norm && file.tensors.find("head_norm.running_var") != nullptr) {
    // A linear probe's checkpoint read by a classifier without the BatchNorm (evaluation, or
    // fine-tuning after a probe): its statistics are folded into the head, as c2fmae_export
    // does, so the head computes what it computed in the probe.
    file.tensors = export_tensors(file, ExportPart::kEncoder);
  }
  const bool other_classes =
      !file.class_names.empty() && !m.class_names.empty() && file.class_names != m.class_names;
  if (other_classes && m.cfg.finetune.mode != config::FinetuneMode::kEval) {
    // A classifier of other classes as the start of this one: its encoder, a new head (as
    // for another class count).
    torch::OrderedDict<std::string, torch::Tensor> kept;
    for (const auto& item : file.tensors) {
      if (item.key().rfind("head.", 0) != 0 && item.key().rfind("head_norm.", 0) != 0)
        kept.insert(item.key(), item.value());
    }
    file.tensors = std::move(kept);
    log::warn("pretrained weights " + file.path + ": its head was trained on other classes (" +
              m.class_source + " names others): the head starts fresh");
  }
  const auto report = load_weights(*m.model, file);
  if (std::find(report.loaded.begin(), report.loaded.end(), "head.weight") != report.loaded.end())
    check_head_classes(file.class_names, file.path, m.class_names, m.class_source);
  m.pretrained_report = file.path + " (" + file.kind + "): " + report.text();
  log::info("pretrained weights " + m.pretrained_report);
  if (m.cfg.finetune.mode == config::FinetuneMode::kEval) {
    for (const auto& name : report.initialised) {
      if (name.rfind("head.", 0) == 0 || name.rfind("fc_norm.", 0) == 0) {
        throw UsageError(with_hint(
            "--eval: " + file.path + " has no trained " + name + " for this classifier (" +
                std::to_string(m.num_classes) +
                " classes, model.global_pool = " + m.cfg.model.global_pool.name() +
                "), so its figures would be those of a random head",
            "evaluate a checkpoint of c2fmae_finetune (best.pt) or an export with its head, "
            "with the model section it was trained with"));
      }
    }
  }
}

StepOutcome FinetuneEngine::run_step(int64_t step) {
  auto& m = *impl_;
  TORCH_CHECK(m.loader, "FinetuneEngine: finetune.mode = eval does not train");
  StepOutcome out;
  const auto start = Clock::now();
  // Drop path draws from the default generators: a function of (seed, step, process).
  torch::manual_seed(
      mix_seed({m.seed, static_cast<uint64_t>(step), static_cast<uint64_t>(m.rank), 0xF17Eu}));
  const double lr = optim::learning_rate(m.lr_schedule, step);
  DataParallelStep::Hooks hooks;
  hooks.next_batch = [&m](int64_t micro_step) { return m.loader->batch(micro_step); };
  hooks.forward_loss = [&m](const Batch& batch, bool /*last*/) {
    if (m.group && m.linear_probe) {
      // As DDP's broadcast_buffers: the BatchNorm's running statistics are rank 0's.
      m.group->broadcast_coalesced(m.model->head_norm->buffers(), m.bucket_bytes());
    }
    torch::Tensor loss;
    {
      AutocastScope scope(m.autocast);
      loss = m.loss(m.model->forward(batch.rgb), batch);
    }
    return MicroBatchLoss{loss, loss.detach().to(torch::kFloat).view({1})};
  };
  const auto r = m.steps->run(step, lr, hooks);
  out.loss = r.loss;
  out.skipped = r.skipped;
  out.skip_reason = r.skip_reason;
  out.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (out.skipped) return out;
  out.metrics.add("lr", lr)
      .add("grad_norm", r.grad_norm)
      .add("data_skipped", m.steps->bad_samples().skipped)
      .add("data_wait_s", r.data_wait_seconds);
  out.summary = c10::str("lr ", lr);
  return out;
}

namespace {

/// The majority-class rate (%) and the entropy (nats) of labels counted per class.
std::pair<double, double> label_prior(const torch::Tensor& counts) {
  const double total = counts.sum().item<double>();
  if (total <= 0) return {0.0, 0.0};
  const auto p = counts.to(torch::kDouble) / total;
  return {100.0 * p.max().item<double>(),
          std::max(0.0, -(p * p.clamp_min(1e-300).log()).sum().item<double>())};
}

/// Labels >= 0 of `labels` counted per class (at least num_classes entries).
torch::Tensor class_counts(const torch::Tensor& labels, int64_t num_classes) {
  return torch::bincount(labels.masked_select(labels.ge(0)), {}, num_classes).to(torch::kDouble);
}

}  // namespace

FinetuneEngine::Impl::Features FinetuneEngine::Impl::read_features(data::BatchLoader& source,
                                                                   bool patches,
                                                                   int64_t patch_stride) {
  torch::NoGradGuard no_grad;
  model->eval();
  std::vector<torch::Tensor> features, labels;
  Features out;
  int64_t seen = 0;  // patches before this batch's (the stride's phase)
  for (int64_t s = 0; s < source.micro_steps_per_epoch(); ++s) {
    auto batch = source.batch(s);
    out.skipped += batch.data_skipped;
    const auto keep = batch.label.ge(0);  // padding rows of the last batch count nowhere
    torch::Tensor tokens;
    {
      AutocastScope scope(autocast);
      tokens = model->backbone->forward_features(batch.rgb.to(device, /*non_blocking=*/true))
                   .to(torch::kFloat)
                   .cpu();
    }
    tokens = tokens.index({keep});
    const int64_t l = tokens.size(1) - 1, d = tokens.size(2);
    if (!patches) {
      features.push_back(cfg.model.global_pool == config::GlobalPool::kAvg
                             ? tokens.narrow(1, 1, l).mean(1)
                             : tokens.select(1, 0));
      labels.push_back(batch.label.index({keep}));
      continue;
    }
    auto classes = masking::patch_majority(batch.semantic.index({keep}), cfg.model.patch_size);
    classes.masked_fill_(classes.eq(kIgnoreClass), -1);
    auto flat = tokens.narrow(1, 1, l).reshape({-1, d});
    auto flat_classes = classes.reshape({-1});
    if (patch_stride > 1) {
      const auto index = torch::arange(flat.size(0), torch::kLong);
      const auto chosen = (index + seen).remainder(patch_stride).eq(0);
      seen += flat.size(0);
      flat = flat.index({chosen});
      flat_classes = flat_classes.index({chosen});
    }
    features.push_back(flat.contiguous());
    labels.push_back(flat_classes);
  }
  set_training_mode();
  out.features = torch::cat(features);
  out.labels = torch::cat(labels);
  return out;
}

Evaluation FinetuneEngine::Impl::evaluate_knn() {
  const auto start = Clock::now();
  const auto bank = read_features(*bank_loader, /*patches=*/false);
  const auto val = read_features(*val_loader, /*patches=*/false);
  const auto r = knn_classify(bank.features, bank.labels, val.features, val.labels,
                              cfg.finetune.knn_k, cfg.finetune.knn_temperature, num_classes);
  const auto [prior, entropy] = label_prior(class_counts(val.labels, num_classes));
  Evaluation e;
  e.metrics.add("val_top1", r.top1)
      .add("val_top5", r.top5)
      .add("prior_top1", prior)
      .add("label_entropy", entropy)
      .add("k", r.k)
      .add("temperature", cfg.finetune.knn_temperature)
      .add("features",
           cfg.model.global_pool == config::GlobalPool::kAvg ? "patch mean" : "class token")
      .add("train_images", bank.features.size(0))
      .add("val_images", r.tested)
      .add("seconds", std::chrono::duration<double>(Clock::now() - start).count());
  if (bank.skipped + val.skipped > 0) e.metrics.add("skipped", bank.skipped + val.skipped);
  e.score = r.top1;
  e.score_name = "val_top1";
  e.summary =
      c10::str("k-NN (k ", r.k, ", T ", cfg.finetune.knn_temperature, ", ", bank.features.size(0),
               " training images): val top-1 ", r.top1, " % top-5 ", r.top5, " % (", r.tested,
               " images); majority class ", prior, " %, label entropy ", entropy, " nats");
  return e;
}

Evaluation FinetuneEngine::Impl::evaluate_dense() {
  const auto start = Clock::now();
  // At most about kMaxPatches training patches (every stride-th): the classifier's inputs
  // stay in memory.
  constexpr int64_t kMaxPatches = kMaxDensePatches;
  const int64_t grid = cfg.model.img_size / cfg.model.patch_size;
  const int64_t total = bank_loader->micro_steps_per_epoch() * cfg.data.batch_size * grid * grid;
  const int64_t stride = std::max<int64_t>(1, (total + kMaxPatches - 1) / kMaxPatches);
  // The validation split first: a background list that leaves it no class is refused
  // before the (larger) training pass.
  const auto val = read_features(*val_loader, /*patches=*/true);
  const auto present = std::get<0>(at::_unique2(val.labels.masked_select(val.labels.ge(0))));
  if (present.numel() == 0) {
    throw UsageError(
        with_hint("finetune.mode = dense_probe: the validation split's semantic "
                  "maps hold no class (every patch is ignored)",
                  "check the dataset's semseg maps"));
  }
  DenseProbeOptions options;
  options.iterations = cfg.finetune.dense_iterations;
  options.weight_decay = cfg.finetune.dense_weight_decay;
  options.background = parse_class_list(cfg.finetune.dense_background);
  const auto* ids = present.data_ptr<int64_t>();
  if (std::all_of(ids, ids + present.numel(), [&](int64_t k) {
        return std::find(options.background.begin(), options.background.end(), k) !=
               options.background.end();
      })) {
    throw UsageError(
        with_hint(c10::str("finetune.dense_background = \"", cfg.finetune.dense_background,
                           "\" covers every class in the validation split's semantic maps: "
                           "mean_class_acc would average nothing"),
                  "list only the background (stuff) classes, e.g. 0-3 for the synthetic world"));
  }
  const auto bank = read_features(*bank_loader, /*patches=*/true, stride);
  const int64_t classes =
      1 + std::max(bank.labels.max().item<int64_t>(), val.labels.max().item<int64_t>());
  const auto r =
      dense_probe(bank.features, bank.labels, val.features, val.labels, classes, options);
  Evaluation e;
  e.metrics.add("patch_acc", r.patch_acc)
      .add("mean_class_acc", r.mean_class_acc)
      .add("miou", r.miou)
      .add("prior_patch_acc", r.prior_patch_acc)
      .add("prior_mean_class_acc", r.prior_mean_class_acc)
      .add("prior_miou", r.prior_miou)
      .add("class_entropy", r.class_entropy)
      .add("classes", r.classes)
      .add("train_patches", r.train_patches)
      .add("val_patches", r.test_patches)
      .add("probe_train_loss", r.train_loss)
      .add("seconds", std::chrono::duration<double>(Clock::now() - start).count());
  if (bank.skipped + val.skipped > 0) e.metrics.add("skipped", bank.skipped + val.skipped);
  e.score = r.mean_class_acc;
  e.score_name = "mean_class_acc";
  e.summary = c10::str("dense probe (", r.train_patches, " training patches, ", r.classes,
                       " classes): patch accuracy ", r.patch_acc, " %, mean class accuracy ",
                       r.mean_class_acc, " %, mIoU ", r.miou,
                       " %; majority class: ", r.prior_patch_acc, " %, ", r.prior_mean_class_acc,
                       " %, ", r.prior_miou, " %; class entropy ", r.class_entropy, " nats");
  return e;
}

Evaluation FinetuneEngine::evaluate() {
  auto& m = *impl_;
  if (m.knn) return m.evaluate_knn();
  if (m.dense) return m.evaluate_dense();
  torch::NoGradGuard no_grad;
  m.model->eval();
  const auto on_device = torch::TensorOptions().dtype(torch::kDouble).device(m.device);
  auto sums = torch::zeros({4}, on_device);  // loss sum, top-1, top-5, images
  const int64_t steps = m.val_loader->micro_steps_per_epoch();
  int64_t skipped = 0;
  std::vector<torch::Tensor> labels;
  for (int64_t s = 0; s < steps; ++s) {
    auto batch = m.val_loader->batch(s);
    skipped += batch.data_skipped;
    labels.push_back(batch.label);
    batch = batch.to(m.device, /*non_blocking=*/true);
    torch::Tensor logits;
    {
      AutocastScope scope(m.autocast);
      logits = m.model->forward(batch.rgb).to(torch::kFloat);
    }
    // Padding rows (label -1) of the last batch count nowhere.
    const auto loss_sum = torch::nn::functional::cross_entropy(
        logits, batch.label,
        torch::nn::functional::CrossEntropyFuncOptions().ignore_index(-1).reduction(torch::kSum));
    const auto correct = losses::topk_correct(logits, batch.label, {1, 5}).to(torch::kDouble);
    const auto images = batch.label.ge(0).sum().to(torch::kDouble);
    sums += torch::stack({loss_sum.to(torch::kDouble), correct[0], correct[1], images});
  }
  m.set_training_mode();
  if (m.group) m.group->all_reduce_sum(sums);
  sums = sums.cpu();
  const auto* v = sums.data_ptr<double>();
  const double images = v[3];
  Evaluation e;
  const double top1 = 100.0 * v[1] / images, top5 = 100.0 * v[2] / images;
  // The split's label prior, beside which "at the prior" shows.
  auto counts = class_counts(torch::cat(labels), m.num_classes).to(m.device);
  if (m.group) m.group->all_reduce_sum(counts);
  const auto [prior, entropy] = label_prior(counts.cpu());
  e.metrics.add("val_loss", v[0] / images)
      .add("val_top1", top1)
      .add("val_top5", top5)
      .add("val_images", static_cast<int64_t>(images))
      .add("prior_top1", prior)
      .add("label_entropy", entropy);
  if (skipped > 0) e.metrics.add("val_skipped", skipped);
  e.score = top1;
  e.score_name = "val_top1";
  e.finite = std::isfinite(v[0]);  // NaN logits still rank some class first
  e.summary = c10::str("val top-1 ", top1, " % top-5 ", top5, " % loss ", v[0] / images, " (",
                       static_cast<int64_t>(images), " images); majority class ", prior,
                       " %, label entropy ", entropy, " nats");
  return e;
}

std::map<std::string, int64_t> FinetuneEngine::counters() const {
  return {{"data_skipped", impl_->steps->bad_samples().skipped},
          {"data_read", impl_->steps->bad_samples().read},
          {"effective_batch", impl_->effective_batch}};
}

std::vector<std::pair<std::string, torch::Tensor>> FinetuneEngine::extra_state() {
  if (impl_->class_names.empty()) return {};
  return {{"class_names", class_names_tensor(impl_->class_names)}};
}

void FinetuneEngine::restore_extra_state(
    const std::vector<std::pair<std::string, torch::Tensor>>& stored) {
  for (const auto& [name, tensor] : stored) {
    if (name == "class_names") {
      check_head_classes(class_names_of(tensor), "the checkpoint", impl_->class_names,
                         impl_->class_source);
    }
  }
}

void FinetuneEngine::restore_counters(const std::map<std::string, int64_t>& counters) {
  auto get = [&](const char* name) {
    const auto it = counters.find(name);
    return it == counters.end() ? int64_t{0} : it->second;
  };
  impl_->steps->bad_samples().skipped = get("data_skipped");
  impl_->steps->bad_samples().read = get("data_read");
  const int64_t stored = get("effective_batch");
  if (stored > 0 && stored != impl_->effective_batch) {
    log::warn(c10::str("the checkpoint was written with an effective batch of ", stored,
                       ", this run has ", impl_->effective_batch,
                       ": its steps continue with the new batch"));
  }
}

void FinetuneEngine::synchronize_state() {
  auto& m = *impl_;
  if (m.group) m.steps->broadcast(m.state_tensors(/*with_optimizer=*/true));
}

void FinetuneEngine::check_replicas() {
  auto& m = *impl_;
  m.steps->check_replicas(m.model->parameters());
}

int64_t FinetuneEngine::total_steps() const { return impl_->total_steps; }
int64_t FinetuneEngine::steps_per_epoch() const {
  return std::max<int64_t>(1, impl_->steps_per_epoch);
}
int64_t FinetuneEngine::samples_per_step() const { return impl_->effective_batch; }
torch::Device FinetuneEngine::device() const { return impl_->device; }
torch::nn::Module& FinetuneEngine::module() { return *impl_->model; }
optim::AdamW& FinetuneEngine::optimizer() { return *impl_->optimizer; }

std::vector<std::pair<std::string, std::string>> FinetuneEngine::describe() const {
  const auto& m = *impl_;
  int64_t params = 0, trained = 0;
  for (const auto& p : m.model->parameters()) {
    params += p.numel();
    if (p.requires_grad()) trained += p.numel();
  }
  const auto& o = m.cfg.optim;
  const auto& f = m.cfg.finetune;
  std::vector<std::pair<std::string, std::string>> rows = {
      {"device", c10::str(m.device, m.autocast ? " (bf16 autocast)" : " (fp32)")},
      {"mode", m.linear_probe    ? "linear probe (encoder frozen, in eval mode; BatchNorm + head)"
               : m.knn           ? "k-NN of the frozen encoder's features (DINO's weighted vote)"
               : m.dense         ? "dense probe: linear classifier of each patch's semantic class"
               : m.evaluate_only ? "evaluation only"
                                 : "fine-tuning (every parameter)"},
      {"parameters", c10::str(params / 1e6, " M, ", trained / 1e6, " M trained")},
      {"memory estimate", m.memory.describe()},
      {"classes", c10::str(m.num_classes, " (",
                           m.cfg.model.global_pool == config::GlobalPool::kAvg
                               ? "global average pooling + fc_norm"
                               : "class token",
                           ")")},
      {"pretrained", m.pretrained_report},
      {"validation",
       c10::str(m.val_size, " images of ", f.val_split, ", centre crop ", f.eval_crop_pct)},
  };
  if (m.evaluate_only) return rows;
  rows.insert(
      rows.end(),
      {
          {"effective batch",
           c10::str(m.effective_batch, " (", m.cfg.data.batch_size, " x ", m.accum,
                    " accumulation x ", m.world, m.world == 1 ? " process)" : " processes)")},
          {"learning rate",
           c10::str(m.lr_schedule.peak_lr,
                    o.lr > 0 ? " (optim.lr)"
                             : c10::str(" (blr ", o.blr, " x ", m.effective_batch, " / 256)"),
                    m.linear_probe ? "" : c10::str(", layer decay ", f.layer_decay))},
          {"steps", c10::str(m.total_steps, " (", m.steps_per_epoch, " per epoch x ",
                             m.cfg.train.epochs, " epochs), warm-up ", m.lr_schedule.warmup_steps)},
          {"augmentation",
           c10::str("RandAugment ", f.rand_augment, ", random erasing ", f.random_erasing,
                    ", mixup ", f.mixup, ", cutmix ", f.cutmix, ", label smoothing ",
                    f.label_smoothing,
                    m.linear_probe ? "" : c10::str(", drop path ", m.cfg.model.drop_path))},
      });
  return rows;
}

std::string FinetuneEngine::nonfinite_hint() const {
  const auto& o = impl_->cfg.optim;
  if (o.lr > 0) return c10::str("optim.lr = ", o.lr, " is set directly: lower it");
  return c10::str("lower optim.blr (", o.blr,
                  "), set optim.clip_grad (e.g. 5.0), or check the "
                  "pretrained weights and the data");
}

}  // namespace c2fmae::train
