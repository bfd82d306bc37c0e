#include "c2fmae/train/pretrain_engine.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <limits>

#include "c2fmae/core/log.h"
#include "c2fmae/core/mask.h"
#include "c2fmae/core/modality.h"
#include "c2fmae/core/random.h"
#include "c2fmae/core/seeding.h"
#include "c2fmae/core/usage_error.h"
#include "c2fmae/curriculum/curriculum_masker.h"
#include "c2fmae/curriculum/curriculum_schedule.h"
#include "c2fmae/data/batch_loader.h"
#include "c2fmae/data/dataset.h"
#include "c2fmae/losses/c2fmae_loss.h"
#include "c2fmae/masking/generator_registry.h"
#include "c2fmae/models/c2fmae_model.h"
#include "c2fmae/models/vit_presets.h"
#include "c2fmae/optim/adamw.h"
#include "c2fmae/optim/lr_schedule.h"
#include "c2fmae/train/autocast_scope.h"
#include "c2fmae/train/data_parallel_step.h"
#include "c2fmae/train/device_choice.h"
#include "c2fmae/train/ema_encoder.h"
#include "c2fmae/train/mask_preview.h"
#include "c2fmae/train/memory_budget.h"
#include "c2fmae/train/pretrained_weights.h"
#include "c2fmae/train/reconstruction_pictures.h"
#include "c2fmae/train/run_length.h"

namespace c2fmae::train {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

void check_pretrain_config(const config::PretrainConfig& cfg) {
  {
    // Unknown generator names first: a misspelt name is the likeliest cause of any other
    // curriculum complaint (e.g. a keyframe whose only known weights are 0).
    config::Checker names(cfg.origins);
    curriculum::check_generator_names(cfg.curriculum, names);
  }
  cfg.validate();
  config::Checker c(cfg.origins);
  models::check_model_config(cfg.model, c);
  curriculum::check_curriculum_config(cfg.curriculum, cfg.model, cfg.masking, c);
  data::check_data_config(cfg.data, cfg.model, c);
  check_pretrained_path(cfg.train, c);
}

struct PretrainEngine::Impl {
  Impl(const config::PretrainConfig& cfg, distributed::Communicator* group);
  /// The loader goes first: its prefetch thread reads the masker and the curriculum.
  ~Impl() { loader.reset(); }

  config::PretrainConfig cfg;
  distributed::Communicator* group;  ///< null in a single process
  int64_t rank = 0, world = 1;
  uint64_t seed;
  torch::Device device;
  bool autocast;
  std::unique_ptr<data::BatchLoader> loader;
  MemoryEstimate memory;
  int64_t accum = 1, steps_per_epoch = 0, total_steps = 0, effective_batch = 0;
  optim::LrSchedule lr_schedule;
  curriculum::CurriculumSchedule curriculum;
  curriculum::CurriculumMasker masker;
  losses::C2fmaeLoss loss_fn;
  models::C2fmae model{nullptr};
  std::unique_ptr<optim::AdamW> optimizer;
  /// Micro-batches, backward, the host read, skip policy, update (data_parallel_step.h).
  std::unique_ptr<DataParallelStep> steps;
  /// The attention-guided generators' EMA encoder; with it, batches are masked in the step
  /// (the affinity needs the encoder as of this step), else on the loader's threads.
  std::unique_ptr<EmaEncoder> ema;
  double affinity_seconds = 0.0;              ///< computing the affinity in the current step
  Batch picture_samples;                      ///< the samples of picture(), read on first use
  const std::vector<Batch>* given = nullptr;  ///< benchmarks: micro-batches on the device
  int64_t given_next = 0;                     ///< the next of them to use
  bool initial_terms_logged = false;
  /// Semantic pixels per class of this process's batches in the current step: their
  /// entropy is the semantic term's trivial baseline (predicting those class frequencies
  /// everywhere scores it). A function of the step, so a resumed run logs the same.
  torch::Tensor semantic_counts;

  int64_t bucket_bytes() const { return cfg.dist.bucket_mb << 20; }

