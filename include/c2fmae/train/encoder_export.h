// What c2fmae_export writes: a checkpoint's encoder under timm's VisionTransformer names, so
// that timm (load_state_dict, or create_model(..., pretrained_cfg_overlay=dict(file=...))),
// detectron2's ViTDet and mmsegmentation load it; or the whole model under our own names.
//
//   encoder: backbone.X -> X (patch_embed.proj, cls_token, pos_embed with the class token's
//     row as timm's, blocks.N.*, norm), plus a fine-tuned classifier's fc_norm and head; a
//     linear probe's BatchNorm (no affine) is folded into the head
//     (W' = W / sqrt(var + eps), b' = b - W' mean), which timm's Linear head then computes
//     exactly. Nothing else: timm reads mask_token or decoder keys as another model family.
//   all: every tensor of the model as the checkpoint names it (decoders, adapters), to
//     continue pre-training elsewhere.
#pragma once
#include <torch/ordered_dict.h>

#include <string>

#include "c2fmae/train/pretrained_weights.h"

namespace c2fmae::train {

enum class ExportPart { kEncoder, kAll };

/// "encoder" or "all"; throws UsageError for anything else.
ExportPart parse_export_part(const std::string& name);

/// The tensors of `file` (a c2fmae checkpoint) that `part` exports, under the names above.
/// Throws UsageError if the file has no backbone.* tensors (not a c2fmae checkpoint).
torch::OrderedDict<std::string, torch::Tensor> export_tensors(const WeightsFile& file,
                                                              ExportPart part);

}  // namespace c2fmae::train
