#include "c2fmae/train/run_shell.h"

#include <c10/cuda/CUDACachingAllocator.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>

#include "c2fmae/core/affix.h"
#include "c2fmae/core/atomic_file.h"
#include "c2fmae/core/error_text.h"
#include "c2fmae/core/file_writer.h"
#include "c2fmae/core/log.h"
#include "c2fmae/core/usage_error.h"
#include "c2fmae/train/checkpoint.h"
#include "c2fmae/train/png_file.h"
#include "c2fmae/train/progress_line.h"
#include "c2fmae/train/run_directory.h"
#include "c2fmae/train/stop_signal.h"

namespace c2fmae::train {
namespace fs = std::filesystem;
namespace {

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

}  // namespace

struct RunShell::Impl {
  /// The run's train.log receives every log message while the shell runs.
  class LogFileScope {
   public:
    explicit LogFileScope(std::string path) : path_(std::move(path)) {
      regular_file_or_none(path_, /*devices=*/true);  // a FIFO would block the run for ever
      log::add_file_sink(path_);
    }
    ~LogFileScope() { log::remove_file_sink(path_); }
    LogFileScope(const LogFileScope&) = delete;
    LogFileScope& operator=(const LogFileScope&) = delete;

   private:
    std::string path_;
  };

  std::string config_yaml;                     ///< the resolved config, as saved
  std::string config_table;                    ///< the start-up table of it
  std::unique_ptr<config::ConfigRoot> config;  ///< a copy, to compare stored configs with
  config::TrainConfig train;
  config::LogConfig log;
  RunOptions options;
  std::string run_dir;
  std::unique_ptr<RunDirectory> directory;
  std::unique_ptr<LogFileScope> log_file;
  bool began = false;  ///< the run began (config.yaml written): a failure is no refused start
  std::unique_ptr<CheckpointManager> checkpoints;
  std::unique_ptr<MetricsLog> metrics;
  TrainingState state;
  int64_t consecutive_nonfinite = 0;
  /// The engine's counters after the last step that updated the model: what the checkpoint
  /// of the last good state holds, so that a run resumed from it, replaying the skipped
  /// steps, does not count their bad samples twice.
  std::map<std::string, int64_t> good_counters;
  bool saved = false;  ///< a checkpoint was saved by this run (on every rank alike)

