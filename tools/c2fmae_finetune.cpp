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
#include "c2fmae/config/finetune_config.h"
#include "c2fmae/core/log.h"
#include "c2fmae/core/usage_error.h"
#include "c2fmae/distributed/launch_env.h"
#include "c2fmae/train/finetune_engine.h"
#include "program/run_training.h"

int main(int argc, char** argv) {
  using namespace c2fmae;
  using config::FinetuneConfig;
  program::TrainingProgram<FinetuneConfig, train::FinetuneEngine> program;
  program.name = "c2fmae_finetune";
  program.about = "c2fmae_finetune: classification fine-tuning, linear probing and evaluation";
  program.pretrained_help =
      "weights to start from (sets train.pretrained): a c2fmae checkpoint, or a timm / MAE ViT "
      "or c2fmae_export safetensors file";
  bool eval = false;
  program.add_options = [&](program::Arguments& cli) {
    cli.flag("--eval", eval,
             "evaluate --pretrained on the validation split and exit (sets finetune.mode = eval)");
  };
  program.apply_options = [&](FinetuneConfig& cfg) {
    if (!eval) return;
    cfg.finetune.mode = config::FinetuneMode::kEval;
    cfg.origins["finetune.mode"] = "--eval";
  };
  program.check = [](const FinetuneConfig& cfg, const program::TrainingArguments& args) {
    train::check_finetune_config(cfg);
    const auto mode = cfg.finetune.mode;
    if (cfg.finetune.measures_only() &&
        (!args.resume.empty() || args.overwrite || !args.output_dir.empty())) {
      throw UsageError(with_hint("finetune.mode = " + mode.name() +
                                     " writes no run, so --resume, --overwrite and --output-dir "
                                     "do not apply",
                                 "drop them, or fine-tune (finetune.mode = finetune or linprobe)"));
    }
    if (distributed::read_launch_env().distributed() &&
        (mode == config::FinetuneMode::kKnn || mode == config::FinetuneMode::kDenseProbe)) {
      throw UsageError(with_hint("finetune.mode = " + mode.name() +
                                     " runs in one process: its features are compared as a whole",
                                 "start it without a launcher (it trains nothing)"));
    }
  };
  program.measures_only = [](const FinetuneConfig& cfg) { return cfg.finetune.measures_only(); };
  program.measure = [](FinetuneConfig& cfg, train::FinetuneEngine& engine, bool writer) {
    log::set_level(writer ? cfg.log.level.value() : log::Level::kWarn);
    engine.fresh_start();
    const auto e = engine.evaluate();
    if (writer) {
      log::info(e.summary);
      std::cout << e.metrics.json() << "\n";
    }
    return 0;
  };
  return program::run_training(argc, argv, program);
}
