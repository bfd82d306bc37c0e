// The two maps C2FMAE reads, from one image's segmenter outputs at the image's size
// (image_geometry.h), for each kind of model (segmenter.h):
// - mask_classification: the semantic map is detectron2's semantic inference (every pixel a
//   class, as MultiMAE's released maps); the instance map holds the thing segments of its
//   panoptic inference (mask_fusion.h), 1, 2, ... in creation order, 0 for stuff and void;
// - semantic: the semantic map is the argmax; the instances are the 4-connected components of
//   each thing class, numbered 1, 2, ... in the row-major order of their first pixel;
// - instances: detections by descending score (ties: in their order) above score_threshold,
//   each painting its mask's unpainted pixels unless more than instance_overlap_threshold of
//   its mask is painted already (detectron2's panoptic_fpn rule); the semantic map is the
//   detection's class on its pixels and ignore elsewhere.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <vector>

#include "c2fmae/pseudolabel/mask_fusion.h"
#include "c2fmae/pseudolabel/segmenter.h"

namespace c2fmae::pseudolabel {

/// The semantic map's value for pixels without a class (instances kind only).
int64_t ignore_value(int64_t num_classes);

struct LabelMaps {
  torch::Tensor semantic;         ///< [H, W] int64 class ids (ignore_value() where none)
  torch::Tensor instance;         ///< [H, W] int32, 0: no instance
  std::vector<Segment> segments;  ///< the segments, things and stuff (ids of the panoptic map)
};

struct LabelOptions {
  PanopticOptions panoptic;  ///< thresholds and thing classes (mask classification)
  double score_threshold = 0.5;
  double instance_overlap_threshold = 0.5;
  int64_t num_classes = 0;
  std::vector<int64_t> thing_ids;  ///< sorted
};

/// The options a model's metadata gives, before any command-line override.
LabelOptions default_label_options(const SegmenterInfo& info);

/// logits: [K, H, W].
LabelMaps semantic_label_maps(const torch::Tensor& logits, const LabelOptions& options);
/// class_logits: [Q, K + 1]; mask_logits: [Q, H, W].
LabelMaps mask_classification_label_maps(const torch::Tensor& class_logits,
                                         const torch::Tensor& mask_logits,
                                         const LabelOptions& options);
/// scores, labels: [N]; mask_probs: [N, H, W].
LabelMaps instances_label_maps(const torch::Tensor& scores, const torch::Tensor& labels,
                               const torch::Tensor& mask_probs, const LabelOptions& options);

/// The 4-connected components of the pixels of `semantic` ([H, W] int64, host) whose class
/// is in `thing_ids` (sorted), each component one class: [H, W] int32, 1, 2, ... in the
/// row-major order of each component's first pixel, 0 elsewhere. `segments` receives one
/// entry per component (score 1).
torch::Tensor connected_instances(const torch::Tensor& semantic,
                                  const std::vector<int64_t>& thing_ids,
                                  std::vector<Segment>* segments);

}  // namespace c2fmae::pseudolabel
