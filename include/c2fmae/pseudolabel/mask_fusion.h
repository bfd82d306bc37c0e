// From a mask-classification segmenter's outputs (Mask2Former, MaskFormer, DETR, OneFormer:
// per query a class distribution with a last "no object" column, and a mask) to the maps
// C2FMAE reads: detectron2's semantic and panoptic inference, as Mask2Former's
// maskformer_model.py (semantic_inference, panoptic_inference) computes them. The panoptic
// segments are non-overlapping, so each thing segment is one instance of the instance map.
//
//   auto semantic = semantic_scores(cls, masks).argmax(0);        // [H, W] class ids
//   auto panoptic = panoptic_segments(cls, masks, options);   // [H, W] segment ids + info
//
// The rules, per kept query in query order (the tests name each one):
// - kept: its most likely class is not "no object" and scores above object_mask_threshold;
// - each pixel goes to the kept query of the highest score x sigmoid(mask);
// - a query paints the pixels it won where its own sigmoid(mask) >= mask_threshold, unless it
//   won less than overlap_threshold of its own mask (area ratio), or nothing;
// - stuff classes (not in thing_classes) merge: a later query of a class paints into the
//   first one's segment; every thing query is a segment of its own;
// - pixels nobody paints are 0 (void); segment ids count from 1 in creation order.
// The decisions are made on the host from per-query areas (one bincount each), and the map
// is one gather, so a GPU run syncs once per image, not once per query.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace c2fmae::pseudolabel {

struct PanopticOptions {
  double object_mask_threshold = 0.8;  ///< detectron2's TEST.OBJECT_MASK_THRESHOLD
  double overlap_threshold = 0.8;      ///< TEST.OVERLAP_THRESHOLD (area ratio, >=)
  double mask_threshold = 0.5;         ///< sigmoid(mask) at or above it is the query's mask
  std::vector<int64_t> thing_classes;  ///< COCO panoptic: 0..79; all others are stuff
};

struct Segment {
  int64_t id = 0;           ///< its value in the map (1, 2, ...)
  int64_t category_id = 0;  ///< the class (0..K-1)
  bool is_thing = false;
  int64_t area = 0;    ///< pixels of the map it holds (a merged stuff segment: all of them)
  double score = 0.0;  ///< the class probability of its (first) query
};

struct PanopticMap {
  torch::Tensor segments;  ///< [H, W] int32 segment ids, 0 = void
  std::vector<Segment> segments_info;
};

/// detectron2's semantic_inference: softmax(class_logits)[:, :K] summed over the queries,
/// weighted by sigmoid(mask_logits): [K, H, W] float scores (argmax(0): the semantic map).
/// class_logits [Q, K + 1], mask_logits [Q, H, W].
torch::Tensor semantic_scores(const torch::Tensor& class_logits, const torch::Tensor& mask_logits);

/// detectron2's panoptic_inference (see the file comment).
PanopticMap panoptic_segments(const torch::Tensor& class_logits, const torch::Tensor& mask_logits,
                              const PanopticOptions& options);

}  // namespace c2fmae::pseudolabel
