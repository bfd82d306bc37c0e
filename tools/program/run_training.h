// One runner for the training programs (c2fmae_pretrain, c2fmae_finetune): the command line
// they share, its checks, the config (files, --set, the paths given as options), the stop
// signals' handlers, the process group of a launched run, the run shell and the exit codes:
// 0 done (or stopped at train.max_steps), 1 error (a dead or hung peer process too), 2 bad
// config or arguments (or a run directory another process holds), 128 + signal when a stop
// signal ended the run (a checkpoint was written first; one during start-up stops before the
// first step, saving nothing).
//
//   program::TrainingProgram<config::PretrainConfig, train::PretrainEngine> program;
//   program.name = "c2fmae_pretrain";
//   program.check = [](const auto& cfg, const auto&) { train::check_pretrain_config(cfg); };
//   return program::run_training(argc, argv, program);
#pragma once
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "arguments.h"
#include "c2fmae/config/config.h"
#include "c2fmae/core/usage_error.h"
#include "c2fmae/data/dataset_registry.h"
#include "c2fmae/distributed/communicator.h"
#include "c2fmae/train/engine.h"
#include "c2fmae/train/run_shell.h"
#include "c2fmae/train/stop_signal.h"
#include "guarded_main.h"

namespace c2fmae::program {

/// The command line the training programs share.
struct TrainingArguments {
  std::vector<std::string> config_files, sets;
  std::string resume, output_dir, pretrained;
  bool overwrite = false;
  bool dump_config = false;
  /// The command that resumes this run: ours without --resume and --overwrite, quoted for a
  /// POSIX shell.
  std::string resume_command;
};

template <class Config, class Engine>
struct TrainingProgram {
  std::string name;   ///< "c2fmae_pretrain"
  std::string about;  ///< the first line of --help
  std::string pretrained_help;
  /// The program's own options (optional).
  std::function<void(Arguments&)> add_options;
  /// Applies them to the loaded config, before it is checked (optional).
  std::function<void(Config&)> apply_options;
  /// The rules of the program's whole config (train::check_pretrain_config, ...) and of the
  /// arguments with it; throws ConfigError or UsageError.
  std::function<void(const Config&, const TrainingArguments&)> check;
  /// Whether this config only measures (optional): it trains nothing and writes no run
  /// directory, and a stop signal ends it at once (the default action).
  std::function<bool(const Config&)> measures_only;
  /// The measurement (with measures_only): its exit code. `writer`: this process reports.
  std::function<int(Config&, Engine&, bool writer)> measure;
};

/// --config, --set, --resume, --output-dir, --overwrite, --pretrained and --dump-config.
void add_training_options(Arguments& cli, TrainingArguments& args,
                          const std::string& pretrained_help);
/// Refuses arguments that contradict each other or say nothing (UsageError, with a hint),
/// and fills args.resume_command.
void check_training_arguments(const Arguments& cli, TrainingArguments& args, int argc, char** argv);
/// train.output_dir and train.pretrained from the options that set them (paths, not YAML).
void apply_training_arguments(const Arguments& cli, const TrainingArguments& args,
                              config::ConfigRoot& config, config::TrainConfig& train);
/// The processes of a run started by torchrun or srun (null when started alone); rank 0
/// writes the run.
/// `program` ("c2fmae_pretrain") is compared between the ranks at the rendezvous.
std::unique_ptr<distributed::Communicator> join_launched_group(const config::DistConfig& dist,
                                                               const config::TrainConfig& train,
                                                               const std::string& program);
/// Runs `engine` in the run shell; its exit code (the shell logs why a run failed).
int run_in_shell(const config::ConfigRoot& config, const config::TrainConfig& train,
                 const config::LogConfig& log, distributed::Communicator* group,
                 const TrainingArguments& args, train::Engine& engine);

/// The main of a training program; its `Engine` is constructed from the config and the
/// process group (null for one process).
template <class Config, class Engine>
int run_training(int argc, char** argv, const TrainingProgram<Config, Engine>& program) {
  return guarded_main(program.name, [&]() -> int {
    Arguments cli(program.about);
    cli.footer("Config keys (section.key, settable in YAML or with --set):\n\n" +
               Config().describe_keys() + "\nData sources (data.source) and what they read:\n" +
               data::describe_data_sources());
    TrainingArguments args;
    add_training_options(cli, args, program.pretrained_help);
    if (program.add_options) program.add_options(cli);
    if (const auto code = cli.parse(argc, argv)) return *code;
    check_training_arguments(cli, args, argc, argv);
    auto cfg = config::load_config<Config>(args.config_files, args.sets);
    apply_training_arguments(cli, args, cfg, cfg.train);
    if (program.apply_options) program.apply_options(cfg);
    program.check(cfg, args);
    if (args.dump_config) {
      std::cout << cfg.dump_yaml();
      return 0;
    }
    // The defaults alone are a full-size run (ViT-B at 224 px): started with no recipe, that is
    // a mistake, not a request.
    if (args.config_files.empty()) {
      throw UsageError(with_hint("no --config given: the defaults alone are a full-size run",
                                 "give a recipe, e.g. --config configs/debug/tiny.yaml (see "
                                 "configs/), or print the defaults with --dump-config"));
    }
    const bool measures = program.measures_only && program.measures_only(cfg);
    // From here a stop signal is a clean stop of training (before the first step: without
    // training); a measurement writes nothing, so one ends it at once.
    std::optional<train::StopGuard> stop_guard;
    if (!measures) stop_guard.emplace();
    const auto group = join_launched_group(cfg.dist, cfg.train, program.name);
    if (group) train::check_same_config(*group, cfg);
    Engine engine(cfg, group.get());
    if (measures) return program.measure(cfg, engine, !group || group->rank() == 0);
    return run_in_shell(cfg, cfg.train, cfg.log, group.get(), args, engine);
  });
}

}  // namespace c2fmae::program
