#include "c2fmae/pseudolabel/mask_fusion.h"

#include <torch/torch.h>

#include <algorithm>
#include <map>

namespace c2fmae::pseudolabel {
namespace {

void check_shapes(const torch::Tensor& class_logits, const torch::Tensor& mask_logits) {
  TORCH_CHECK(class_logits.dim() == 2 && class_logits.size(1) >= 2,
              "mask fusion: class logits must be [Q, K + 1], got ", class_logits.sizes());
  TORCH_CHECK(mask_logits.dim() == 3 && mask_logits.size(0) == class_logits.size(0),
              "mask fusion: mask logits must be [Q, H, W] with Q = ", class_logits.size(0),
              ", got ", mask_logits.sizes());
}

}  // namespace

torch::Tensor semantic_scores(const torch::Tensor& class_logits, const torch::Tensor& mask_logits) {
  check_shapes(class_logits, mask_logits);
  const auto cls = torch::softmax(class_logits.to(torch::kFloat), -1);
  const auto classes = cls.narrow(1, 0, cls.size(1) - 1);  // without "no object"
  return torch::einsum("qc,qhw->chw", {classes, mask_logits.to(torch::kFloat).sigmoid()});
}

PanopticMap panoptic_segments(const torch::Tensor& class_logits, const torch::Tensor& mask_logits,
                              const PanopticOptions& options) {
  check_shapes(class_logits, mask_logits);
  const int64_t no_object = class_logits.size(1) - 1;
  const int64_t h = mask_logits.size(1), w = mask_logits.size(2);
  PanopticMap out;
  out.segments = torch::zeros({h, w}, mask_logits.options().dtype(torch::kInt));
  const auto [scores, labels] = torch::softmax(class_logits.to(torch::kFloat), -1).max(-1);
  const auto keep = labels.ne(no_object) & scores.gt(options.object_mask_threshold);
  const auto kept = keep.nonzero().flatten();
  const int64_t n = kept.numel();
  if (n == 0) return out;  // nothing detected: all void
  const auto masks = mask_logits.index_select(0, kept).to(torch::kFloat).sigmoid();  // [N,H,W]
  const auto kept_scores = scores.index_select(0, kept);
  const auto ids = (kept_scores.view({-1, 1, 1}) * masks).argmax(0);  // [H, W] winning query
  const auto above = masks.ge(options.mask_threshold);
  // Whether each pixel's winner has it in its own mask: the pixels it paints.
  const auto painted = above.gather(0, ids.unsqueeze(0)).squeeze(0);
  const auto won = torch::bincount(ids.flatten(), {}, n);
  const auto own = above.flatten(1).sum(1);
  const auto paints = torch::bincount(ids.masked_select(painted), {}, n);
  // One host read of the per-query figures; the decisions are a loop over <= Q queries.
  const auto host = torch::stack({won, own, paints, labels.index_select(0, kept)}).cpu();
  const auto host_scores = kept_scores.to(torch::kDouble).cpu();
  const auto* won_p = host[0].data_ptr<int64_t>();
  const auto* own_p = host[1].data_ptr<int64_t>();
  const auto* paints_p = host[2].data_ptr<int64_t>();
  const auto* class_p = host[3].data_ptr<int64_t>();
  const auto* score_p = host_scores.data_ptr<double>();
  std::vector<int32_t> segment_of(static_cast<size_t>(n), 0);
  std::map<int64_t, size_t> stuff;  // class -> its segment's index in segments_info
  for (int64_t k = 0; k < n; ++k) {
    if (won_p[k] == 0 || own_p[k] == 0 || paints_p[k] == 0) continue;
    if (static_cast<double>(won_p[k]) / static_cast<double>(own_p[k]) < options.overlap_threshold) {
      continue;  // most of its mask went to other queries
    }
    const int64_t cls = class_p[k];
    const bool thing = std::find(options.thing_classes.begin(), options.thing_classes.end(), cls) !=
                       options.thing_classes.end();
    if (!thing) {
      if (const auto it = stuff.find(cls); it != stuff.end()) {
        auto& merged = out.segments_info[it->second];
        segment_of[static_cast<size_t>(k)] = static_cast<int32_t>(merged.id);
        merged.area += paints_p[k];
        continue;
      }
      stuff[cls] = out.segments_info.size();
    }
    Segment s;
    s.id = static_cast<int64_t>(out.segments_info.size()) + 1;
    s.category_id = cls;
    s.is_thing = thing;
    s.area = paints_p[k];
    s.score = score_p[k];
    segment_of[static_cast<size_t>(k)] = static_cast<int32_t>(s.id);
    out.segments_info.push_back(s);
  }
  // The queries won disjoint pixels, so painting them in one gather is the loop's result.
  const auto lookup = torch::tensor(segment_of, torch::kInt).to(ids.device());
  out.segments = torch::where(painted, lookup.index_select(0, ids.flatten()).view({h, w}),
                              torch::zeros({}, out.segments.options()));
  return out;
}

}  // namespace c2fmae::pseudolabel