  /// What rank 0 broadcasts: parameters, buffers and (after a resume) the optimizer state.
  std::vector<torch::Tensor> state_tensors(bool with_optimizer) {
    std::vector<torch::Tensor> out;
    for (const auto& p : model->parameters()) out.push_back(p);
    for (const auto& b : model->buffers()) out.push_back(b);
    if (ema) {
      for (const auto& t : ema->named_tensors()) out.push_back(t.second);
    }
    if (with_optimizer) {
      for (const auto& t : optimizer->state_tensors()) out.push_back(t);
    }
    return out;
  }

  /// Sums a loss's counts over the processes (losses::CountSum).
  torch::Tensor sum_over_processes(const torch::Tensor& counts) const {
    auto summed = counts.clone();
    group->all_reduce_sum(summed);
    return summed;
  }

  /// What step 2 of train_step plugs into the shared step: each micro-batch's batch (from
  /// the loader, or a benchmark's), masking and class counts on the host, then forward and
  /// the loss. Its figures: the weighted total, then each modality's term.
  DataParallelStep::Hooks step_hooks(const ModalityWeights& loss_weights) {
    DataParallelStep::Hooks hooks;
    semantic_counts = torch::Tensor();
    hooks.next_batch = [this](int64_t micro_step) {
      if (given) {  // a benchmark's micro-batches, already masked and on the device
        return (*given)[static_cast<size_t>(given_next++ % static_cast<int64_t>(given->size()))];
      }
      return loader->batch(micro_step);
    };
    hooks.prepare = [this](Batch& batch, int64_t micro_step) {
      if (given) return;
      if (ema) mask_in_step(batch, micro_step);
      if (batch.semantic.defined() && cfg.model.has(Modality::kSemantic)) {
        const auto labels = batch.semantic.flatten();
        auto counts = torch::bincount(labels.masked_select(labels.ne(kIgnoreClass)), {},
                                      cfg.model.num_semantic_classes)
                          .to(torch::kDouble);
        semantic_counts = semantic_counts.defined()
                              ? semantic_counts + counts.narrow(0, 0, semantic_counts.size(0))
                              : counts;
      }
    };
    losses::CountSum count_sum;
    if (group) count_sum = [this](const torch::Tensor& c) { return sum_over_processes(c); };
    // Data-parallel: each term is this process's share of the global batch's term (the
    // counts are global): LossScope::kGlobalShare.
    hooks.forward_loss = [this, loss_weights, count_sum](const Batch& batch, bool /*last*/) {
      losses::LossTerms terms;
      {
        AutocastScope scope(autocast);
        auto out = model->forward(batch);
        terms = loss_fn(out.predictions, out.rows, batch, loss_weights, count_sum);
      }
      std::vector<torch::Tensor> row = {terms.total.detach().to(torch::kFloat)};
      for (const auto& t : terms.terms) row.push_back(t.second.detach().to(torch::kFloat));
      return MicroBatchLoss{terms.total, torch::stack(row)};
    };
    if (ema) hooks.after_update = [this] { ema->update(*model); };
    return hooks;
  }

  /// Training progress at optimizer step `step`.
  double progress(int64_t step) const {
    return static_cast<double>(step) / static_cast<double>(total_steps);
  }
  /// Masks micro-batch `micro_step` (= step * accum + k) by the curriculum at its step's
  /// progress; a pure function of (seed, step, k). Runs on the loader's threads.
  void mask_batch(Batch& batch, int64_t micro_step, const torch::Tensor& affinity = {}) const {
    const int64_t step = micro_step / accum, k = micro_step % accum;
    masking::MaskInputs inputs(batch);
    inputs.progress = progress(step);
    inputs.affinity = affinity;
    // Process r holds samples [r * b, (r + 1) * b) of the global batch.
    batch.mask = masker.make_mask(inputs, curriculum.generator_weights(inputs.progress),
                                  mix_seed({seed, static_cast<uint64_t>(k)}), step,
                                  /*global_offset=*/rank * batch.size(),
                                  /*global_size=*/world * batch.size());
    attach_token_indices(batch);
    if (cfg.model.has(Modality::kInstance)) attach_slot_order(batch);
  }