  void prepare();
  void resume_if_asked(Engine& engine);
  void start(Engine& engine);
  void share_start(Engine& engine, const std::string& failure, bool usage);
  /// Whether a stop signal arrived here (or, data-parallel, on any rank).
  int agreed_stop_signal();
  void finish();
  void check_stored_config(const TrainingState& stored, const std::string& path) const;
  void print_start_table(const Engine& engine) const;
  /// Saves a checkpoint of `step` (data-parallel: checks the replicas first); `counters`: the
  /// engine's as of that step, if not the current ones. Returns its path ("" on ranks that
  /// do not write).
  std::string save(Engine& engine, int64_t step,
                   const std::map<std::string, int64_t>* counters = nullptr);
  void log_step(const Engine& engine, int64_t step, const StepOutcome& s);
  void evaluate(Engine& engine, int64_t step);
  /// The writer saves engine.picture(step) as pictures/step_<step>.png. A picture is a
  /// look at the run, not its state: a failure (e.g. a full disk) is a warning.
  void write_picture(Engine& engine, int64_t step);
  int64_t pictured_step = -1;  ///< the step of the last picture in this run
  RunResult run(Engine& engine);
  int64_t evaluated_step = -1;  ///< the step of the last evaluation in this run
};

namespace {

/// A config key (or a "section." prefix) that may differ without changing what a run
/// computes: on resume (a warning names any other difference) and, where
/// `between_processes`, between the processes of a data-parallel run (any other difference
/// is refused: e.g. train.checkpoint_every steers when the processes meet, and processes
/// that disagree on it would wait for each other for ever).
struct FreeKey {
  const char* key;
  bool between_processes;
};
constexpr FreeKey kFreeKeys[] = {
    {"log.", true},
    // Not dist.bucket_mb: with 3 or more processes the buckets set the order in which the
    // gradients are summed.
    {"dist.backend", false},
    {"dist.timeout_s", false},
    {"data.num_workers", false},
    {"data.prefetch", false},
    {"data.max_bad_fraction", false},
    {"train.max_steps", false},
    {"train.device", false},
    {"train.checkpoint_every", false},
    {"train.eval_every", false},
    {"train.keep_last", false},
    {"train.max_nonfinite", false},
    {"train.pretrained", false},
    {"train.memory_check", false},
    {"train.activation_checkpointing", false},
};

enum class Between { kResumes, kProcesses };

bool is_free_key(const std::string& key, Between between) {
  for (const auto& f : kFreeKeys) {
    if ((between == Between::kResumes || f.between_processes) && starts_with(key, f.key)) {
      return true;
    }
  }
  return false;
}

}  // namespace

void check_same_config(distributed::Communicator& group, const config::ConfigRoot& config) {
  const auto theirs = group.broadcast_text(config.dump_yaml());
  std::string keys;
  for (const auto& key : config.differing_keys(theirs, "rank 0's config")) {
    if (is_free_key(key, Between::kProcesses)) continue;
    keys += (keys.empty() ? "" : ", ") + key;
  }
  if (group.any(!keys.empty())) {
    throw UsageError(
        with_hint(keys.empty() ? c10::str("another process of this run (", group.world_size(),
                                          " processes) was started with another config than rank 0")
                               : c10::str(group.env().describe(),
                                          " was started with another config than "
                                          "rank 0: ",
                                          keys, " differ"),
                  "start every process with the same --config files and --set values"));
  }
}

RunShell::RunShell(const config::ConfigRoot& config, const config::TrainConfig& train,
                   const config::LogConfig& log, RunOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->config_yaml = config.dump_yaml();
  impl_->config_table = config.table();
  impl_->config = config.fresh();
  impl_->config->merge_yaml(impl_->config_yaml, "the resolved config");
  impl_->train = train;
  impl_->log = log;
  impl_->options = std::move(options);
  impl_->run_dir = train.output_dir;
}

RunShell::~RunShell() = default;

void RunShell::Impl::prepare() {
  if (!options.writer) return;
  const auto mode = options.overwrite         ? RunDirectoryMode::kOverwrite
                    : !options.resume.empty() ? RunDirectoryMode::kResume
                                              : RunDirectoryMode::kNew;
  // An input that --overwrite would remove: refused before anything is removed.
  if (mode == RunDirectoryMode::kOverwrite && !train.pretrained.empty() &&
      overwrite_removes(run_dir, train.pretrained)) {
    throw UsageError(with_hint("--pretrained " + train.pretrained + " is a file of the run in " +
                                   run_dir + ", which --overwrite would remove before reading it",
                               "copy the weights out of the run directory first, or write the "
                               "new run into another --output-dir"));
  }
  directory = std::make_unique<RunDirectory>(run_dir, mode);  // locked from here on
  log_file = std::make_unique<LogFileScope>(directory->file("train.log"));
  checkpoints = std::make_unique<CheckpointManager>(run_dir, train.keep_last);
  state.config_yaml = config_yaml;
}

void RunShell::Impl::check_stored_config(const TrainingState& stored,
                                         const std::string& path) const {
  if (stored.config_yaml.empty()) return;
  std::vector<std::string> differ;
  try {
    differ = config->differing_keys(stored.config_yaml, path);
  } catch (const config::ConfigError& e) {
    // A section this program's config lacks: the other program's checkpoint (pre-training
    // has masking, curriculum and loss; fine-tuning has finetune).
    if (e.key() == "finetune") {
      throw UsageError(with_hint("checkpoint " + path +
                                     " is a c2fmae_finetune checkpoint: this program cannot "
                                     "resume it",
                                 "resume it with c2fmae_finetune --resume, or start from its "
                                 "encoder with --pretrained"));
    }
    if (e.key() == "masking" || e.key() == "curriculum" || e.key() == "loss") {
      throw UsageError(with_hint(
          "checkpoint " + path + " is a c2fmae_pretrain checkpoint: this program cannot resume it",
          "pass it as --pretrained to start from its encoder (c2fmae_finetune --pretrained " +
              path + "), or resume it with c2fmae_pretrain --resume"));
    }
    throw;
  }
  std::vector<std::string> changed;
  for (const auto& key : differ) {
    for (const auto& section : options.fixed_sections) {
      if (starts_with(key, section + ".")) {
        throw UsageError(with_hint("checkpoint " + path + " was written by a run with another " +
                                       section + " section (" + key + " differs)",
                                   "resume with the run's own config.yaml"));
      }
    }
    if (!is_free_key(key, Between::kResumes)) changed.push_back(key);
  }
  if (!changed.empty()) {
    std::string keys;
    for (const auto& k : changed) keys += (keys.empty() ? "" : ", ") + k;
    log::warn("resuming with other values than the run started with (" + keys +
              "): the run will not replay the uninterrupted one exactly");
  }
}

void RunShell::Impl::resume_if_asked(Engine& engine) {
  // Data-parallel: rank 0 resumes, and share_start hands its state to the others.
  if (options.resume.empty() || !options.writer) return;
  std::string path;
  if (options.resume == "auto") {
    const auto found = checkpoints->search();
    if ((!found.path && !found.failures.empty()) || (found.path && found.unreadable)) {
      // Starting over would truncate metrics.jsonl and overwrite the checkpoints.
      std::string why;
      for (const auto& f : found.failures) why += "\n  " + f;
      throw std::runtime_error(with_hint(
          "--resume auto: " +
              (found.path ? "a newer checkpoint than " + *found.path + " cannot be read"
                          : "no checkpoint in " + run_dir + " loads") +
              ", so nothing was changed:" + why,
          "fix or restore a checkpoint (e.g. its permissions), resume from one with --resume "
          "PATH, or start over with --overwrite"));
    }
    for (const auto& f : found.failures) log::warn("skipping checkpoint: " + f);
    if (!found.path) {
      log::info("--resume auto: no checkpoint in " + run_dir + " yet, starting from step 0");
      return;
    }
    path = *found.path;
  } else {
    path = options.resume;
  }
  TrainingState loaded;
  try {
    loaded = load_checkpoint(path, &engine.module(), &engine.optimizer(), engine.device(),
                             [&](const TrainingState& s) { check_stored_config(s, path); });
  } catch (const UsageError&) {
    throw;
  } catch (const CheckpointAccessError&) {
    throw;  // a file the user named but may not read: the OS's reason, exit 1
  } catch (const std::exception& e) {
    if (options.resume == "auto") throw;
    // A file the user named that is not a checkpoint of this model: an argument problem.
    throw UsageError(with_hint("--resume " + path + ": " + error_text(e),
                               "give a checkpoint-<step>.pt of a run of this program and "
                               "model, or --resume auto to continue the run directory's newest"));
  }
  state.step = loaded.step;
  // The steps after the checkpoint that were skipped are replayed and counted again.
  state.nonfinite_total = loaded.nonfinite_total - loaded.nonfinite_replayed;
  state.best_score = loaded.best_score;
  state.best_step = loaded.best_step;
  // A rewind to an earlier checkpoint must not let a worse model replace a better best.pt:
  // the best so far is best.pt's own, where it is better than the checkpoint's record.
  const auto best_path = (fs::path(run_dir) / "best.pt").string();
  std::error_code ec;
  if (fs::exists(best_path, ec) && !fs::equivalent(best_path, path, ec)) {
    try {
      const auto best = load_checkpoint(best_path, nullptr, nullptr, torch::kCPU);
      if (std::isfinite(best.best_score) &&
          (!std::isfinite(state.best_score) || best.best_score > state.best_score)) {
        state.best_score = best.best_score;
        state.best_step = best.best_step;
        log::info(c10::str("keeping ", best_path, " (", best.best_score, " at step ",
                           best.best_step, "): a later evaluation replaces it only if better"));
      }
    } catch (const std::exception& e) {
      log::warn("cannot read " + best_path + "'s score (" + error_text(e) +
                "); the next evaluation may replace it");
    }
  }
  engine.restore_counters(loaded.counters);
  engine.restore_extra_state(loaded.extra);
  log::info(c10::str("resumed from ", path, " at step ", state.step));
}

/// Prepares the run directory and resumes (the writer) or starts fresh (Engine::fresh_start),
/// then, data-parallel, hands rank 0's outcome to every rank: its failure, or its step,
/// counters and state.
void RunShell::Impl::start(Engine& engine) {
  if (!options.group) {
    prepare();
    resume_if_asked(engine);
    if (state.step == 0) engine.fresh_start();
    return;
  }
  std::string failure;
  try {
    prepare();
    resume_if_asked(engine);
    if (options.writer && state.step == 0) engine.fresh_start();
  } catch (const std::exception& e) {
    failure = error_text(e);
    // Tells the others before this rank stops, and whether it was a usage problem (exit 2).
    share_start(engine, failure, dynamic_cast<const std::invalid_argument*>(&e) != nullptr);
    throw;
  }
  share_start(engine, failure, false);
}

void RunShell::Impl::share_start(Engine& engine, const std::string& failure, bool usage) {
  // [outcome, step, nonfinite_total, counters by name...] from rank 0; outcome 1: started,
  // 2: refused for a usage problem (every rank exits 2), 0: failed.
  auto counters = engine.counters();
  std::vector<int64_t> values = {failure.empty() ? 1
                                 : usage         ? 2
                                                 : 0,
                                 state.step, state.nonfinite_total};
  for (const auto& [name, value] : counters) values.push_back(value);
  values = options.group->broadcast_values(values);
  if (!failure.empty()) return;
  if (values[0] != 1) {
    const std::string why = "rank 0 could not start the run (its log says why)";
    if (values[0] == 2) throw UsageError(why);
    throw std::runtime_error(why);
  }
  state.step = values[1];
  state.nonfinite_total = values[2];
  size_t i = 3;
  for (auto& [name, value] : counters) value = values[i++];
  if (!options.writer) engine.restore_counters(counters);  // rank 0 has them from the file
  engine.synchronize_state();  // a resumed or fresh_start()'s state (e.g. pretrained weights)
}

int RunShell::Impl::agreed_stop_signal() {
  const int local = stop_signal();
  if (!options.group) return local;
  // Another rank's signal stops this one too, under that signal's name and exit code.
  return static_cast<int>(options.group->max(local));
}

/// Data-parallel: every rank waits for rank 0's last checkpoint before it returns.
void RunShell::Impl::finish() {
  if (options.group) options.group->barrier();
}

void RunShell::Impl::print_start_table(const Engine& engine) const {
  std::ostringstream os;
  os << "resolved config:\n" << config_table << "derived:\n";
  auto row = [&](const std::string& k, const std::string& v) {
    os << "  " << std::left << std::setw(34) << k << " " << v << "\n";
  };
  for (const auto& [k, v] : engine.describe()) row(k, v);
  row("run directory", options.writer ? run_dir : "(written by another process)");
  log::info(os.str());
}

std::string RunShell::Impl::save(Engine& engine, int64_t step,
                                 const std::map<std::string, int64_t>* counters) {
  state.step = step;
  state.counters = counters ? *counters : engine.counters();
  state.extra = engine.extra_state();
  saved = true;
  engine.check_replicas();  // data-parallel: what rank 0 saves is every rank's state
  if (!options.writer) return "";
  return checkpoints->save(engine.module(), engine.optimizer(), state);
}

void RunShell::Impl::write_picture(Engine& engine, int64_t step) {
  pictured_step = step;
  if (!options.writer) return;
  const auto dir = fs::path(run_dir) / kPicturesDirName;
  const auto path =
      (dir / c10::str("step_", std::setw(8), std::setfill('0'), step, ".png")).string();
  try {
    const auto picture = engine.picture(step);
    if (!picture.defined()) return;
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) throw std::runtime_error("cannot create " + dir.string() + ": " + ec.message());
    write_png(path, picture);
    log::info("picture " + path);
  } catch (const std::exception& e) {
    log::warn("no picture at step " + std::to_string(step) + ": " + error_text(e));
  }
}

