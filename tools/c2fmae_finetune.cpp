// c2fmae_finetune: fine-tunes (or linear-probes, or evaluates) a ViT classifier on a
// pre-trained encoder, with MAE's recipe, evaluating top-1 / top-5 after every epoch.
//
//   c2fmae_finetune --config configs/finetune/vit_base_imagenet_100ep.yaml
//                   [--pretrained CKPT_OR_SAFETENSORS] [--set key=value ...]
//                   [--resume auto|PATH] [--output-dir DIR] [--overwrite] [--eval] [--dump-config]
//
// Without --pretrained (train.pretrained) the classifier starts from random initialisation.
// --eval (finetune.mode = eval) evaluates the weights given and prints one JSON line; it
// writes no run directory. So do finetune.mode = knn (DINO's weighted k-NN on the frozen
// encoder's features: val_top1, val_top5, prior_top1, k) and dense_probe (a linear
// classifier of each patch's semantic class: patch_acc, mean_class_acc, miou), which
// measure a random encoder when no weights are given.
//
// Exit codes: 0 done (or stopped at train.max_steps), 1 error, 2 bad config or arguments (or
// a run directory another process holds), 128 + signal when stopped by a signal (a checkpoint
// was written first). Multi-process runs are started as c2fmae_pretrain's (tools/launch/).
#include <CLI/CLI.hpp>
#include <torch/cuda.h>

#include <chrono>
#include <csignal>
#include <iostream>
#include <optional>

#include "c2fmae/config/finetune_config.h"
#include "c2fmae/core/error_text.h"
#include "c2fmae/core/log.h"
#include "c2fmae/core/usage_error.h"
#include "c2fmae/distributed/communicator.h"
#include "c2fmae/distributed/launch_env.h"
#include "c2fmae/train/finetune_engine.h"
#include "c2fmae/train/run_shell.h"
#include "run_command.h"

int main(int argc, char** argv) {
  using namespace c2fmae;
  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGXFSZ, SIG_IGN);
  CLI::App app{"c2fmae_finetune: classification fine-tuning, linear probing and evaluation"};
  app.footer("Config keys (section.key, settable in YAML or with --set):\n\n" +
             config::FinetuneConfig().describe_keys());
  std::vector<std::string> files, sets;
  std::string resume, output_dir, pretrained;
  bool dump = false, overwrite = false, eval = false;
  app.add_option("--config,-c", files, "YAML config file; later files override earlier ones");
  app.add_option("--set,-s", sets, "override one key: section.key=value (YAML value)");
  app.add_option("--pretrained", pretrained,
                 "weights to start from (sets train.pretrained): a c2fmae checkpoint, or a "
                 "timm / MAE ViT or c2fmae_export safetensors file");
  app.add_option("--resume", resume,
                 "auto (newest valid checkpoint of the run directory) or a checkpoint path");
  app.add_option("--output-dir,-o", output_dir, "run directory (sets train.output_dir)");
  app.add_flag("--overwrite", overwrite, "start over in a run directory that already holds a run");
  app.add_flag("--eval", eval, "evaluate --pretrained on the validation split and exit "
                               "(sets finetune.mode = eval)");
  app.add_flag("--dump-config", dump, "print the resolved config as YAML and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (const auto problem = tools::run_argument_problem(app.count("--resume") > 0, resume, overwrite,
                                                       app.count("--output-dir") > 0, output_dir);
      !problem.empty()) {
    std::cerr << "c2fmae_finetune: " << problem << "\n";
    return 2;
  }
  if (app.count("--pretrained") && pretrained.empty()) {
    std::cerr << "c2fmae_finetune: "
              << with_hint("--pretrained is empty", "give a checkpoint or safetensors file")
              << "\n";
    return 2;
  }
  const std::string command_line = tools::resume_command(argc, argv);
  try {
    auto cfg = config::load_config<config::FinetuneConfig>(files, sets);
    if (!output_dir.empty()) {
      cfg.train.output_dir = output_dir;  // paths, not YAML: assigned, not parsed
      cfg.origins["train.output_dir"] = "--output-dir";
    }
    if (!pretrained.empty()) {
      cfg.train.pretrained = pretrained;
      cfg.origins["train.pretrained"] = "--pretrained";
    }
    if (eval) {
      cfg.finetune.mode = "eval";
      cfg.origins["finetune.mode"] = "--eval";
    }
    train::check_finetune_config(cfg);
    if (dump) {
      std::cout << cfg.dump_yaml();
      return 0;
    }
    if (cfg.finetune.measures_only() && (!resume.empty() || overwrite || !output_dir.empty())) {
      throw UsageError(with_hint(
          "finetune.mode = " + cfg.finetune.mode +
              " writes no run, so --resume, --overwrite and --output-dir do not apply",
          "drop them, or fine-tune (finetune.mode = finetune or linprobe)"));
    }
    const auto launch = distributed::read_launch_env();
    if (launch.distributed() &&
        (cfg.finetune.mode == "knn" || cfg.finetune.mode == "dense_probe")) {
      throw UsageError(with_hint("finetune.mode = " + cfg.finetune.mode +
                                     " runs in one process: its features are compared as a whole",
                                 "start it without a launcher (it trains nothing)"));
    }
    // Training stops at a step boundary with a checkpoint; a measurement writes nothing, so
    // a signal ends it at once (the default action).
    std::optional<tools::StopHandlers> stop_handlers;
    if (!cfg.finetune.measures_only()) stop_handlers.emplace();
    std::unique_ptr<distributed::Communicator> group;
    if (launch.distributed()) {
      const bool cuda = cfg.train.device != "cpu" && torch::cuda::is_available();
      const auto device = cuda ? torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(
                                                                 launch.local_rank))
                               : torch::Device(torch::kCPU);
      group = std::make_unique<distributed::Communicator>(
          launch, cfg.dist.backend, device, std::chrono::seconds(cfg.dist.timeout_s));
      train::check_same_config(*group, cfg);
    }
    const bool writer = !group || group->rank() == 0;
    train::FinetuneEngine engine(cfg, group.get());
    if (cfg.finetune.measures_only()) {
      log::set_level(log::parse_level(writer ? cfg.log.level : "warn"));
      engine.fresh_start();
      const auto e = engine.evaluate();
      if (writer) {
        log::info(e.summary);
        std::cout << e.metrics.json() << "\n";
      }
      return 0;
    }
    train::RunOptions options;
    options.group = group.get();
    options.writer = writer;
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
    std::cerr << "c2fmae_finetune: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    log::error("c2fmae_finetune failed: " + error_text(e));
    return 1;
  }
}
