// Synthetic shapes: the embedded default dataset (DESIGN.md §2). Sample i is a pure function
// of (seed, i): a background of one or two "stuff" regions and 1-5 possibly occluding
// objects of several shape classes, with the exact semantic mask, instance mask (random
// 16-bit ids) and an image label. Shapes are defined in continuous coordinates, so any crop
// renders exactly at any resolution. No files.
//
// As in photographs, the pixels carry the semantics: each stuff class has its own colour
// range and texture family (sky light blue and smooth with a gradient, grass green with
// blades, wall brick-coloured with bricks, water deep blue-green with ripples), while an
// object's colour and texture are drawn independently of its shape, so a shape is known by
// its geometry alone. The label of sample i is i mod 6 (balanced): the shape of the object
// with the largest visible area, which is at least 1.5x the runner-up's and 3 % of the image
// (scenes are redrawn until it is). Training crops (load) that would keep less than half of
// that object are moved to centre on it, so a crop's label is the image's.
// docs/SYNTHETIC.md measures these properties.
#pragma once
#include <array>
#include <string>

#include "c2fmae/data/dataset.h"
#include "c2fmae/data/sample.h"

namespace c2fmae::data {

class SyntheticShapes : public Dataset {
 public:
  /// Background ("stuff") classes: semantic ids 0..kNumStuff-1.
  static constexpr int64_t kNumStuff = 4;
  /// Object shape classes: semantic ids kNumStuff..kNumStuff+kNumShapes-1, labels 0..5.
  static constexpr int64_t kNumShapes = 6;
  /// Semantic classes in all.
  static constexpr int64_t kNumSemanticClasses = kNumStuff + kNumShapes;
  static const std::array<const char*, kNumShapes>& shape_names();

  SyntheticShapes(int64_t num_samples, uint64_t seed);

  int64_t size() const override { return num_samples_; }
  int64_t num_classes() const override { return kNumShapes; }
  /// The image label is the kind of its dominant shape: the shape names, by label.
  std::vector<std::string> class_names() const override {
    return {shape_names().begin(), shape_names().end()};
  }
  bool has_masks() const override { return true; }
  std::string describe(int64_t index) const override;
  int64_t load(int64_t index, uint64_t seed, const SampleOptions& options,
               const SampleSlot& slot) const override;

  /// Sample `index` cropped by `aug.box` (in [0, 1]^2: the scene is continuous), flipped if
  /// `aug.flip`, at size x size, with full-resolution maps.
  Sample get(int64_t index, const Augmentation& aug, int64_t size) const;

 private:
  /// get(), with the crop moved onto the labelled object if `keep_label` (training).
  Sample render(int64_t index, Augmentation aug, int64_t size, bool keep_label) const;

  int64_t num_samples_;
  uint64_t seed_;
};

}  // namespace c2fmae::data
