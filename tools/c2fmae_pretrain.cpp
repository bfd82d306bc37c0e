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
#include "c2fmae/config/pretrain_config.h"
#include "c2fmae/train/pretrain_engine.h"
#include "program/run_training.h"

int main(int argc, char** argv) {
  using namespace c2fmae;
  program::TrainingProgram<config::PretrainConfig, train::PretrainEngine> program;
  program.name = "c2fmae_pretrain";
  program.about = "c2fmae_pretrain: coarse-to-fine masked autoencoder pre-training";
  program.pretrained_help =
      "start from these weights (sets train.pretrained): a timm / MAE ViT safetensors file for "
      "the encoder, or a c2fmae checkpoint or c2fmae_export --part all file";
  program.check = [](const config::PretrainConfig& cfg, const program::TrainingArguments&) {
    train::check_pretrain_config(cfg);
  };
  return program::run_training(argc, argv, program);
}
