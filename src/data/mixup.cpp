#include "c2fmae/data/mixup.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "c2fmae/core/random.h"

namespace c2fmae::data {
namespace {

// Beta(a, a) as a ratio of gammas; both underflowing to 0 (tiny a) is redrawn.
double symmetric_beta(Rng& rng, double alpha) {
  while (true) {
    const double g1 = gamma(rng, alpha), g2 = gamma(rng, alpha);
    if (g1 + g2 > 0.0) return g1 / (g1 + g2);
  }
}

// timm's _params_per_batch: lam = 1 and no cutmix when the batch is not mixed.
MixupDraw draw_params(const MixupOptions& o, Rng& rng) {
  MixupDraw d;
  if (!(uniform01(rng) < o.prob)) return d;
  if (o.mixup_alpha > 0.0 && o.cutmix_alpha > 0.0) {
    d.cutmix = uniform01(rng) < o.switch_prob;
    d.lam = symmetric_beta(rng, d.cutmix ? o.cutmix_alpha : o.mixup_alpha);
  } else if (o.mixup_alpha > 0.0) {
    d.lam = symmetric_beta(rng, o.mixup_alpha);
  } else {
    d.cutmix = true;
    d.lam = symmetric_beta(rng, o.cutmix_alpha);
  }
  return d;
}

// timm's rand_bbox (margin 0) and cutmix_bbox_and_lam: a box of side int(H * sqrt(1 - lam))
// centred on a uniform pixel, clipped to the image.
void draw_box(MixupDraw& d, int64_t h, int64_t w, bool correct_lam, Rng& rng) {
  const double ratio = std::sqrt(1.0 - d.lam);
  const auto cut_h = static_cast<int64_t>(static_cast<double>(h) * ratio);
  const auto cut_w = static_cast<int64_t>(static_cast<double>(w) * ratio);
  const int64_t cy = uniform_int(rng, 0, h - 1), cx = uniform_int(rng, 0, w - 1);
  d.y0 = std::clamp<int64_t>(cy - cut_h / 2, 0, h);
  d.y1 = std::clamp<int64_t>(cy + cut_h / 2, 0, h);
  d.x0 = std::clamp<int64_t>(cx - cut_w / 2, 0, w);
  d.x1 = std::clamp<int64_t>(cx + cut_w / 2, 0, w);
  if (correct_lam) {
    d.lam = 1.0 - static_cast<double>((d.y1 - d.y0) * (d.x1 - d.x0)) / static_cast<double>(h * w);
  }
}

}  // namespace

bool MixupOptions::active() const { return mixup_alpha > 0.0 || cutmix_alpha > 0.0; }

torch::Tensor mix_batch(torch::Tensor& rgb, const torch::Tensor& labels,
                        const MixupOptions& options, uint64_t seed, MixupDraw* draw) {
  TORCH_CHECK(rgb.dim() == 4 && rgb.is_floating_point(),
              "mix_batch: expected floating rgb [B, C, H, W], but got ", rgb.sizes(), " ",
              rgb.scalar_type());
  TORCH_CHECK(labels.dim() == 1 && labels.size(0) == rgb.size(0), "mix_batch: expected labels [",
              rgb.size(0), "], but got ", labels.sizes());
  TORCH_CHECK(rgb.size(0) % 2 == 0, "mix_batch: the batch size must be even (sample i is mixed ",
              "with sample B-1-i), but got ", rgb.size(0),
              "; hint: use an even per-process batch size, or drop the last batch");
  if (options.mixup_alpha < 0.0 || options.cutmix_alpha < 0.0) {
    throw std::invalid_argument("mix_batch: mixup_alpha and cutmix_alpha must be >= 0, got " +
                                std::to_string(options.mixup_alpha) + " and " +
                                std::to_string(options.cutmix_alpha));
  }
  MixupDraw d;
  if (options.active()) {
    Rng rng(seed);
    d = draw_params(options, rng);
    if (d.lam == 1.0) {
      d = MixupDraw{};  // timm's _mix_batch leaves the batch alone
    } else if (d.cutmix) {
      draw_box(d, rgb.size(2), rgb.size(3), options.correct_lam, rng);
      auto box = rgb.narrow(2, d.y0, d.y1 - d.y0).narrow(3, d.x0, d.x1 - d.x0);
      box.copy_(box.flip(0));  // flip copies: every image takes its partner's original box
    } else {
      auto flipped = rgb.flip(0).mul_(1.0 - d.lam);
      rgb.mul_(d.lam).add_(flipped);
    }
  }
  if (draw) *draw = d;
  return mixup_target(labels, options.num_classes, d.lam, options.label_smoothing);
}

torch::Tensor mixup_target(const torch::Tensor& labels, int64_t num_classes, double lam,
                           double smoothing) {
  TORCH_CHECK(labels.dim() == 1 && labels.scalar_type() == torch::kLong,
              "mixup_target: expected int64 labels [B], but got ", labels.sizes(), " ",
              labels.scalar_type());
  TORCH_CHECK(num_classes > 0, "mixup_target: num_classes must be > 0, but got ", num_classes);
  const double off = smoothing / static_cast<double>(num_classes);
  const double on = 1.0 - smoothing + off;
  auto one_hot = [&](const torch::Tensor& y) {  // [B] -> [B, C]
    return torch::full({y.size(0), num_classes}, off, labels.options().dtype(torch::kFloat))
        .scatter_(1, y.view({-1, 1}), on);
  };
  return one_hot(labels) * lam + one_hot(labels.flip(0)) * (1.0 - lam);
}

}  // namespace c2fmae::data
