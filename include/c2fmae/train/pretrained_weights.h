// Weights to start a model from (train.pretrained, --pretrained): a c2fmae checkpoint (of
// pre-training or fine-tuning), or a safetensors file under timm's ViT names (timm, MAE's
// weights converted, c2fmae_export) or our own (c2fmae_export --part all).
//
//   auto file = read_weights("runs/pre/checkpoint-00001000.pt");
//   auto report = load_weights(*classifier, file);   // backbone.* loaded, decoders left out
//   log::info(report.text());
//
// A tensor of the model called N is taken from the file's N, or, for N = backbone.X, the
// file's X (timm's names) — so a pre-training checkpoint, a timm ViT and an export all feed a
// fine-tuning classifier's encoder, and a timm ViT the encoder of a pre-training model.
// pos_embed of another grid is resized as MAE's interpolate_pos_embed does (bicubic on the
// patch grid, the class token's row kept). A head of another shape is left out (a head for
// other classes, as MAE drops it); any other shape difference is refused.
//
// The whole encoder leaves pre-training: the pre-training model adds its learned modality
// embedding's rgb row to every RGB token (models/c2fmae_model.h), which a ViT alone has no
// place for. Wherever the weights leave for a model without modality_embed (a classifier,
// c2fmae_export's timm encoder), that row is folded into patch_embed.proj.bias, so the
// encoder computes on RGB exactly the tokens it computed in pre-training.
#pragma once
#include <torch/nn/module.h>
#include <torch/ordered_dict.h>

#include <string>
#include <vector>

#include "c2fmae/config/config.h"

namespace c2fmae::train {

/// train.pretrained, if set, must name a readable file (ConfigError naming the key):
/// checked with the config, before a run directory is touched.
void check_pretrained_path(const config::TrainConfig& train, config::Checker& c);

struct WeightsFile {
  std::string path;
  /// "c2fmae checkpoint (step N)" or "safetensors".
  std::string kind;
  /// The tensors under their stored names (a checkpoint's model.* entries without "model.").
  torch::OrderedDict<std::string, torch::Tensor> tensors;
  /// The classes its head was trained on, by label (a c2fmae_finetune checkpoint of a
  /// dataset with class names); empty when unknown.
  std::vector<std::string> class_names;
};

/// The class names as a checkpoint stores them (extra state "class_names": uint8 bytes of
/// "<length>:<name>" for each, so any byte may be in a name), and back (no names for bytes
/// not in that form).
torch::Tensor class_names_tensor(const std::vector<std::string>& names);
std::vector<std::string> class_names_of(const torch::Tensor& stored);

/// Throws UsageError when `head` (the classes a checkpoint's head was trained on) and
/// `dataset` (`dataset_name`'s) both have names and differ: the head's outputs would mean
/// other classes. Names the first label that differs.
void check_head_classes(const std::vector<std::string>& head, const std::string& checkpoint,
                        const std::vector<std::string>& dataset, const std::string& dataset_name);

/// Reads `path`. Throws UsageError naming the file and what is wrong (missing, a directory,
/// not a checkpoint or safetensors file, malformed) — an argument problem.
WeightsFile read_weights(const std::string& path);

/// What load_weights did.
struct LoadReport {
  std::vector<std::string> loaded;       ///< the model's names that were loaded
  std::vector<std::string> resized;      ///< of those, pos_embed resized to the model's grid
  std::vector<std::string> initialised;  ///< the model's names the file lacks (kept as built)
  std::vector<std::string> left_out;     ///< the file's names not used, with the reason
  bool rgb_folded = false;  ///< the file's rgb modality embedding was folded into the bias
  /// Several lines: counts, then the names (runs of blocks.N.* folded).
  std::string text() const;
};

/// The pre-training model's addition to every RGB token beyond the backbone's: the rgb row
/// of `tensors`' modality_embed ([D]), or undefined when there is none. Modalities are sorted
/// coarse to fine, so rgb's row is the last, and it is enabled when the rows outnumber the
/// semantic and instance adapters the file holds.
torch::Tensor rgb_modality_embedding(const torch::OrderedDict<std::string, torch::Tensor>& tensors);

/// `tensors` with rgb_modality_embedding() added to the patch embedding's bias (under
/// `bias_name`) and modality_embed removed: the encoder as a plain ViT. Unchanged when there
/// is nothing to fold.
torch::OrderedDict<std::string, torch::Tensor> fold_rgb_modality_embedding(
    const torch::OrderedDict<std::string, torch::Tensor>& tensors,
    const std::string& bias_name = "backbone.patch_embed.proj.bias");

/// Copies the file's tensors into `module`'s parameters and buffers (converted to their dtype
/// and device) by the naming rule above; into a module without modality_embed, the file's
/// rgb modality embedding is folded first (fold_rgb_modality_embedding). Throws UsageError if no
/// tensor of the backbone loads (not a ViT of this kind), if a backbone parameter is missing from a
/// file that has the backbone, or for a shape that differs other than a head's or pos_embed's grid.
LoadReport load_weights(torch::nn::Module& module, const WeightsFile& file);

}  // namespace c2fmae::train
