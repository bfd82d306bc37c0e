#include "c2fmae/train/trainer.h"

#include <ATen/autocast_mode.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "c2fmae/core/log.h"
#include "c2fmae/core/seeding.h"
#include "c2fmae/curriculum/curriculum_masker.h"
#include "c2fmae/data/batch_loader.h"
#include "c2fmae/data/synthetic_shapes.h"
#include "c2fmae/losses/c2fmae_loss.h"
#include "c2fmae/models/c2fmae_model.h"
#include "c2fmae/optim/adamw.h"
#include "c2fmae/optim/gradient_clipping.h"
#include "c2fmae/optim/lr_schedule.h"
#include "c2fmae/train/checkpoint.h"
#include "c2fmae/train/metrics_log.h"
#include "c2fmae/train/progress_line.h"
#include "c2fmae/train/run_directory.h"
#include "c2fmae/train/stop_signal.h"

namespace c2fmae::train {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;

/// bf16 autocast on CUDA for the forward pass and the loss.
class AutocastScope {
 public:
  explicit AutocastScope(bool enabled) : enabled_(enabled) {
    if (!enabled_) return;
    at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
    at::autocast::set_autocast_enabled(at::kCUDA, true);
  }
  ~AutocastScope() {
    if (!enabled_) return;
    at::autocast::set_autocast_enabled(at::kCUDA, false);
    at::autocast::clear_cache();
  }

 private:
  bool enabled_;
};

double memory_gib(const torch::Device& device) {
  if (device.is_cuda()) {
    const auto stats =
        c10::cuda::CUDACachingAllocator::getDeviceStats(device.index() < 0 ? 0 : device.index());
    return static_cast<double>(stats.allocated_bytes[0].peak) / (1ull << 30);
  }
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE)) /
         (1ull << 30);
}

/// The run's train.log receives every log message while the trainer lives.
class LogFileScope {
 public:
  explicit LogFileScope(std::string path) : path_(std::move(path)) { log::add_file_sink(path_); }
  ~LogFileScope() { log::remove_file_sink(path_); }
  LogFileScope(const LogFileScope&) = delete;
  LogFileScope& operator=(const LogFileScope&) = delete;

 private:
  std::string path_;
};

/// SIGINT / SIGTERM are recorded (not fatal) while the training loop runs.
class StopHandlerScope {
 public:
  StopHandlerScope() { install_stop_handlers(); }
  ~StopHandlerScope() { remove_stop_handlers(); }
  StopHandlerScope(const StopHandlerScope&) = delete;
  StopHandlerScope& operator=(const StopHandlerScope&) = delete;
};

/// What one optimizer step produced.
struct StepStats {
  bool skipped = false;
  double loss = 0.0;
  std::vector<std::pair<Modality, double>> terms;
  double grad_norm = std::nan("");
  double lr = 0.0;
  double seconds = 0.0;
};

}  // namespace

struct Trainer::Impl {
  config::Config cfg;
  TrainerOptions options;
  std::string run_dir;
  std::unique_ptr<LogFileScope> log_file;
  torch::Device device = torch::kCPU;
  bool autocast = false;
  models::C2fmae model{nullptr};
  std::unique_ptr<optim::AdamW> optimizer;
  std::unique_ptr<data::BatchLoader> loader;
  std::unique_ptr<curriculum::CurriculumMasker> masker;
  std::unique_ptr<losses::C2fmaeLoss> loss_fn;
  std::unique_ptr<CheckpointManager> checkpoints;
  std::unique_ptr<MetricsLog> metrics;
  optim::LrSchedule schedule;
  int64_t steps_per_epoch = 0, total_steps = 0, effective_batch = 0, accum = 1;
  TrainingState state;
  int64_t consecutive_nonfinite = 0;
  uint64_t seed = 0;

  void setup();
  void resume_if_asked();
  void print_start_table() const;
  StepStats train_step(int64_t step);
  std::string save(int64_t step);
  void log_step(int64_t step, const StepStats& s);
  TrainResult run();
};

