// c2fmae_pretrain: pre-trains a C2FMAE / MAE / MultiMAE model from YAML configs.
//
//   c2fmae_pretrain --config configs/pretrain/demo_synthetic_tiny.yaml [--set key=value ...]
//                   [--resume auto|PATH] [--output-dir DIR] [--overwrite] [--dump-config]
//
// Exit codes: 0 done (or stopped at train.max_steps), 1 error (a dead or hung peer process
// too), 2 bad config or arguments (or a run directory another process holds), 128 + signal
// when stopped by SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2 or SIGQUIT (a checkpoint was
// written first; in a multi-process run every rank stops after the same step and exits with
// the signal a rank got; one during start-up stops before the first step, saving nothing).
//
// Started by torchrun or srun (tools/launch/, docs/distributed.md), each process trains on
// its slice of every global batch: data-parallel over c10d (NCCL on CUDA, Gloo on the CPU).
#include <CLI/CLI.hpp>
#include <torch/cuda.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "c2fmae/config/pretrain_config.h"
#include "c2fmae/core/error_text.h"
#include "c2fmae/core/log.h"
#include "c2fmae/core/usage_error.h"
#include "c2fmae/distributed/communicator.h"
#include "c2fmae/distributed/launch_env.h"
#include "c2fmae/train/pretrain_engine.h"
#include "c2fmae/train/stop_signal.h"
#include "run_command.h"

int main(int argc, char** argv) {
  using namespace c2fmae;
  // From the first line printed: `c2fmae_pretrain ... | head -1` must not kill the run (it
  // goes on, logging to train.log), and a file-size limit is a write error, not a kill.
  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGXFSZ, SIG_IGN);
  CLI::App app{"c2fmae_pretrain: coarse-to-fine masked autoencoder pre-training"};
  app.footer("Config keys (section.key, settable in YAML or with --set):\n\n" +
             config::PretrainConfig().describe_keys());
  std::vector<std::string> files, sets;
  std::string resume, output_dir;
  bool dump = false, overwrite = false;
  app.add_option("--config,-c", files, "YAML config file; later files override earlier ones");
  app.add_option("--set,-s", sets, "override one key: section.key=value (YAML value)");
  app.add_option("--resume", resume,
                 "auto (newest valid checkpoint of the run directory) or a checkpoint path");
  app.add_option("--output-dir,-o", output_dir, "run directory (sets train.output_dir)");
  app.add_flag("--overwrite", overwrite, "start over in a run directory that already holds a run");
  std::string pretrained;
  app.add_option("--pretrained", pretrained,
                 "start from these weights (sets train.pretrained): a timm / MAE ViT safetensors "
                 "file for the encoder, or a c2fmae checkpoint or c2fmae_export --part all file");
  app.add_flag("--dump-config", dump, "print the resolved config as YAML and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  // Arguments that contradict each other or say nothing are refused, not guessed at.
  if (const auto problem = tools::run_argument_problem(app.count("--resume") > 0, resume, overwrite,
                                                       app.count("--output-dir") > 0, output_dir);
      !problem.empty()) {
    std::cerr << "c2fmae_pretrain: " << problem << "\n";
    return 2;
  }
  const std::string command_line = tools::resume_command(argc, argv);
  try {
    auto cfg = config::load_config<config::PretrainConfig>(files, sets);
    if (!output_dir.empty()) {
      cfg.train.output_dir = output_dir;  // a path, not YAML: assigned, not parsed
      cfg.origins["train.output_dir"] = "--output-dir";
    }
    if (app.count("--pretrained")) {
      cfg.train.pretrained = pretrained;  // a path, not YAML
      cfg.origins["train.pretrained"] = "--pretrained";
    }
    train::check_pretrain_config(cfg);
    if (dump) {
      std::cout << cfg.dump_yaml();
      return 0;
    }
    // From here a stop signal is a clean stop (before the first step: without training).
    tools::StopHandlers stop_handlers;
    // Started by torchrun or srun: join the other processes (rank 0 writes the run).
    std::unique_ptr<distributed::Communicator> group;
    if (const auto launch = distributed::read_launch_env(); launch.distributed()) {
      const bool cuda = cfg.train.device != "cpu" && torch::cuda::is_available();
      const auto device = cuda ? torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(
                                                                 launch.local_rank))
                               : torch::Device(torch::kCPU);
      group = std::make_unique<distributed::Communicator>(
          launch, cfg.dist.backend, device, std::chrono::seconds(cfg.dist.timeout_s));
      train::check_same_config(*group, cfg);
    }
    train::PretrainEngine engine(cfg, group.get());
    train::RunOptions options;
    options.group = group.get();
    options.writer = !group || group->rank() == 0;
    options.resume = resume;
    options.overwrite = overwrite;
    options.command_line = command_line;
    train::RunShell shell(cfg, cfg.train, cfg.log, options);
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
  } catch (const config::ConfigError& e) {
    std::cerr << "config error: " << e.what() << "\n";
    return 2;
  } catch (const UsageError& e) {
    std::cerr << "c2fmae_pretrain: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    log::error("c2fmae_pretrain failed: " + error_text(e));
    return 1;
  }
}