  /// Masks a batch on the main thread, with the EMA encoder's affinity when a generator of
  /// positive weight at this step reads it.
  void mask_in_step(Batch& batch, int64_t micro_step) {
    const auto weights = curriculum.generator_weights(progress(micro_step / accum));
    torch::Tensor affinity;
    if (masker.needs(&weights).affinity) {
      const auto start = Clock::now();
      affinity = ema->affinity(batch.rgb, autocast);
      affinity_seconds += std::chrono::duration<double>(Clock::now() - start).count();
    }
    mask_batch(batch, micro_step, affinity);
  }

  /// The instance adapter's slot permutation of each sample, from its global position.
  void attach_slot_order(Batch& batch) const {
    const int64_t b = batch.size(), k = cfg.model.instance_slots;
    auto order = torch::empty({b, k}, torch::kLong);
    auto* out = order.data_ptr<int64_t>();
    const auto* position = batch.position.data_ptr<int64_t>();
    std::vector<int64_t> slots(static_cast<size_t>(k));
    for (int64_t i = 0; i < b; ++i) {
      Rng rng(mix_seed({seed, static_cast<uint64_t>(position[i]), 0x5107u}));
      for (int64_t s = 0; s < k; ++s) slots[static_cast<size_t>(s)] = s;
      choose_uniform(rng, slots, k);
      std::copy(slots.begin(), slots.end(), out + i * k);
    }
    batch.slot_order = order;
  }
};

PretrainEngine::Impl::Impl(const config::PretrainConfig& config, distributed::Communicator* group_)
    : cfg(config),
      group(group_ && group_->world_size() > 1 ? group_ : nullptr),
      rank(group ? group->rank() : 0),
      world(group ? group->world_size() : 1),
      seed(static_cast<uint64_t>(cfg.train.seed)),
      device(choose_device(cfg.train, group ? group->env().local_rank : 0)),
      autocast(device.is_cuda() && cfg.train.precision == config::Precision::kBf16),
      curriculum(cfg.curriculum, cfg.loss),
      masker(masking::MaskSpec::from_config(cfg.model, cfg.masking), cfg.masking,
             curriculum.generator_names()),
      loss_fn(cfg.model, cfg.loss) {
  auto dataset = data::make_dataset(cfg.data, seed, cfg.data.split);
  check_run_length(cfg.origins, cfg.data, cfg.optim, cfg.train, dataset->size(), world);
  // Label maps are read when a modality or a generator reads them.
  const bool maps = cfg.model.has(Modality::kSemantic) || cfg.model.has(Modality::kInstance) ||
                    masker.needs().label_maps;
  if (maps && !dataset->has_masks()) {
    throw UsageError(with_hint(
        "data.root = " + cfg.data.root +
            " holds images only (an ImageFolder), but the model's "
            "modalities or the curriculum's generators read semantic and instance maps",
        "use a dataset in MultiMAE's layout (<split>/{rgb,semseg,instance}/<class>/), or "
        "pre-train RGB only (model.modalities: [rgb]) with generators that read no map "
        "(with this masking section: " +
            masking::generators_that(masking::MaskSpec::from_config(cfg.model, cfg.masking),
                                     cfg.masking,
                                     [](const masking::MaskNeeds& n) { return !n.label_maps; }) +
            ")"));
  }
  accum = cfg.optim.accum_steps;
  // Before anything large is allocated: a run that cannot fit stops here, naming its keys.
  memory = estimate_pretrain_memory(cfg, device, autocast, masker.needs().affinity,
                                    group ? group->env().local_world_size : 1);
  check_memory_budget(memory, device, cfg.train.memory_check);
  // The loader's threads turn each batch into what the step reads: label maps at the label
  // resolution, canonical instance ids, the mask, and the visible and masked token indices
  // (so the step itself never reads them back from the device). The transform reads
  // accum and total_steps, set below before any batch is asked for.
  auto options = data::loader_options(cfg.data, cfg.model.img_size, seed, rank, world);
  options.masks = maps;
  options.max_instances = maps ? cfg.model.instance_slots : 0;
  if (cfg.model.has(Modality::kSemantic))
    options.num_semantic_classes = cfg.model.num_semantic_classes;
  options.pin_memory = device.is_cuda();
  // With an EMA encoder the masks need this step's encoder: the step makes them.
  if (!masker.needs().affinity) {
    options.transform = [this](Batch& batch, int64_t micro_step) { mask_batch(batch, micro_step); };
  }
  loader = std::make_unique<data::BatchLoader>(dataset, options);
  steps_per_epoch = loader->micro_steps_per_epoch() / accum;
  total_steps = cfg.train.epochs * steps_per_epoch;
  effective_batch = cfg.data.batch_size * accum * world;
  lr_schedule = optim::make_schedule(cfg.optim, steps_per_epoch, total_steps, effective_batch);
  torch::manual_seed(seed);  // weight initialisation
  model = models::C2fmae(cfg.model);
  model->backbone->set_activation_checkpointing(cfg.train.activation_checkpointing);
  model->to(device);
  model->train();
  optimizer =
      std::make_unique<optim::AdamW>(optim::make_adamw(model->named_parameters(), cfg.optim));
  if (masker.needs().affinity)
    ema = std::make_unique<EmaEncoder>(*model, cfg.masking.affinity_ema_decay);
  DataParallelStep::Options step_options;
  step_options.accum_steps = accum;
  step_options.clip_grad = cfg.optim.clip_grad;
  step_options.bucket_bytes = bucket_bytes();
  step_options.max_bad_fraction = cfg.data.max_bad_fraction;
  step_options.dataset_size = dataset->size();
  step_options.loss_scope = LossScope::kGlobalShare;
  // Every process initialised the same weights from the seed; rank 0's are broadcast all
  // the same.
  steps = std::make_unique<DataParallelStep>(group, device, model->parameters(), *optimizer,
                                             step_options, state_tensors(/*with_optimizer=*/false));
}

PretrainEngine::PretrainEngine(const config::PretrainConfig& cfg,
                               distributed::Communicator* group) {
  check_pretrain_config(cfg);
  impl_ = std::make_unique<Impl>(cfg, group);
  if (!impl_->device.is_cuda() && cfg.train.precision == config::Precision::kBf16) {
    log::info("train.precision = bf16 applies to CUDA (autocast); this CPU run computes in fp32");
  }
}

PretrainEngine::~PretrainEngine() = default;

std::vector<Batch> PretrainEngine::device_batches(int64_t count) {
  auto& m = *impl_;
  std::vector<Batch> out;
  for (int64_t micro_step = 0; micro_step < count; ++micro_step) {
    auto batch = m.loader->batch(micro_step);
    if (m.ema) m.mask_in_step(batch, micro_step);
    out.push_back(batch.to(m.device));
  }
  return out;
}

PretrainStepStats PretrainEngine::train_step(int64_t step, const std::vector<Batch>& batches) {
  TORCH_CHECK(!batches.empty(), "train_step: no batches given");
  impl_->given = &batches;
  try {
    auto s = train_step(step);
    impl_->given = nullptr;
    return s;
  } catch (...) {
    impl_->given = nullptr;
    throw;
  }
}

PretrainStepStats PretrainEngine::train_step(int64_t step) {
  auto& m = *impl_;
  PretrainStepStats s;
  const auto start = Clock::now();
  // Every RNG draw inside the step (e.g. instance slot permutations) is a function of the step.
  torch::manual_seed(mix_seed({m.seed, static_cast<uint64_t>(step), 0x57E9u}));

  // 1. Where the run is: progress, curriculum weights and lr, once per step.
  s.progress = m.progress(step);
  const auto generator_weights = m.curriculum.generator_weights(s.progress);
  const auto loss_weights = m.curriculum.loss_weights(s.progress);
  s.lr = optim::learning_rate(m.lr_schedule, step);
  for (size_t g = 0; g < generator_weights.names.size(); ++g) {
    s.generator_weights.emplace_back(generator_weights.names[g], generator_weights.values[g]);
  }

  // 2. The shared step (data_parallel_step.h): per micro-batch the batch (masked on the
  //    loader's threads), forward, loss and backward with no host sync; then the gradient
  //    norm, one host read of every figure (data-parallel: summed over the processes, so
  //    that every process takes the same decisions) and the update, unless a loss or the
  //    norm is non-finite.
  m.affinity_seconds = 0.0;
  const auto r = m.steps->run(step, s.lr, m.step_hooks(loss_weights));
  s.skipped = r.skipped;
  s.loss = r.loss;
  s.grad_norm = r.grad_norm;
  for (size_t i = 0; i < m.cfg.model.modalities.size(); ++i) {
    s.terms.emplace_back(m.cfg.model.modalities[i], r.figures[i + 1]);
  }
  s.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  s.data_wait_seconds = r.data_wait_seconds;
  return s;
}

torch::Tensor PretrainEngine::forward_backward(int64_t step) {
  auto& m = *impl_;
  torch::manual_seed(mix_seed({m.seed, static_cast<uint64_t>(step), 0x57E9u}));
  return m.steps->forward_backward(step, m.step_hooks(m.curriculum.loss_weights(m.progress(step))));
}

StepOutcome PretrainEngine::run_step(int64_t step) {
  const auto s = train_step(step);
  StepOutcome out;
  out.skipped = s.skipped;
  out.loss = s.loss;
  out.seconds = s.seconds;
  if (s.skipped) {
    out.skip_reason = std::isfinite(s.loss)
                          ? c10::str("non-finite gradient norm (", s.grad_norm, ")")
                          : c10::str("non-finite loss (", s.loss, ")");
    return out;
  }
  if (!impl_->initial_terms_logged) {
    // The balance of the weighted terms where the run starts (README, "Loss weights").
    impl_->initial_terms_logged = true;
    const auto weights = impl_->curriculum.loss_weights(s.progress);
    std::string text;
    double lo = std::numeric_limits<double>::infinity(), hi = 0;
    for (const auto& [mod, value] : s.terms) {
      const double w = weights.get(mod), weighted = w * value;
      text += c10::str(text.empty() ? "" : ", ", modality_name(mod), " ", value, " x ", w, " = ",
                       weighted);
      if (w > 0) lo = std::min(lo, weighted), hi = std::max(hi, weighted);
    }
    log::info(c10::str("loss terms at step ", step, ": ", text,
                       hi > 0 && lo > 0 ? c10::str(" (largest / smallest weighted: ", hi / lo, ")")
                                        : std::string()));
  }
  std::string terms;
  for (const auto& [mod, value] : s.terms) {
    out.metrics.add(std::string("loss_") + modality_name(mod), value);
    terms += c10::str(terms.empty() ? "" : " ", modality_name(mod), " ", value);
  }
  if (const auto& counts = impl_->semantic_counts;
      counts.defined() && counts.sum().item<double>() > 0) {
    // The trivial baselines beside the terms: the semantic class prior's entropy (nats), and
    // 1 for norm-pix RGB (predicting 0 scores the per-patch variance, 1).
    const auto p = counts / counts.sum();
    out.metrics.add("semantic_prior_ce", -(p * p.clamp_min(1e-300).log()).sum().item<double>());
  }
  out.metrics.add("lr", s.lr);
  for (const auto& [name, w] : s.generator_weights) out.metrics.add("w_" + name, w);
  out.metrics.add("grad_norm", s.grad_norm);
  out.metrics.add("data_skipped", impl_->steps->bad_samples().skipped);
  out.metrics.add("data_wait_s", s.data_wait_seconds);
  if (impl_->ema) out.metrics.add("affinity_s", impl_->affinity_seconds);
  out.summary = c10::str("(", terms, ") lr ", s.lr);
  return out;
}

std::map<std::string, int64_t> PretrainEngine::counters() const {
  return {{"data_skipped", impl_->steps->bad_samples().skipped},
          {"data_read", impl_->steps->bad_samples().read},
          {"effective_batch", impl_->effective_batch}};
}

void PretrainEngine::restore_counters(const std::map<std::string, int64_t>& counters) {
  auto get = [&](const char* name) {
    const auto it = counters.find(name);
    return it == counters.end() ? int64_t{0} : it->second;
  };
  impl_->steps->bad_samples().skipped = get("data_skipped");
  impl_->steps->bad_samples().read = get("data_read");
  const int64_t stored = get("effective_batch");
  if (stored > 0 && stored != impl_->effective_batch) {
    // E.g. resumed on another number of processes with the same per-process batch.
    log::warn(c10::str("the checkpoint was written with an effective batch of ", stored,
                       ", this run has ", impl_->effective_batch,
                       ": its steps continue with the new batch (data order, epoch length and "
                       "the learning rate follow it); for an exact continuation keep "
                       "data.batch_size x optim.accum_steps x processes at ",
                       stored));
  }
}

void PretrainEngine::fresh_start() {
  const auto& path = impl_->cfg.train.pretrained;
  if (path.empty()) return;
  const auto file = read_weights(path);
  log::info("pretrained weights " + file.path + " (" + file.kind +
            "): " + load_weights(*impl_->model, file).text());
  if (impl_->ema) impl_->ema->reset(*impl_->model);  // the EMA starts from the loaded weights
}

std::vector<std::pair<std::string, torch::Tensor>> PretrainEngine::extra_state() {
  return impl_->ema ? impl_->ema->state() : std::vector<std::pair<std::string, torch::Tensor>>{};
}

void PretrainEngine::restore_extra_state(
    const std::vector<std::pair<std::string, torch::Tensor>>& stored) {
  auto& m = *impl_;
  using Outcome = EmaEncoder::Restored::Outcome;
  if (!m.ema) {
    for (const auto& entry : stored) {
      if (entry.first.rfind("ema_encoder.", 0) == 0) {
        log::warn(
            "the checkpoint's EMA encoder is dropped: no generator of this curriculum "
            "reads the attention affinity (a later resume that reads it again starts a "
            "new one)");
        break;
      }
    }
    return;
  }
  const auto restored = m.ema->restore(stored);
  if (restored.outcome == Outcome::kLoaded) return;
  log::warn(restored.outcome == Outcome::kMismatch
                ? "the checkpoint's EMA encoder does not fit this model: the EMA encoder starts "
                  "from the resumed weights"
                : "the checkpoint holds no EMA encoder for the affinity-guided mask generators "
                  "(none of its run's read the affinity): it starts from the resumed weights");
  m.ema->reset(*m.model);
}

torch::Tensor PretrainEngine::picture(int64_t step) {
  auto& m = *impl_;
  if (!m.picture_samples.rgb.defined()) {
    m.picture_samples = read_preview_samples(m.cfg, m.cfg.log.pictures_count, /*quiet=*/true);
    m.picture_samples.position = torch::arange(m.picture_samples.size(), torch::kLong);
  }
  Batch batch = m.picture_samples;
  masking::MaskInputs inputs(batch);
  inputs.progress = std::min(1.0, m.progress(step));
  const auto weights = m.curriculum.generator_weights(inputs.progress);
  if (m.masker.needs(&weights).affinity) inputs.affinity = m.ema->affinity(batch.rgb, m.autocast);
  // The same masks for the same step, whatever the run's batch layout.
  batch.mask = m.masker.make_mask(inputs, weights, mix_seed({m.seed, 0x9C7u}), step);
  if (m.cfg.model.has(Modality::kInstance)) m.attach_slot_order(batch);
  torch::NoGradGuard no_grad;
  m.model->eval();
  models::ModelOutput out;
  try {
    AutocastScope scope(m.autocast);
    out = m.model->forward(batch.to(m.device), /*all_tokens=*/true);
  } catch (...) {
    m.model->train();
    throw;
  }
  m.model->train();
  return reconstruction_picture(batch, out, m.cfg.model, m.cfg.loss, m.cfg.model.img_size);
}

void PretrainEngine::synchronize_state() {
  auto& m = *impl_;
  if (m.group) m.steps->broadcast(m.state_tensors(/*with_optimizer=*/true));
}

void PretrainEngine::check_replicas() {
  auto& m = *impl_;
  m.steps->check_replicas(m.model->parameters());
}

int64_t PretrainEngine::total_steps() const { return impl_->total_steps; }
int64_t PretrainEngine::steps_per_epoch() const { return impl_->steps_per_epoch; }
int64_t PretrainEngine::samples_per_step() const { return impl_->effective_batch; }
torch::Device PretrainEngine::device() const { return impl_->device; }
torch::nn::Module& PretrainEngine::module() { return *impl_->model; }
optim::AdamW& PretrainEngine::optimizer() { return *impl_->optimizer; }

std::vector<std::pair<std::string, std::string>> PretrainEngine::describe() const {
  const auto& m = *impl_;
  int64_t params = 0;
  for (const auto& p : m.model->parameters()) params += p.numel();
  const auto& spec = m.masker.spec();
  const auto& o = m.cfg.optim;
  return {
      {"device", c10::str(m.device, m.autocast ? " (bf16 autocast)" : " (fp32)")},
      {"parameters", c10::str(params / 1e6, " M")},
      {"memory estimate", m.memory.describe()},
      {"effective batch",
       c10::str(m.effective_batch, " (", m.cfg.data.batch_size, " x ", m.accum, " accumulation x ",
                m.world, m.world == 1 ? " process)" : " processes)")},
      {"processes", m.group
                        ? c10::str(m.world, " (", m.group->backend(), ", ", m.group->env().launcher,
                                   ", gradient buckets of ", m.cfg.dist.bucket_mb, " MiB, timeout ",
                                   m.cfg.dist.timeout_s, " s)")
                        : std::string("1")},
      {"learning rate",
       c10::str(m.lr_schedule.peak_lr,
                o.lr > 0 ? " (optim.lr)"
                         : c10::str(" (blr ", o.blr, " x ", m.effective_batch, " / 256)"))},
      {"steps", c10::str(m.total_steps, " (", m.steps_per_epoch, " per epoch x ",
                         m.cfg.train.epochs, " epochs), warm-up ", m.lr_schedule.warmup_steps)},
      {"visible tokens",
       c10::str(spec.num_visible, " of ", spec.num_modalities() * spec.num_patches(), " (",
                spec.num_modalities(), " modalities x ", spec.num_patches(), " patches)")},
  };
}

std::string PretrainEngine::nonfinite_hint() const {
  const auto& cfg = impl_->cfg;
  // The likeliest cause first.
  if (cfg.optim.lr > 0) {
    return c10::str("optim.lr = ", cfg.optim.lr,
                    " is set directly: lower it (or set optim.clip_grad, e.g. 3.0)");
  }
  for (const auto& [key, w] : {std::pair{"loss.weight_semantic", cfg.loss.weight_semantic},
                               {"loss.weight_instance", cfg.loss.weight_instance},
                               {"loss.weight_rgb", cfg.loss.weight_rgb}}) {
    if (w > 100) return c10::str(key, " = ", w, " is large: lower it");
  }
  for (const auto& k : cfg.curriculum.keyframes) {
    for (const auto& [m, w] : k.loss_weights) {
      if (w > 100) {
        return c10::str("a curriculum keyframe sets ", config::loss_weight_key(m), " = ", w,
                        ": lower it");
      }
    }
  }
  return c10::str("lower optim.blr (", cfg.optim.blr,
                  "), set optim.clip_grad (e.g. 3.0), or check the data for broken samples");
}

RunResult pretrain(const config::PretrainConfig& cfg, RunOptions options) {
  PretrainEngine engine(cfg);
  RunShell shell(cfg, cfg.train, cfg.log, std::move(options));
  return shell.run(engine);
}

}  // namespace c2fmae::train
