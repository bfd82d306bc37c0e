// The config root of c2fmae_finetune: the classifier (`model`), the recipe (`finetune`) and the
// data, optim, train, dist and log sections pre-training has too, with MAE's fine-tuning
// defaults (main_finetune.py: blr 5e-4, betas 0.9 / 0.999, 5 warm-up epochs, min lr 1e-6,
// 100 epochs, RandomResizedCrop scale 0.08-1). Rules that need another area's knowledge
// (presets, RandAugment specs, the dataset's classes) run in train::check_finetune_config.
#pragma once
#include "c2fmae/config/config.h"

namespace c2fmae::config {

struct FinetuneConfig : Root<FinetuneConfig> {
  ClassifierConfig model;
  FinetuneRecipeConfig finetune;
  DataConfig data;
  OptimConfig optim;
  TrainConfig train;
  DistConfig dist;
  LogConfig log;

  FinetuneConfig();
  void visit_sections(SectionVisitor& v) override {
    v("model", model);
    v("finetune", finetune);
    v("data", data);
    v("optim", optim);
    v("train", train);
    v("dist", dist);
    v("log", log);
  }
  using ConfigRoot::visit_sections;
  void validate() const override;
};

}  // namespace c2fmae::config