Trainer::Trainer(config::Config config, TrainerOptions options) : impl_(std::make_unique<Impl>()) {
  config.validate();
  impl_->cfg = std::move(config);
  impl_->options = std::move(options);
}

Trainer::~Trainer() = default;

void Trainer::Impl::setup() {
  run_dir = cfg.train.output_dir;
  log::set_level(log::parse_level(cfg.log.level));
  // Whatever can refuse the run comes before the run directory is touched: a failed start
  // must not leave a directory that the corrected command then refuses to start in.
  const bool cuda = torch::cuda::is_available();
  if (cfg.train.device == "cuda" && !cuda) {
    throw std::runtime_error(
        "train.device = cuda, but no CUDA device is available\nhint: use "
        "--set train.device=cpu or auto");
  }
  device = (cfg.train.device == "cpu" || !cuda) ? torch::Device(torch::kCPU)
                                                : torch::Device(torch::kCUDA, 0);
  autocast = device.is_cuda() && cfg.train.precision == "bf16";
  seed = static_cast<uint64_t>(cfg.train.seed);

  auto dataset = std::make_shared<data::SyntheticShapes>(cfg.data.synthetic_samples, seed);
  const bool semantic_on = cfg.model.has(Modality::kSemantic);
  const int64_t classes = data::SyntheticShapes::kNumSemanticClasses;
  config::Checker(cfg.origins)
      .require(!semantic_on || cfg.model.num_semantic_classes >= classes,
               "model.num_semantic_classes", cfg.model.num_semantic_classes,
               "the synthetic dataset has " + std::to_string(classes) + " semantic classes",
               "set model.num_semantic_classes >= " + std::to_string(classes));
  data::LoaderOptions lo;
  lo.batch_size = cfg.data.batch_size;
  lo.img_size = cfg.model.img_size;
  lo.num_workers = cfg.data.num_workers;
  lo.seed = seed;
  lo.augmentation.scale_min = cfg.data.crop_scale_min;
  lo.augmentation.scale_max = cfg.data.crop_scale_max;
  lo.augmentation.hflip = cfg.data.hflip;
  loader = std::make_unique<data::BatchLoader>(dataset, lo);

  accum = cfg.optim.accum_steps;
  steps_per_epoch = loader->steps_per_epoch() / accum;
  if (steps_per_epoch < 1) {
    throw std::runtime_error(c10::str("an epoch of ", loader->steps_per_epoch(),
                                      " micro-batches is shorter than optim.accum_steps = ", accum,
                                      "\nhint: lower optim.accum_steps or data.batch_size"));
  }
  total_steps = cfg.train.epochs * steps_per_epoch;
  effective_batch = cfg.data.batch_size * accum;  // x world size once distributed
  schedule.peak_lr = optim::scaled_learning_rate(cfg.optim.blr, cfg.optim.lr, effective_batch);
  schedule.min_lr = cfg.optim.min_lr;
  schedule.warmup_steps =
      static_cast<int64_t>(std::llround(cfg.optim.warmup_epochs * steps_per_epoch));
  schedule.total_steps = total_steps;

  const auto mode = options.overwrite         ? RunDirectoryMode::kOverwrite
                    : !options.resume.empty() ? RunDirectoryMode::kResume
                                              : RunDirectoryMode::kNew;
  prepare_run_directory(run_dir, mode);
  log_file = std::make_unique<LogFileScope>((fs::path(run_dir) / "train.log").string());
  if (!device.is_cuda() && cfg.train.precision == "bf16") {
    log::info("train.precision = bf16 applies to CUDA (autocast); this CPU run computes in fp32");
  }

  torch::manual_seed(seed);  // weight initialisation
  model = models::C2fmae(cfg.model);
  model->to(device);
  model->train();
  optimizer = std::make_unique<optim::AdamW>(
      optim::weight_decay_groups(model->named_parameters(), cfg.optim.weight_decay),
      optim::AdamWOptions{cfg.optim.beta1, cfg.optim.beta2, cfg.optim.eps});
  masker = std::make_unique<curriculum::CurriculumMasker>(cfg);
  loss_fn = std::make_unique<losses::C2fmaeLoss>(cfg.model, cfg.loss);
  checkpoints = std::make_unique<CheckpointManager>(run_dir, cfg.train.keep_last);
  state.config_yaml = cfg.dump_yaml();
}

