#include "c2fmae/train/encoder_export.h"

#include <torch/torch.h>

#include "c2fmae/core/affix.h"
#include "c2fmae/core/error_text.h"
#include "c2fmae/core/usage_error.h"

namespace c2fmae::train {
namespace {

/// The linear probe's BatchNorm epsilon (models::Classifier, MAE's main_linprobe.py).
constexpr double kHeadNormEps = 1e-6;

}  // namespace

ExportPart parse_export_part(const std::string& name) {
  if (name == "encoder") return ExportPart::kEncoder;
  if (name == "all") return ExportPart::kAll;
  throw UsageError(with_hint("--part " + name + ": unknown part",
                             "use encoder (timm's ViT names) or all (the whole model)"));
}

torch::OrderedDict<std::string, torch::Tensor> export_tensors(const WeightsFile& file,
                                                              ExportPart part) {
  torch::OrderedDict<std::string, torch::Tensor> out;
  bool backbone = false;
  for (const auto& item : file.tensors) backbone |= starts_with(item.key(), "backbone.");
  if (!backbone) {
    throw UsageError(
        with_hint("--checkpoint " + file.path + " (" + file.kind + ") holds no backbone.* tensors",
                  "give a checkpoint written by c2fmae_pretrain or c2fmae_finetune"));
  }
  if (part == ExportPart::kAll) {
    for (const auto& item : file.tensors) out.insert(item.key(), item.value());
    return out;
  }
  // The encoder as the pre-training model ran it on RGB (pretrained_weights.h).
  const auto tensors = fold_rgb_modality_embedding(file.tensors);
  for (const auto& item : tensors) {
    const auto& name = item.key();
    if (starts_with(name, "backbone.")) out.insert(name.substr(9), item.value());
    if (starts_with(name, "fc_norm.")) out.insert(name, item.value());
  }
  const auto* weight = file.tensors.find("head.weight");
  const auto* bias = file.tensors.find("head.bias");
  if (weight && bias) {
    auto w = weight->to(torch::kFloat), b = bias->to(torch::kFloat);
    const auto* mean = file.tensors.find("head_norm.running_mean");
    const auto* var = file.tensors.find("head_norm.running_var");
    if (mean && var) {
      const auto inv = (var->to(torch::kFloat) + kHeadNormEps).rsqrt();  // [D]
      w = w * inv.unsqueeze(0);
      b = b - torch::mv(w, mean->to(torch::kFloat));
    }
    out.insert("head.weight", w.to(weight->dtype()).contiguous());
    out.insert("head.bias", b.to(bias->dtype()).contiguous());
  }
  return out;
}

}  // namespace c2fmae::train
