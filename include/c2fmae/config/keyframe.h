// One point of the masking curriculum (DESIGN.md §1): at progress `at`, the share of the batch
// each mask generator gets, by its registered name, and optionally the loss weights.
//
//   {at: 0.4, instance: 0.7, random: 0.3}
//   {at: 0.8, random: 1, weight_semantic: 0.5, weight_instance: 0.5, weight_rgb: 1}
//
// The loss weights have the loss section's names (loss.weight_<modality>). Any key other
// than `at` and `weight_<modality>` names a generator; that the name is
// registered is checked by the curriculum area (the config area does not know the
// generators).
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "c2fmae/core/modality.h"

namespace c2fmae::config {

struct Keyframe {
  double at = 0.0;
  /// Generator name -> weight, in the order written.
  std::vector<std::pair<std::string, double>> generators;
  /// Modality -> loss weight; empty = the loss section's weights hold.
  std::vector<std::pair<Modality, double>> loss_weights;

  /// The weight of generator `name` (0 when the keyframe does not name it).
  double weight(const std::string& name) const;
  /// Sum of the generator weights.
  double total_weight() const;
  bool has_loss_weights() const { return !loss_weights.empty(); }
  /// The loss weight of `m`; NaN when the keyframe carries none for it.
  double loss_weight(Modality m) const;
  bool operator==(const Keyframe& o) const;
};

/// What a keyframe's loss-weight keys start with, as the loss section's keys do.
inline constexpr char kLossWeightKeyPrefix[] = "weight_";

/// "weight_" + the modality's name: the keyframe key of its loss weight.
std::string loss_weight_key(Modality m);

}  // namespace c2fmae::config
