// The config root of c2fmae_pretrain: the sections pre-training reads, and the rules that
// span them. Rules that need another area's knowledge (ViT presets, registered mask
// generators, a dataset's classes) are that area's and run in train::check_pretrain_config.
#pragma once
#include "c2fmae/config/config.h"

namespace c2fmae::config {

struct PretrainConfig : Root<PretrainConfig> {
  ModelConfig model;
  MaskingConfig masking;
  CurriculumConfig curriculum;
  LossConfig loss;
  DataConfig data;
  OptimConfig optim;
  TrainConfig train;
  DistConfig dist;
  LogConfig log;

  void visit_sections(SectionVisitor& v) override {
    v("model", model);
    v("masking", masking);
    v("curriculum", curriculum);
    v("loss", loss);
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