void Trainer::Impl::resume_if_asked() {
  if (options.resume.empty()) return;
  std::string path;
  if (options.resume == "auto") {
    auto found = checkpoints->newest_valid();
    if (!found) {
      log::info("--resume auto: no checkpoint in " + run_dir + " yet, starting from step 0");
      return;
    }
    path = *found;
  } else {
    path = options.resume;
  }
  auto check_config = [&](const TrainingState& stored) {
    if (stored.config_yaml.empty()) return;
    config::Config saved;
    saved.merge_yaml(stored.config_yaml, path);
    if (saved.section_yaml("model") != cfg.section_yaml("model")) {
      throw std::runtime_error("checkpoint " + path +
                               " was written by a run with another model "
                               "section\nhint: resume with the run's own config.yaml");
    }
    saved.data.num_workers = cfg.data.num_workers;  // threads do not change what is computed
    for (const char* s : {"masking", "curriculum", "loss", "data", "optim"}) {
      if (saved.section_yaml(s) != cfg.section_yaml(s)) {
        log::warn(std::string("resuming with a different '") + s +
                  "' section than the run "
                  "started with: the run will not replay the uninterrupted one exactly");
      }
    }
    if (saved.train.epochs != cfg.train.epochs || saved.train.seed != cfg.train.seed) {
      log::warn("resuming with different train.epochs or train.seed: the schedule changes");
    }
  };
  auto loaded = load_checkpoint(path, model.ptr().get(), optimizer.get(), device, check_config);
  state.step = loaded.step;
  state.nonfinite_total = loaded.nonfinite_total;
  log::info(c10::str("resumed from ", path, " at step ", state.step));
}

void Trainer::Impl::print_start_table() const {
  int64_t params = 0;
  for (const auto& p : model->parameters()) params += p.numel();
  const auto spec = masker->spec();
  std::ostringstream os;
  os << "resolved config:\n" << cfg.table() << "derived:\n";
  auto row = [&](const std::string& k, const std::string& v) {
    os << "  " << std::left << std::setw(34) << k << " " << v << "\n";
  };
  row("device", c10::str(device, autocast ? " (bf16 autocast)" : " (fp32)"));
  row("parameters", c10::str(params / 1e6, " M"));
  row("effective batch", c10::str(effective_batch, " (", cfg.data.batch_size, " x ", accum,
                                  " accumulation x 1 process)"));
  row("learning rate",
      c10::str(schedule.peak_lr, cfg.optim.lr > 0 ? " (optim.lr)"
                                                  : c10::str(" (blr ", cfg.optim.blr, " x ",
                                                             effective_batch, " / 256)")));
  row("steps", c10::str(total_steps, " (", steps_per_epoch, " per epoch x ", cfg.train.epochs,
                        " epochs), warm-up ", schedule.warmup_steps));
  row("visible tokens",
      c10::str(spec.num_visible, " of ", spec.num_modalities() * spec.num_patches(), " (",
               spec.num_modalities(), " modalities x ", spec.num_patches(), " patches)"));
  row("run directory", run_dir);
  log::info(os.str());
}

