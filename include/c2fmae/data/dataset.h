// A source of samples by index (DESIGN.md §2): synthetic shapes, a folder dataset, packed
// shards. A dataset reads sample `index`, draws its crop and flip from the seed it is given
// (the loader keys it by the sample's global position) and writes the sample straight into
// its slot of a pre-allocated batch. Called from several loader threads at once: thread-safe.
#pragma once
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "c2fmae/config/config.h"
#include "c2fmae/data/augmentation.h"
#include "c2fmae/formats/image_codec.h"

namespace c2fmae::data {

/// A sample that cannot be used (unreadable or truncated image, missing or mis-sized mask,
/// a semantic id out of range): the loader skips it, counts it and logs it once.
class BadSample : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// How samples are read.
struct SampleOptions {
  int64_t img_size = 224;
  /// Side of the label maps written: img_size, or img_size / kLabelDownsample (training).
  int64_t label_size = 224;
  /// Read the semantic and instance maps (the dataset must have them).
  bool masks = true;
  AugmentationOptions augmentation;
  /// RGB resampling (masks: nearest).
  formats::Interpolation interpolation = formats::Interpolation::kBicubic;
  /// > 0: a semantic id >= this other than kIgnoreClass makes the sample bad.
  int64_t num_semantic_classes = 0;
};

/// Where one sample goes: its rows of the batch tensors.
struct SampleSlot {
  float* rgb = nullptr;         ///< [3, img_size, img_size], normalised (kImageNetMean / Std)
  int64_t* semantic = nullptr;  ///< [label_size, label_size] class ids (if options.masks)
  int64_t* instance = nullptr;  ///< [label_size, label_size] instance ids (if options.masks)
};

/// ImageNet normalisation (MAE, timm): x = (x / 255 - mean) / std per channel.
constexpr float kImageNetMean[3] = {0.485f, 0.456f, 0.406f};
constexpr float kImageNetStd[3] = {0.229f, 0.224f, 0.225f};

class Dataset {
 public:
  virtual ~Dataset() = default;
  /// Number of samples in an epoch.
  virtual int64_t size() const = 0;
  /// Number of image classes (labels are in 0..num_classes-1).
  virtual int64_t num_classes() const = 0;
  /// The classes' names in label order (folder names), or none where they have no names.
  virtual std::vector<std::string> class_names() const { return {}; }
  /// Whether samples have semantic and instance maps.
  virtual bool has_masks() const = 0;
  /// What to call sample `index` in a log line (its path or shard member).
  virtual std::string describe(int64_t index) const = 0;
  /// Reads sample `index` with the augmentation drawn from `seed` into `slot`; returns its
  /// label. Throws BadSample for bad data (anything else is a bug or an I/O failure of the
  /// dataset as a whole).
  virtual int64_t load(int64_t index, uint64_t seed, const SampleOptions& options,
                       const SampleSlot& slot) const = 0;
};

/// The dataset data.source names, opened by its row in dataset_registry.h, reading split
/// `split` (folder, shards); `seed` is the run's seed (synthetic shapes). Synthetic shapes
/// have one split per name: data.split's holds data.synthetic_samples scenes drawn from
/// `seed`, any other `synthetic_count` (> 0) scenes drawn from the seed and the split's name,
/// so a validation split shares no scene with training. Throws UsageError for a missing root
/// or an empty split, with the source's repair hint.
std::shared_ptr<const Dataset> make_dataset(const config::DataConfig& data, uint64_t seed,
                                            const std::string& split = "train",
                                            int64_t synthetic_count = 0);

/// The data section's rules that need to know the datasets, with the model they feed: e.g.
/// the synthetic shapes have 10 semantic classes, so model.num_semantic_classes must cover
/// them when the semantic modality is on.
void check_data_config(const config::DataConfig& data, const config::ModelConfig& model,
                       config::Checker& c);

}  // namespace c2fmae::data