/// Evaluates after `step` steps; logs it (a metrics.jsonl line with step, epoch and the
/// engine's fields) and, when the score beats the best so far, writes best.pt.
void RunShell::Impl::evaluate(Engine& engine, int64_t step) {
  evaluated_step = step;
  const auto e = engine.evaluate();
  const double epoch = static_cast<double>(step) / engine.steps_per_epoch();
  const bool best = e.improves_on(state.best_score);
  if (!e.finite) {
    log::warn(c10::str("the evaluation at step ", step,
                       " met NaN or Inf: its score is not a measure, and not a best"));
  }
  if (best) {
    state.best_score = e.score;
    state.best_step = step;
  }
  if (metrics) {
    MetricsRecord r;
    r.add("step", step).add("epoch", epoch).append(e.metrics);
    r.add("best_" + e.score_name, state.best_score);
    metrics->write(r);
  }
  log::info(
      c10::str("epoch ", epoch, " (step ", step, "): ", e.summary,
               best ? " (best so far)"
                    : c10::str(" (best ", state.best_score, " at step ", state.best_step, ")")));
  if (best && options.writer) {
    TrainingState best_state = state;
    best_state.step = step;
    best_state.counters = engine.counters();
    best_state.extra = engine.extra_state();
    save_checkpoint((fs::path(run_dir) / "best.pt").string(), engine.module(), engine.optimizer(),
                    best_state);
  }
}

