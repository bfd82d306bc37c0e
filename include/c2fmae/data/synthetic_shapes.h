// Synthetic shapes: the embedded default dataset (DESIGN.md §2). Sample i is a pure function
// of (seed, i): a textured background of one or two "stuff" regions and 1-5 possibly
// occluding objects of several shape classes, at random position, scale, rotation, colour
// and texture, with the exact semantic mask, instance mask (random 16-bit ids) and an image
// label (the shape class of the object covering most pixels). Shapes are defined in
// continuous coordinates, so any crop renders exactly at any resolution. No files.
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
  static const std::array<const char*, kNumStuff>& stuff_names();
  static const std::array<const char*, kNumShapes>& shape_names();

  SyntheticShapes(int64_t num_samples, uint64_t seed);

  int64_t size() const override { return num_samples_; }
  int64_t num_classes() const override { return kNumShapes; }
  bool has_masks() const override { return true; }
  std::string describe(int64_t index) const override;
  int64_t load(int64_t index, uint64_t seed, const SampleOptions& options,
               const SampleSlot& slot) const override;

  /// Sample `index` cropped by `aug.box` (in [0, 1]^2: the scene is continuous), flipped if
  /// `aug.flip`, at size x size, with full-resolution maps.
  Sample get(int64_t index, const Augmentation& aug, int64_t size) const;

 private:
  int64_t num_samples_;
  uint64_t seed_;
};

}  // namespace c2fmae::data
