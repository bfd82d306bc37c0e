// A source of samples by index. Implementations render or decode sample `index` with the
// given augmentation at `size` x `size` pixels; they are called from several loader
// threads at once and must be thread-safe.
#pragma once
#include <cstdint>
#include <memory>

#include "c2fmae/config/config.h"

#include "c2fmae/data/augmentation.h"
#include "c2fmae/data/sample.h"

namespace c2fmae::data {

class Dataset {
 public:
  virtual ~Dataset() = default;
  /// Number of samples in an epoch.
  virtual int64_t size() const = 0;
  /// Source width and height in pixels (for drawing crop boxes).
  virtual std::pair<double, double> source_size(int64_t index) const = 0;
  /// Sample `index`, cropped by `aug.box`, flipped if `aug.flip`, at size x size.
  virtual Sample get(int64_t index, const Augmentation& aug, int64_t size) const = 0;
  /// Number of image classes (labels are in 0..num_classes-1).
  virtual int64_t num_classes() const = 0;
};

/// The dataset data.source names (today: synthetic shapes of data.synthetic_samples
/// samples); `seed` is the run's seed.
std::shared_ptr<const Dataset> make_dataset(const config::DataConfig& data, uint64_t seed);

/// The data section's rules that need to know the datasets, with the model they feed: e.g.
/// the synthetic shapes have 10 semantic classes, so model.num_semantic_classes must cover
/// them when the semantic modality is on.
void check_data_config(const config::DataConfig& data, const config::ModelConfig& model,
                       config::Checker& c);

}  // namespace c2fmae::data
