// A segmentation model exported by tools/export_segmenter.py, loaded from C++: a TorchScript
// file (.pt) or an AOTInductor package (.pt2), and the JSON metadata it carries under the key
// c2fmae_segmenter (docs/pseudolabels.md, "The model file").
//
//   auto model = Segmenter::load("seg.pt2", torch::kCUDA);
//   auto outputs = model.run(batch);   // batch: [B, 3, H, W] float RGB 0..255
//
// The model normalises its input itself, so the program only resizes and pads. Its outputs
// depend on its kind:
// - semantic: logits [B, K, h, w] (DeepLab, FCN, LRASPP, SegFormer);
// - mask_classification: class logits [B, Q, K + 1] (last: no object) and mask logits
//   [B, Q, h, w] (Mask2Former, MaskFormer, DETR, OneFormer);
// - instances: scores [B, N], labels [B, N], mask probabilities [B, N, h, w], rows of score 0
//   padding (Mask R-CNN or YOLO-seg with their NMS inside the graph).
// run() checks every output's shape against the kind and the class count.
#pragma once
#include <torch/types.h>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "c2fmae/core/enum_names.h"

namespace c2fmae::pseudolabel {

/// The model file or its metadata cannot be used: not a model, no or bad metadata, outputs of
/// another shape than its kind says. A usage problem: programs exit 2 for it.
class SegmenterError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class SegmenterKind { kSemantic, kMaskClassification, kInstances };
constexpr auto enum_names(SegmenterKind) {
  return std::array{std::pair{SegmenterKind::kSemantic, "semantic"},
                    std::pair{SegmenterKind::kMaskClassification, "mask_classification"},
                    std::pair{SegmenterKind::kInstances, "instances"}};
}

/// How images are brought to the model (detectron2's ResizeShortestEdge and padding).
struct SegmenterInput {
  int64_t short_side = 0;         ///< resize so the short side is this (0: keep the size)
  int64_t max_side = 0;           ///< ... and the long side at most this (0: no limit)
  int64_t size_divisibility = 1;  ///< pad height and width up to multiples of it
  std::array<double, 3> pad_value{0.0, 0.0, 0.0};  ///< RGB 0..255 of the padding
  std::optional<std::array<int64_t, 2>> canvas;    ///< fixed padded size [H, W] (AOTI)
  std::optional<int64_t> batch;                    ///< fixed batch size (AOTI)
};

/// The post-processing thresholds the model was exported with (the program may override).
struct SegmenterDefaults {
  double object_mask_threshold = 0.8;  ///< mask classification: a query's class score
  double overlap_threshold = 0.8;      ///< mask classification: won / own mask area
  double mask_threshold = 0.5;         ///< sigmoid (or probability) at or above: in the mask
  double score_threshold = 0.5;        ///< instances: a detection's score
  double instance_overlap_threshold =
      0.5;  ///< instances: already painted / own area, above: dropped
};

struct SegmenterInfo {
  SegmenterKind kind = SegmenterKind::kSemantic;
  int64_t num_classes = 0;
  std::vector<std::string> class_names;  ///< num_classes names
  std::vector<int64_t> thing_ids;        ///< sorted; the other classes are stuff
  SegmenterInput input;
  SegmenterDefaults defaults;
  std::string source;   ///< where the weights came from (hf:..., torchvision:..., random:...)
  std::string licence;  ///< of the weights
  std::string json;     ///< the metadata as stored
  bool is_thing(int64_t cls) const;
};

/// Parses and checks the metadata JSON; `origin` names the file in messages. Throws
/// SegmenterError naming the key.
SegmenterInfo parse_segmenter_info(const std::string& json, const std::string& origin);

/// The metadata of a model file without loading the model (quick, even for a .pt2): throws
/// SegmenterError as load() does for a file that is missing, not a model file, or has no or
/// bad metadata.
SegmenterInfo read_segmenter_info(const std::string& path);

class Segmenter {
 public:
  /// Loads a TorchScript file or (a .pt2 name) an AOTInductor package onto `device`. Throws
  /// SegmenterError if the file is missing, not a model, or its metadata is missing or bad.
  static Segmenter load(const std::string& path, const torch::Device& device);
  ~Segmenter();
  Segmenter(Segmenter&&) noexcept;
  Segmenter& operator=(Segmenter&&) noexcept;

  const SegmenterInfo& info() const { return info_; }
  const std::string& path() const { return path_; }
  bool is_aoti() const;
  /// Where its inputs must be.
  torch::Device device() const;
  /// The model on `batch` ([B, 3, H, W] float32, RGB 0..255, on the model's device), its
  /// outputs checked against the kind (SegmenterError naming the shapes otherwise).
  std::vector<torch::Tensor> run(const torch::Tensor& batch);

 private:
  struct Impl;
  Segmenter(std::string path, SegmenterInfo info, std::unique_ptr<Impl> impl);
  std::string path_;
  SegmenterInfo info_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace c2fmae::pseudolabel
