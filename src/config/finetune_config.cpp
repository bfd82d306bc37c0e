// The fine-tuning root's defaults and the rules that span its sections.
#include "c2fmae/config/finetune_config.h"

#include <string>

#include "c2fmae/core/number_text.h"

namespace c2fmae::config {

FinetuneConfig::FinetuneConfig() {
  data.crop_scale_min = 0.08;  // timm's RandomResizedCrop default, as MAE fine-tunes
  optim.blr = 5e-4;
  optim.beta2 = 0.999;
  optim.min_lr = 1e-6;
  optim.warmup_epochs = 5;
  train.epochs = 100;
  train.output_dir = "runs/finetune";
}

void FinetuneConfig::validate() const {
  Checker c(origins);
  model.validate(c);
  finetune.validate(c);
  data.validate(c);
  optim.validate(c);
  train.validate(c);
  dist.validate(c);
  log.validate(c);

  check_schedule(c, optim, train, "MAE fine-tuning: 5 of 100; linear probing: 10 of 90", "1e-6");
  const bool mixing = finetune.mixup > 0.0 || finetune.cutmix > 0.0;
  c.require(!mixing || finetune.mixup_prob == 0.0 || data.batch_size % 2 == 0, "data.batch_size",
            data.batch_size, "must be even: mixup and cutmix pair sample i with sample B-1-i",
            "use an even batch, or finetune.mixup = 0 and finetune.cutmix = 0");
  c.require(finetune.mode != FinetuneMode::kEval || !train.pretrained.empty(), "train.pretrained",
            "\"\"", "finetune.mode = eval evaluates weights, but none are given",
            "pass --pretrained CHECKPOINT_OR_SAFETENSORS");
}

}  // namespace c2fmae::config
