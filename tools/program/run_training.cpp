#include "run_training.h"

#include <chrono>
#include <filesystem>

#include "c2fmae/core/error_text.h"
#include "c2fmae/core/usage_error.h"
#include "c2fmae/distributed/launch_env.h"
#include "c2fmae/train/device_choice.h"

namespace c2fmae::program {
namespace {

/// `arg` as one word for a POSIX shell: unchanged when it holds only safe characters, else
/// single-quoted.
std::string shell_quote(const std::string& arg) {
  const bool safe = !arg.empty() && arg.find_first_not_of(
                                        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        "0123456789-_./=:,+@%") == std::string::npos;
  if (safe) return arg;
  std::string out = "'";
  for (char c : arg) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

/// Ours without --resume and --overwrite, each argument quoted for a POSIX shell where needed.
std::string resume_command(int argc, char** argv) {
  std::string command_line;
  for (int i = 0; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--resume" || arg == "--overwrite") {
      i += arg == "--resume";
      continue;
    }
    if (arg.rfind("--resume=", 0) == 0 || arg.rfind("--overwrite=", 0) == 0) continue;
    command_line += (i ? " " : "") + shell_quote(arg);
  }
  return command_line;
}

}  // namespace

void add_training_options(Arguments& cli, TrainingArguments& args,
                          const std::string& pretrained_help) {
  cli.option("--config,-c", args.config_files,
             "YAML config file; later files override earlier ones");
  cli.option("--set,-s", args.sets, "override one key: section.key=value (YAML value)");
  cli.option("--pretrained", args.pretrained, pretrained_help);
  cli.option("--resume", args.resume,
             "auto (newest valid checkpoint of the run directory) or a checkpoint path");
  cli.option("--output-dir,-o", args.output_dir, "run directory (sets train.output_dir)");
  cli.flag("--overwrite", args.overwrite, "start over in a run directory that already holds a run");
  cli.flag("--dump-config", args.dump_config, "print the resolved config as YAML and exit");
}

void check_training_arguments(const Arguments& cli, TrainingArguments& args, int argc,
                              char** argv) {
  const bool resume_given = cli.given("--resume");
  if (resume_given && args.overwrite) {
    throw UsageError(
        with_hint("--resume and --overwrite contradict each other",
                  "continue the run with --resume, or start it over with --overwrite"));
  }
  if (cli.given("--output-dir") && args.output_dir.empty()) {
    throw UsageError(with_hint("--output-dir is empty",
                               "give the run directory, e.g. --output-dir runs/my_run"));
  }
  if (cli.given("--pretrained") && args.pretrained.empty()) {
    throw UsageError(with_hint("--pretrained is empty", "give a checkpoint or safetensors file"));
  }
  if (resume_given && args.resume.empty()) {
    throw UsageError(
        with_hint("--resume is empty", "use --resume auto or --resume PATH/checkpoint-N.pt"));
  }
  if (!args.resume.empty() && args.resume != "auto") {
    std::error_code ec;
    if (!std::filesystem::exists(args.resume, ec)) {
      throw UsageError(with_hint("--resume " + args.resume + ": no such file",
                                 "give an existing checkpoint, or --resume auto to continue the "
                                 "run directory's newest one"));
    }
    if (std::filesystem::is_directory(args.resume, ec)) {
      throw UsageError(with_hint("--resume " + args.resume + " is a directory",
                                 "give a checkpoint file in it, or --resume auto with "
                                 "--output-dir " +
                                     args.resume));
    }
  }
  args.resume_command = resume_command(argc, argv);
}

void apply_training_arguments(const Arguments& cli, const TrainingArguments& args,
                              config::ConfigRoot& config, config::TrainConfig& train) {
  if (!args.output_dir.empty()) {
    train.output_dir = args.output_dir;  // a path, not YAML: assigned, not parsed
    config.origins["train.output_dir"] = "--output-dir";
  }
  if (cli.given("--pretrained")) {
    train.pretrained = args.pretrained;
    config.origins["train.pretrained"] = "--pretrained";
  }
}

std::unique_ptr<distributed::Communicator> join_launched_group(const config::DistConfig& dist,
                                                               const config::TrainConfig& train,
                                                               const std::string& program) {
  const auto launch = distributed::read_launch_env();
  if (!launch.distributed()) return nullptr;
  return std::make_unique<distributed::Communicator>(launch, dist.backend,
                                                     train::choose_device(train, launch.local_rank),
                                                     std::chrono::seconds(dist.timeout_s), program);
}

int run_in_shell(const config::ConfigRoot& config, const config::TrainConfig& train,
                 const config::LogConfig& log, distributed::Communicator* group,
                 const TrainingArguments& args, train::Engine& engine) {
  train::RunOptions options;
  options.group = group;
  options.writer = !group || group->rank() == 0;
  options.resume = args.resume;
  options.overwrite = args.overwrite;
  options.command_line = args.resume_command;
  train::RunShell shell(config, train, log, options);
  train::RunResult result;
  try {
    result = shell.run(engine);
  } catch (const UsageError&) {
    return 2;  // the shell has logged why
  } catch (const std::exception&) {
    return 1;
  }
  if (result.status == train::RunResult::Status::kInterrupted) return 128 + result.signal;
  return 0;
}

}  // namespace c2fmae::program