void RunShell::Impl::log_step(const Engine& engine, int64_t step, const StepOutcome& s) {
  const double images_per_s = static_cast<double>(engine.samples_per_step()) / s.seconds;
  if (metrics) {
    MetricsRecord r;
    r.add("step", step + 1)
        .add("epoch", static_cast<double>(step + 1) / engine.steps_per_epoch())
        .add("loss", s.loss)
        .append(s.metrics)
        .add("images_per_s", images_per_s)
        .add("step_time_s", s.seconds)
        .add("memory_gib", memory_gib(engine.device()))
        .add("nonfinite_skipped", state.nonfinite_total);
    metrics->write(r);
  }
  log::info(c10::str("step ", step + 1, "/", engine.total_steps(), " loss ", s.loss, " ", s.summary,
                     " | ", images_per_s, " img/s ", s.seconds, " s/step"));
}

RunResult RunShell::run(Engine& engine) {
  try {
    return impl_->run(engine);
  } catch (const std::exception& e) {
    // Logged here, while the run's train.log is still open, so the log says why it ended.
    const bool config = dynamic_cast<const config::ConfigError*>(&e) != nullptr;
    const bool usage = dynamic_cast<const UsageError*>(&e) != nullptr;
    log::error(std::string(config  ? "config error: "
                           : usage ? ""
                                   : "training failed: ") +
               error_text(e));
    // A start refused in a directory it created leaves nothing behind (the terminal has
    // the message).
    if (!impl_->began && impl_->directory && impl_->directory->created()) {
      impl_->log_file.reset();
      impl_->directory->discard_failed_start();
    }
    throw;
  }
}

