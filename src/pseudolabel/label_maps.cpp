#include "c2fmae/pseudolabel/label_maps.h"

#include <torch/torch.h>

#include <algorithm>
#include <numeric>

namespace c2fmae::pseudolabel {

int64_t ignore_value(int64_t num_classes) { return num_classes > 255 ? 65535 : 255; }

LabelOptions default_label_options(const SegmenterInfo& info) {
  LabelOptions o;
  o.panoptic.object_mask_threshold = info.defaults.object_mask_threshold;
  o.panoptic.overlap_threshold = info.defaults.overlap_threshold;
  o.panoptic.mask_threshold = info.defaults.mask_threshold;
  o.panoptic.thing_classes = info.thing_ids;
  o.score_threshold = info.defaults.score_threshold;
  o.instance_overlap_threshold = info.defaults.instance_overlap_threshold;
  o.num_classes = info.num_classes;
  o.thing_ids = info.thing_ids;
  return o;
}

LabelMaps semantic_label_maps(const torch::Tensor& logits, const LabelOptions& options) {
  LabelMaps out;
  out.semantic = logits.argmax(0).cpu();
  out.instance = connected_instances(out.semantic, options.thing_ids, &out.segments);
  return out;
}

LabelMaps mask_classification_label_maps(const torch::Tensor& class_logits,
                                         const torch::Tensor& mask_logits,
                                         const LabelOptions& options) {
  LabelMaps out;
  out.semantic = semantic_scores(class_logits, mask_logits).argmax(0).cpu();
  auto panoptic = panoptic_segments(class_logits, mask_logits, options.panoptic);
  // Thing segments become instances 1, 2, ... in creation order; stuff and void are 0.
  std::vector<int32_t> instance_of(panoptic.segments_info.size() + 1, 0);
  int32_t next = 0;
  for (const auto& s : panoptic.segments_info) {
    if (s.is_thing) instance_of[static_cast<size_t>(s.id)] = ++next;
  }
  const auto lookup = torch::tensor(instance_of, torch::kInt);
  out.instance = lookup.index_select(0, panoptic.segments.cpu().flatten().to(torch::kLong))
                     .view(panoptic.segments.sizes());
  out.segments = std::move(panoptic.segments_info);
  return out;
}

LabelMaps instances_label_maps(const torch::Tensor& scores, const torch::Tensor& labels,
                               const torch::Tensor& mask_probs, const LabelOptions& options) {
  const int64_t h = mask_probs.size(1), w = mask_probs.size(2);
  LabelMaps out;
  out.instance = torch::zeros({h, w}, torch::kInt);
  out.semantic = torch::full({h, w}, ignore_value(options.num_classes), torch::kLong);
  const auto sorted = torch::sort(scores.to(torch::kFloat).cpu(), /*stable=*/true, 0,
                                  /*descending=*/true);
  const auto order = std::get<1>(sorted);
  const auto host_scores = std::get<0>(sorted).to(torch::kDouble);
  const auto host_labels = labels.cpu().to(torch::kLong).index_select(0, order);
  const auto masks = mask_probs.index_select(0, order.to(mask_probs.device()))
                         .ge(options.panoptic.mask_threshold)
                         .cpu();
  auto painted = torch::zeros({h, w}, torch::kBool);
  const auto* score_p = host_scores.data_ptr<double>();
  const auto* label_p = host_labels.data_ptr<int64_t>();
  for (int64_t i = 0; i < order.numel(); ++i) {
    if (score_p[i] < options.score_threshold) break;  // sorted: the rest are lower
    const int64_t cls = label_p[i];
    if (cls < 0 || cls >= options.num_classes) continue;  // padding rows or a bad label
    const auto mask = masks[i];
    const int64_t area = mask.sum().item<int64_t>();
    if (area == 0) continue;
    const int64_t overlap = (mask & painted).sum().item<int64_t>();
    if (static_cast<double>(overlap) / static_cast<double>(area) >
        options.instance_overlap_threshold) {
      continue;
    }
    const auto fresh = mask & painted.logical_not();
    Segment s;
    s.id = static_cast<int64_t>(out.segments.size()) + 1;
    s.category_id = cls;
    s.is_thing = std::binary_search(options.thing_ids.begin(), options.thing_ids.end(), cls);
    s.area = area - overlap;
    s.score = score_p[i];
    out.instance.masked_fill_(fresh, static_cast<int32_t>(s.id));
    out.semantic.masked_fill_(fresh, cls);
    painted |= fresh;
    out.segments.push_back(s);
  }
  return out;
}

torch::Tensor connected_instances(const torch::Tensor& semantic,
                                  const std::vector<int64_t>& thing_ids,
                                  std::vector<Segment>* segments) {
  const auto sem = semantic.to(torch::kLong).contiguous();
  const int64_t h = sem.size(0), w = sem.size(1);
  const auto* cls = sem.data_ptr<int64_t>();
  // Union-find over pixels: a thing pixel joins its left and upper neighbours of its class.
  std::vector<int64_t> parent(static_cast<size_t>(h * w), -1);
  auto find = [&](int64_t i) {
    while (parent[static_cast<size_t>(i)] != i) {
      auto& p = parent[static_cast<size_t>(i)];
      p = parent[static_cast<size_t>(p)];
      i = p;
    }
    return i;
  };
  auto unite = [&](int64_t a, int64_t b) {
    a = find(a);
    b = find(b);
    if (a != b) parent[static_cast<size_t>(std::max(a, b))] = std::min(a, b);
  };
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      const int64_t i = y * w + x;
      if (!std::binary_search(thing_ids.begin(), thing_ids.end(), cls[i])) continue;
      parent[static_cast<size_t>(i)] = i;
      if (x > 0 && parent[static_cast<size_t>(i - 1)] >= 0 && cls[i - 1] == cls[i]) unite(i, i - 1);
      if (y > 0 && parent[static_cast<size_t>(i - w)] >= 0 && cls[i - w] == cls[i]) unite(i, i - w);
    }
  }
  // Roots are each component's smallest index: its first pixel in row-major order.
  auto out = torch::zeros({h, w}, torch::kInt);
  auto* id = out.data_ptr<int32_t>();
  std::vector<int32_t> id_of_root(static_cast<size_t>(h * w), 0);
  int32_t next = 0;
  for (int64_t i = 0; i < h * w; ++i) {
    if (parent[static_cast<size_t>(i)] < 0) continue;
    const int64_t root = find(i);
    auto& rid = id_of_root[static_cast<size_t>(root)];
    if (rid == 0) {
      rid = ++next;
      if (segments) {
        Segment s;
        s.id = rid;
        s.category_id = cls[i];
        s.is_thing = true;
        s.score = 1.0;
        segments->push_back(s);
      }
    }
    id[i] = rid;
    if (segments) ++(*segments)[static_cast<size_t>(rid - 1)].area;
  }
  return out;
}

}  // namespace c2fmae::pseudolabel