StepStats Trainer::Impl::train_step(int64_t step) {
  StepStats s;
  const auto start = Clock::now();
  // Every RNG draw inside the step (e.g. instance slot permutations) is a function of the step.
  torch::manual_seed(mix_seed({seed, static_cast<uint64_t>(step), 0x57E9u}));
  const double progress = static_cast<double>(step) / static_cast<double>(total_steps);
  const auto loss_weights = masker->schedule().loss_weights(progress);
  s.lr = optim::learning_rate(schedule, step);
  // Losses stay on the device until the step ends: one host sync per step, for every
  // micro-batch's terms and the gradient norm together.
  std::vector<torch::Tensor> rows;  // per micro-batch: [total, term...]
  for (int64_t k = 0; k < accum; ++k) {
    auto batch = loader->batch(step * accum + k);
    batch.mask =
        masker->make_mask(batch, step, total_steps, mix_seed({seed, static_cast<uint64_t>(k)}));
    batch = batch.to(device, /*non_blocking=*/true);
    losses::LossTerms terms;
    {
      AutocastScope scope(autocast);
      auto out = model->forward(batch);
      terms = (*loss_fn)(out.predictions, batch, loss_weights);
    }
    std::vector<torch::Tensor> row = {terms.total.detach().to(torch::kFloat)};
    for (const auto& t : terms.terms) row.push_back(t.second.detach().to(torch::kFloat));
    rows.push_back(torch::stack(row));
    if (k == 0) {
      for (const auto& t : terms.terms) s.terms.emplace_back(t.first, 0.0);
    }
    // A non-finite loss gives non-finite gradients: the norm below catches it.
    (terms.total / static_cast<double>(accum)).backward();
  }
  // Always measured: a finite loss can still give inf / NaN gradients, which must not reach
  // the weights (nor the checkpoint of the "last good state").
  const auto norm = optim::clip_gradient_norm(model->parameters(), cfg.optim.clip_grad);
  const auto values = torch::cat({torch::stack(rows).flatten(), norm.to(torch::kFloat).view({1})})
                          .to(torch::kDouble)
                          .cpu();
  const auto* v = values.data_ptr<double>();
  const auto width = static_cast<int64_t>(s.terms.size()) + 1;
  for (int64_t k = 0; k < accum; ++k) {
    const double total = v[k * width];
    if (!std::isfinite(total)) {
      s.skipped = true;
      s.loss = total;
      break;
    }
    s.loss += total / accum;
    for (size_t i = 0; i < s.terms.size(); ++i) s.terms[i].second += v[k * width + 1 + i] / accum;
  }
  if (!s.skipped) {
    s.grad_norm = v[accum * width];
    s.skipped = !std::isfinite(s.grad_norm);
  }
  if (!s.skipped) optimizer->step(s.lr);
  optimizer->zero_grad();
  s.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return s;
}

std::string Trainer::Impl::save(int64_t step) {
  state.step = step;
  state.epoch = step / steps_per_epoch;
  state.data_position = step * accum;
  state.progress = static_cast<double>(step) / static_cast<double>(total_steps);
  const auto w = masker->schedule().generator_weights(state.progress).as_array();
  state.curriculum_weights.assign(w.begin(), w.end());
  return checkpoints->save(*model, *optimizer, state);
}

void Trainer::Impl::log_step(int64_t step, const StepStats& s) {
  const double progress = static_cast<double>(step) / static_cast<double>(total_steps);
  const auto w = masker->schedule().generator_weights(progress);
  const double images_per_s = static_cast<double>(effective_batch) / s.seconds;
  MetricsRecord r;
  r.add("step", step + 1)
      .add("epoch", static_cast<double>(step + 1) / steps_per_epoch)
      .add("loss", s.loss);
  for (const auto& t : s.terms) r.add(std::string("loss_") + modality_name(t.first), t.second);
  r.add("lr", s.lr)
      .add("w_semantic", w.semantic)
      .add("w_instance", w.instance)
      .add("w_random", w.random);
  if (std::isfinite(s.grad_norm)) r.add("grad_norm", s.grad_norm);
  r.add("images_per_s", images_per_s)
      .add("step_time_s", s.seconds)
      .add("memory_gib", memory_gib(device));
  r.add("nonfinite_skipped", state.nonfinite_total);
  metrics->write(r);
  std::string terms;
  for (const auto& t : s.terms) terms += c10::str(" ", modality_name(t.first), " ", t.second);
  log::info(c10::str("step ", step + 1, "/", total_steps, " loss ", s.loss, " (",
                     terms.substr(terms.empty() ? 0 : 1), ") lr ", s.lr, " | ", images_per_s,
                     " img/s ", s.seconds, " s/step"));
}

TrainResult Trainer::run() {
  try {
    return impl_->run();
  } catch (const std::exception& e) {
    // Logged here, while the run's train.log is still open, so the log says why it ended.
    const bool config = dynamic_cast<const config::ConfigError*>(&e) != nullptr;
    log::error(std::string(config ? "config error: " : "training failed: ") + e.what());
    throw;
  }
}