RunResult RunShell::Impl::run(Engine& engine) {
  log::Level level = log.level;
  // Data-parallel: rank 0 speaks for the run; the others say only what goes wrong.
  if (!options.writer && level < log::Level::kWarn) level = log::Level::kWarn;
  log::set_level(level);
  // Stop signals are clean stops from the moment the run directory is touched.
  StopGuard stop_guard(/*keep_pending=*/true);  // signals are recorded while the loop runs
  start(engine);
  const auto metrics_path = (fs::path(run_dir) / "metrics.jsonl").string();
  if (options.writer) {
    // Only now: a refused resume must not replace the run's own config.yaml.
    began = true;
    write_text_atomically(directory->file("config.yaml"), config_yaml);
  }
  print_start_table(engine);
  if (options.writer) {
    // --resume PATH to an earlier checkpoint rewinds the run: the later history is moved
    // aside, not lost. --resume auto replays what a killed run logged after its checkpoint.
    const bool rewind = !options.resume.empty() && options.resume != "auto";
    std::string aside;
    if (rewind) {
      aside = (fs::path(run_dir) / c10::str("metrics.rewound-", state.step, ".jsonl")).string();
      for (int n = 2; fs::exists(aside); ++n)
        aside = (fs::path(run_dir) / c10::str("metrics.rewound-", state.step, "-", n, ".jsonl"))
                    .string();
    }
    if (rewind) {
      // The later checkpoints are moved aside too, under names that are no run file
      // (checkpoint-<N>.rewound-<step>.pt): this branch's saves never replace them, and
      // neither keep_last nor --resume auto ever returns to the branch left behind.
      std::string moved;
      for (const auto& path : checkpoints->list()) {
        const auto name = fs::path(path).filename().string();
        if (name <= checkpoint_name(state.step)) continue;  // zero-padded: by step
        const auto stem = name.substr(0, name.size() - 3);  // without ".pt"
        auto to = fs::path(run_dir) / c10::str(stem, ".rewound-", state.step, ".pt");
        for (int n = 2; fs::exists(fs::symlink_status(to)); ++n)
          to = fs::path(run_dir) / c10::str(stem, ".rewound-", state.step, "-", n, ".pt");
        std::error_code ec;
        fs::rename(path, to, ec);
        if (ec) {
          throw std::runtime_error("cannot move " + path + " aside (a rewind to step " +
                                   std::to_string(state.step) + "): " + ec.message());
        }
        moved += (moved.empty() ? "" : ", ") + to.filename().string();
      }
      if (!moved.empty()) {
        log::info("checkpoints after step " + std::to_string(state.step) +
                  " are moved aside: " + moved + " (a rewind; --resume PATH still loads them)");
      }
    }
    if (const auto dropped = truncate_metrics(metrics_path, state.step, aside)) {
      log::info(rewind
                    ? c10::str("metrics.jsonl: ", dropped, " lines logged after step ", state.step,
                               " are moved to ", aside, " (a rewind to an earlier checkpoint)")
                    : c10::str("metrics.jsonl: dropped ", dropped, " lines logged after step ",
                               state.step, " by the interrupted run (they are replayed)"));
    }
    metrics = std::make_unique<MetricsLog>(metrics_path);
  }
  ProgressLine progress(options.writer && log.progress);
  RunResult result;
  const int64_t total = engine.total_steps();
  result.total_steps = total;
  // The progress line counts to where this run stops.
  const int64_t last = train.max_steps > 0 ? std::min(train.max_steps, total) : total;
  double avg_seconds = 0.0;
  good_counters = engine.counters();
  const int64_t first_step = state.step;
  int64_t step = state.step;
  if (const int sig = agreed_stop_signal()) {
    // Arrived while the run started (the program's handlers were in place): nothing trained,
    // nothing to save.
    result.status = RunResult::Status::kInterrupted;
    result.signal = sig;
    result.step = step;
    log::notice(c10::str("stopped by ", signal_name(sig), " before step ", step + 1,
                         " (nothing trained, nothing saved)"));
    return result;
  }
  for (; step < total; ++step) {
    if (train.max_steps > 0 && step >= train.max_steps) break;
    const auto s = engine.run_step(step);
    avg_seconds = avg_seconds == 0.0 ? s.seconds : 0.9 * avg_seconds + 0.1 * s.seconds;
    if (s.skipped) {
      ++consecutive_nonfinite;
      ++state.nonfinite_total;
      progress.finish();
      log::warn(c10::str("step ", step + 1, ": ", s.skip_reason, ", step skipped (",
                         consecutive_nonfinite, " in a row, ", state.nonfinite_total, " in all)"));
      if (metrics) {
        // So that metrics.jsonl shows why a run stopped by train.max_nonfinite stopped.
        MetricsRecord r;
        r.add("step", step + 1)
            .add("epoch", static_cast<double>(step + 1) / engine.steps_per_epoch())
            .add("loss", s.loss)
            .add("skipped", s.skip_reason)
            .add("nonfinite_skipped", state.nonfinite_total);
        metrics->write(r);
      }
      if (consecutive_nonfinite >= train.max_nonfinite) {
        // No update happened in the skipped steps: the current state is the last good one,
        // with the counters as they were after it; its skip total says how many of them a
        // resume replays.
        const int64_t good_step = step - consecutive_nonfinite + 1;
        state.nonfinite_replayed = consecutive_nonfinite;
        const auto path = save(engine, good_step, &good_counters);
        finish();
        throw NonFiniteLossError(
            c10::str(consecutive_nonfinite,
                     " steps in a row had a non-finite loss or gradient (train.max_nonfinite = ",
                     train.max_nonfinite, "); the last good state is in ",
                     path.empty() ? c10::str("rank 0's checkpoint of step ", good_step) : path,
                     "\nhint: ", engine.nonfinite_hint()));
      }
    } else {
      consecutive_nonfinite = 0;
      good_counters = engine.counters();
      progress.update(progress_text(step + 1, last, s.loss,
                                    static_cast<double>(engine.samples_per_step()) / s.seconds,
                                    avg_seconds));
      if ((step + 1) % log.every == 0 || step == 0 || step + 1 == total) {
        progress.finish();
        log_step(engine, step, s);
      }
    }
    const bool epoch_end = (step + 1) % engine.steps_per_epoch() == 0 || step + 1 == total;
    const int64_t epoch_done = (step + 1) / engine.steps_per_epoch();
    const bool eval_due =
        step + 1 == total || (train.eval_every > 0 && epoch_done % train.eval_every == 0);
    if (engine.evaluates() && epoch_end && eval_due) {
      progress.finish();
      evaluate(engine, step + 1);
    }
    if (log.pictures_every > 0 && epoch_end &&
        ((step + 1) / engine.steps_per_epoch()) % log.pictures_every == 0 && step + 1 < total) {
      progress.finish();
      write_picture(engine, step + 1);
    }
    if (const int sig = agreed_stop_signal()) {
      progress.finish();
      result.checkpoint = save(engine, step + 1);
      finish();
      result.status = RunResult::Status::kInterrupted;
      result.signal = sig;
      result.step = step + 1;
      if (!options.writer) {
        log::info(c10::str("stopped by ", signal_name(sig), " after step ", step + 1,
                           " (rank 0 wrote the checkpoint)"));
        return result;
      }
      log::notice(c10::str("stopped by ", signal_name(sig), " after step ", step + 1,
                           "; checkpoint ", result.checkpoint, "\nresume with: ",
                           options.group ? std::string("the same launch of every process with")
                           : options.command_line.empty() ? std::string("the same command")
                                                          : options.command_line,
                           " --resume auto"));
      return result;
    }
    if ((step + 1) % train.checkpoint_every == 0 && step + 1 < total) {
      result.checkpoint = save(engine, step + 1);
    }
  }
  progress.finish();
  result.step = step;
  // Stopped at train.max_steps between epochs: the weights it stops with are evaluated too.
  if (engine.evaluates() && evaluated_step != step && step > first_step) evaluate(engine, step);
  // (Not `result.checkpoint.empty()`: only the writer has a path, and every rank must decide
  // alike, since saving checks the replicas together.)
  if (state.step != step || !saved) result.checkpoint = save(engine, step);
  // After the checkpoint: a picture is never worth the run's last state.
  if (log.pictures_every > 0 && pictured_step != step && step > first_step) {
    write_picture(engine, step);
  }
  finish();
  result.status =
      step >= total ? RunResult::Status::kCompleted : RunResult::Status::kStoppedAtMaxSteps;
  log::info(c10::str(
      result.status == RunResult::Status::kCompleted ? "finished" : "stopped at train.max_steps",
      " after step ", step, "; checkpoint ", result.checkpoint));
  return result;
}

}  // namespace c2fmae::train
