#include "c2fmae/train/reconstruction_pictures.h"

#include <torch/torch.h>

#include <algorithm>
#include <tuple>
#include <vector>

#include "c2fmae/core/patchify.h"
#include "c2fmae/train/mask_pictures.h"

namespace c2fmae::train {
namespace {

/// Per-token rows of a prediction placed at their tokens: [N, X] for rows [N] -> [B * L, X]
/// (zeros where no row), and which tokens got one: [B, L] bool.
std::pair<torch::Tensor, torch::Tensor> place_rows(const torch::Tensor& prediction,
                                                   const torch::Tensor& rows, int64_t b,
                                                   int64_t l) {
  auto values = torch::zeros({b * l, prediction.size(1)}, prediction.options());
  values.index_copy_(0, rows, prediction);
  auto predicted = torch::zeros({b * l}, torch::kBool).index_fill_(0, rows, true);
  return {values, predicted.view({b, l})};
}

/// A per-patch mask [B, g, g]-ordered as [B, L] spread over cells of `cell` x `cell`:
/// [B, g * cell, g * cell] bool.
torch::Tensor spread(const torch::Tensor& masked, int64_t grid, int64_t cell) {
  const int64_t b = masked.size(0);
  return masked.view({b, grid, 1, grid, 1})
      .expand({b, grid, cell, grid, cell})
      .reshape({b, grid * cell, grid * cell});
}

/// `panel` ([size, size, 3] uint8) with the top and left edges of its masked patches
/// (mask [L] bool) drawn in kGridColour, as masked_panel draws them over the grey fill.
torch::Tensor with_masked_edges(const torch::Tensor& panel, const torch::Tensor& mask,
                                int64_t grid) {
  const int64_t size = panel.size(0), cell = size / grid;
  auto masked = spread(mask.view({1, -1}), grid, cell)[0].unsqueeze(-1);
  auto y = torch::arange(size).remainder(cell).view({-1, 1, 1});
  auto x = torch::arange(size).remainder(cell).view({1, -1, 1});
  auto edge = masked.logical_and((y == 0).logical_or(x == 0));
  auto grid_colour = torch::tensor({kGridColour[0], kGridColour[1], kGridColour[2]}, torch::kUInt8);
  return torch::where(edge, grid_colour, panel).contiguous();
}

}  // namespace

torch::Tensor embedding_colours(const torch::Tensor& embeddings) {
  TORCH_CHECK(embeddings.dim() == 2, "embedding_colours: expected [P, E], but got ",
              embeddings.sizes());
  const int64_t p = embeddings.size(0), e = embeddings.size(1);
  auto colours = torch::full({p, 3}, 128.0, torch::kDouble);
  const int64_t k = std::min<int64_t>({3, e, p});
  if (k == 0) return colours.to(torch::kUInt8);
  auto x = embeddings.detach().cpu().to(torch::kDouble);
  x = x - x.mean(0, /*keepdim=*/true);
  torch::Tensor s, vh;
  std::tie(std::ignore, s, vh) = torch::linalg_svd(x, /*full_matrices=*/false);
  const double top = s[0].item<double>();
  for (int64_t j = 0; j < k; ++j) {
    // A direction without variance (or only rounding noise) is left grey.
    if (!(top > 1e-12) || s[j].item<double>() <= 1e-6 * top) break;
    auto dir = vh[j];
    if (dir[dir.abs().argmax().item<int64_t>()].item<double>() < 0) dir = -dir;
    auto proj = x.matmul(dir);  // [P]
    const double lo = proj.min().item<double>(), hi = proj.max().item<double>();
    if (!(hi - lo > 0)) continue;
    colours.select(1, j).copy_((proj - lo) * (255.0 / (hi - lo)));
  }
  return colours.round().clamp(0, 255).to(torch::kUInt8);
}

torch::Tensor reconstruction_picture(const Batch& batch, const models::ModelOutput& out,
                                     const config::ModelConfig& model,
                                     const config::LossConfig& loss, int64_t size) {
  const auto& modalities = model.modalities;
  const auto m = static_cast<int64_t>(modalities.size());
  const int64_t grid = model.grid_size(), l = grid * grid, p = model.patch_size;
  const int64_t q = p / kLabelDownsample, h = grid * q;
  TORCH_CHECK(batch.rgb.defined() && batch.mask.defined(),
              "reconstruction_picture: the batch needs rgb and mask");
  const int64_t b = batch.rgb.size(0);
  TORCH_CHECK(batch.mask.dim() == 3 && batch.mask.size(0) == b && batch.mask.size(1) == m &&
                  batch.mask.size(2) == l,
              "reconstruction_picture: expected mask [", b, ", ", m, ", ", l, "], but got ",
              batch.mask.sizes());
  TORCH_CHECK(batch.rgb.dim() == 4 && batch.rgb.size(2) == model.img_size &&
                  batch.rgb.size(3) == model.img_size,
              "reconstruction_picture: expected images of ", model.img_size, " px, but got ",
              batch.rgb.sizes());
  TORCH_CHECK(static_cast<int64_t>(out.predictions.size()) == m &&
                  static_cast<int64_t>(out.rows.size()) == m,
              "reconstruction_picture: expected ", m, " predictions and row sets, but got ",
              out.predictions.size(), " and ", out.rows.size());
  TORCH_CHECK(size > 0 && size % grid == 0, "reconstruction_picture: the panel size ", size,
              " is not a multiple of the patch grid ", grid);

  Batch cpu;
  cpu.rgb = batch.rgb.detach().cpu().to(torch::kFloat);
  cpu.mask = batch.mask.cpu().to(torch::kBool);
  // Placeholder maps for a batch without them (an rgb-only run): ignored / no instance.
  cpu.semantic = batch.semantic.defined()
                     ? label_resolution(batch.semantic.cpu(), model.img_size).to(torch::kLong)
                     : torch::full({b, h, h}, kIgnoreClass, torch::kLong);
  cpu.instance = batch.instance.defined()
                     ? label_resolution(batch.instance.cpu(), model.img_size).to(torch::kLong)
                     : torch::full({b, h, h}, kNoInstance, torch::kLong);

  // Per modality: the decoded reconstruction panels of every sample, [B] x [size, size, 3].
  std::vector<std::vector<torch::Tensor>> panels(static_cast<size_t>(m));
  for (int64_t i = 0; i < m; ++i) {
    const auto modality = modalities[static_cast<size_t>(i)];
    auto pred = out.predictions[static_cast<size_t>(i)].detach().cpu().to(torch::kFloat);
    auto rows = out.rows[static_cast<size_t>(i)].cpu().to(torch::kLong);
    const int64_t expected = modality == Modality::kSemantic   ? model.num_semantic_classes * q * q
                             : modality == Modality::kInstance ? model.instance_head_dim * q * q
                                                               : p * p * 3;
    TORCH_CHECK(pred.dim() == 2 && pred.size(0) == rows.numel() && pred.size(1) == expected,
                "reconstruction_picture: expected ", modality_name(modality), " predictions [",
                rows.numel(), ", ", expected, "], but got ", pred.sizes());
    TORCH_CHECK(rows.numel() == 0 ||
                    (rows.min().item<int64_t>() >= 0 && rows.max().item<int64_t>() < b * l),
                "reconstruction_picture: ", modality_name(modality), " rows outside 0..", b * l);
    if (modality == Modality::kRgb && loss.norm_pix) {
      // rgb_loss's target: (x - mean) / sqrt(var + 1e-6) over the TRUE patch (unbiased var).
      auto target =
          patchify(cpu.rgb.to(torch::kDouble), p).reshape({b * l, -1}).index_select(0, rows);
      auto mean = target.mean(-1, /*keepdim=*/true);
      auto var = target.var(-1, /*unbiased=*/true, /*keepdim=*/true);
      pred = pred.to(torch::kDouble) * (var + 1e-6).sqrt() + mean;
    }
    torch::Tensor values, predicted;
    std::tie(values, predicted) = place_rows(pred, rows, b, l);
    const auto masked = cpu.mask.select(1, i);  // [B, L]
    TORCH_CHECK(!masked.logical_and(predicted.logical_not()).any().item<bool>(),
                "reconstruction_picture: some masked ", modality_name(modality),
                " tokens have no prediction\nhint: pass the model's forward of this batch");
    values = values.view({b, l, -1});
    for (int64_t s = 0; s < b; ++s) {
      torch::Tensor picture;
      switch (modality) {
        case Modality::kSemantic: {
          // [L, q*q*C] -> class per cell [L, q*q] -> map [h, h] (semantic_loss's layout).
          auto classes = values[s].view({l, q * q, model.num_semantic_classes}).argmax(-1);
          auto map = unpatchify(classes.unsqueeze(0), q, grid, grid)[0][0];
          auto shown =
              torch::where(spread(masked[s].unsqueeze(0), grid, q)[0], map, cpu.semantic[s]);
          picture = semantic_colours(shown);
          break;
        }
        case Modality::kInstance: {
          // [L, q*q*E] -> embeddings per cell [h, h, E] (instance_loss's layout).
          auto emb = unpatchify(values[s].unsqueeze(0), q, grid, grid)[0].permute({1, 2, 0});
          auto cells = spread(masked[s].unsqueeze(0), grid, q)[0];  // [h, h]
          picture = instance_colours(cpu.instance[s]).clone();
          picture.index_put_({cells}, embedding_colours(emb.index({cells})));
          break;
        }
        case Modality::kRgb: {
          auto image = unpatchify(values[s].unsqueeze(0).to(torch::kDouble), p, grid, grid)[0];
          auto pixels = spread(masked[s].unsqueeze(0), grid, p)[0].unsqueeze(0);  // [1, H, W]
          picture = rgb_pixels(torch::where(pixels, image, cpu.rgb[s].to(torch::kDouble)));
          break;
        }
      }
      panels[static_cast<size_t>(i)].push_back(
          with_masked_edges(resize_nearest(picture, size), masked[s], grid));
    }
  }

  std::vector<torch::Tensor> rows;
  for (int64_t s = 0; s < b; ++s) {
    std::vector<torch::Tensor> row = {mask_picture(cpu, s, modalities, size)};
    for (int64_t i = 0; i < m; ++i) row.push_back(panels[static_cast<size_t>(i)][s]);
    rows.push_back(torch::cat(row, 1));
  }
  return torch::cat(rows, 0).contiguous();
}

}  // namespace c2fmae::train
