// Pictures of what the model reconstructs, for the pre-training run to write as a PNG every
// few epochs: per sample one row of equal square panels — mask_picture's row (the RGB image,
// the coloured semantic map, the coloured instance map, then each enabled modality on its
// visible patches) followed by one reconstruction panel per enabled modality, coarse to fine
// (model order). All rows stacked top to bottom, no separators:
//
//   picture: [N * size, (3 + 2 * M) * size, 3] uint8 RGB (HWC), on the CPU,
//
// N the batch's samples, M the enabled modalities, `size` the panel side (a multiple of the
// patch grid, as for mask_picture). MAE mode (rgb only): [N * size, 5 * size, 3].
//
// A reconstruction panel is MAE's "reconstruction + visible": the model's prediction on the
// masked patches, the input on the visible ones, and the masked patches' top and left edges
// drawn in kGridColour (one pixel of the panel) so the reconstructed region stays visible.
// Predictions are decoded as the losses read them (losses/*.cpp):
//   semantic  logits [., q*q*C] (q = patch / kLabelDownsample cells, C classes innermost)
//             -> argmax class per label cell -> semantic_colours (the palette of the input).
//   instance  embeddings [., q*q*E] (E = instance_head_dim innermost) -> per sample, the
//             embeddings of its masked cells projected onto their top-3 principal directions
//             (centred, SVD in double; each direction's sign fixed so that its largest-
//             magnitude coordinate is positive), each of the 3 channels min-max scaled to
//             0..255 over those cells (a constant channel, or one missing when E or the cell
//             count is below 3, is 128). Colours therefore mean "same embedding, same colour"
//             within one sample only; they are not the palette colours of the visible cells.
//   rgb       pixels [., p*p*3] in patchify order; with loss.norm_pix the per-patch target
//             normalisation is undone with the TRUE patch's statistics as rgb_loss computes
//             them (mean, unbiased variance, eps 1e-6: pred * sqrt(var + 1e-6) + mean, in
//             the ImageNet-normalised space) -> rgb_pixels.
// Label maps may be at the image or the label resolution (label_resolution); the semantic
// and instance panels are drawn at the label resolution and scaled up (resize_nearest). A
// batch without semantic or instance maps (an rgb-only run) shows them as ignored / no
// instance. The predictions may be on any device in any floating dtype (bf16 under
// autocast); any row set that covers every masked token will do: forward(batch, true) (all
// tokens) or the training forward (masked tokens only).
//
//   torch::NoGradGuard no_grad;
//   Batch shown = batch.select(first_eight);  // a few samples; visible/masked re-derived
//   auto out = model->forward(shown, /*all_tokens=*/true);
//   train::write_png(dir + "/reconstruction_ep0010.png",
//                    train::reconstruction_picture(shown, out, cfg.model, cfg.loss,
//                                                  cfg.model.img_size));
#pragma once
#include <torch/types.h>

#include <cstdint>

#include "c2fmae/config/sections.h"
#include "c2fmae/core/batch.h"
#include "c2fmae/core/modality.h"
#include "c2fmae/models/c2fmae_model.h"

namespace c2fmae::train {

/// Predicted instance embeddings as colours: [P, E] float -> [P, 3] uint8 (top-3 principal
/// directions, each channel min-max scaled to 0..255; see the header comment).
torch::Tensor embedding_colours(const torch::Tensor& embeddings);

/// The picture of `batch` (rgb, mask [N, M, L] defined; semantic and instance optional) and
/// `out` (the model's forward of that batch), panels `size` x `size`:
/// [N * size, (3 + 2 * M) * size, 3] uint8. Throws when a masked token has no prediction,
/// or when the shapes do not match `model`.
torch::Tensor reconstruction_picture(const Batch& batch, const models::ModelOutput& out,
                                     const config::ModelConfig& model,
                                     const config::LossConfig& loss, int64_t size);

}  // namespace c2fmae::train