TrainResult Trainer::Impl::run() {
  auto& m = *this;
  m.setup();
  m.resume_if_asked();
  // Only now: a refused resume must not replace the run's own config.yaml.
  write_text_file((fs::path(m.run_dir) / "config.yaml").string(), m.cfg.dump_yaml());
  m.print_start_table();
  const auto metrics_path = (fs::path(m.run_dir) / "metrics.jsonl").string();
  if (const auto dropped = truncate_metrics(metrics_path, m.state.step)) {
    log::info(c10::str("metrics.jsonl: dropped ", dropped, " lines logged after step ",
                       m.state.step, " by the interrupted run (they are replayed)"));
  }
  m.metrics = std::make_unique<MetricsLog>(metrics_path);
  StopHandlerScope stop_handlers;
  ProgressLine progress(m.cfg.log.progress);
  TrainResult result;
  result.total_steps = m.total_steps;
  double avg_seconds = 0.0;
  int64_t step = m.state.step;
  for (; step < m.total_steps; ++step) {
    if (m.cfg.train.max_steps > 0 && step >= m.cfg.train.max_steps) break;
    const auto s = m.train_step(step);
    avg_seconds = avg_seconds == 0.0 ? s.seconds : 0.9 * avg_seconds + 0.1 * s.seconds;
    if (s.skipped) {
      ++m.consecutive_nonfinite;
      ++m.state.nonfinite_total;
      progress.finish();
      log::warn(c10::str("step ", step + 1, ": ",
                         std::isfinite(s.loss)
                             ? c10::str("non-finite gradient norm (", s.grad_norm, ")")
                             : c10::str("non-finite loss (", s.loss, ")"),
                         ", step skipped (", m.consecutive_nonfinite, " in a row, ",
                         m.state.nonfinite_total, " in all)"));
      if (m.consecutive_nonfinite >= m.cfg.train.max_nonfinite) {
        // No update happened in the skipped steps: the current state is the last good one.
        const auto path = m.save(step - m.consecutive_nonfinite + 1);
        throw NonFiniteLossError(
            c10::str(m.consecutive_nonfinite,
                     " steps in a row had a non-finite loss or gradient (train.max_nonfinite = ",
                     m.cfg.train.max_nonfinite, "); the last good state is in ", path,
                     "\nhint: lower optim.blr, set optim.clip_grad (e.g. 3.0), or check the data"));
      }
    } else {
      m.consecutive_nonfinite = 0;
      progress.update(progress_text(step + 1, m.total_steps, s.loss,
                                    static_cast<double>(m.effective_batch) / s.seconds,
                                    avg_seconds));
      if ((step + 1) % m.cfg.log.every == 0 || step == 0 || step + 1 == m.total_steps) {
        progress.finish();
        m.log_step(step, s);
      }
    }
    if (const int sig = stop_signal()) {
      progress.finish();
      result.checkpoint = m.save(step + 1);
      result.status = TrainResult::Status::kInterrupted;
      result.signal = sig;
      result.step = step + 1;
      log::warn(
          c10::str("stopped by signal ", sig, " after step ", step + 1, "; checkpoint ",
                   result.checkpoint, "\nresume with: ",
                   m.options.command_line.empty() ? "c2fmae_pretrain ..." : m.options.command_line,
                   " --resume auto"));
      return result;
    }
    if ((step + 1) % m.cfg.train.checkpoint_every == 0 && step + 1 < m.total_steps) {
      result.checkpoint = m.save(step + 1);
    }
  }
  progress.finish();
  result.step = step;
  if (m.state.step != step || result.checkpoint.empty()) result.checkpoint = m.save(step);
  result.status = step >= m.total_steps ? TrainResult::Status::kCompleted
                                        : TrainResult::Status::kStoppedAtMaxSteps;
  log::info(c10::str(
      result.status == TrainResult::Status::kCompleted ? "finished" : "stopped at train.max_steps",
      " after step ", step, "; checkpoint ", result.checkpoint));
  return result;
}

}  // namespace c2fmae::train
