// Runs a segmenter over images and turns its outputs into label maps (label_maps.h).
// Images wait in one bucket per padded input size until a bucket holds a batch; a batch is
// always run at its full size, unused slots padding, so an image's maps do not depend on
// which images it was batched with: a resumed or sharded run writes the same bytes.
//
// The model runs on the caller's thread; post() (outputs to maps) is thread-safe, so that
// several threads post-process while the model runs the next batch.
//
//   Labeller labeller(model, options, /*batch=*/8);
//   for (...) for (auto& done : labeller.add(tag, rgb)) pool.push([&] { labeller.post(done);
//   write(done); }); for (auto& done : labeller.finish()) ...;
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "c2fmae/pseudolabel/image_geometry.h"
#include "c2fmae/pseudolabel/label_maps.h"
#include "c2fmae/pseudolabel/segmenter.h"

namespace c2fmae::pseudolabel {

struct Labelled {
  int64_t tag = 0;  ///< the caller's id of the image
  ImageGeometry geometry;
  std::vector<torch::Tensor> outputs;  ///< the model's outputs for this image (until post())
  LabelMaps maps;  ///< after post(): at the image's size (or post_size() under max_pixels)
};

/// The model's share of the run (post() is timed by its callers).
struct LabellerTimes {
  double model = 0.0;  ///< resizing, padding and the model (device-synchronised)
  int64_t batches = 0;
  int64_t padded_slots = 0;  ///< batch slots run without an image (partial buckets)
};

class Labeller {
 public:
  /// batch: images per model call (the model's fixed batch, if it has one, wins).
  /// max_pixels: post-processing works at most at this many pixels per image (0: no cap); a
  /// larger image gets its maps at a smaller size of the same aspect (Labelled::maps), and
  /// the caller scales them up with nearest neighbour (upscale_labels).
  Labeller(Segmenter& model, LabelOptions options, int64_t batch, int64_t max_pixels);

  /// rgb: [H, W, 3] uint8 on the host. Returns the images whose batch ran (maybe none), to
  /// be post()ed.
  std::vector<Labelled> add(int64_t tag, torch::Tensor rgb);
  /// Runs every partial bucket.
  std::vector<Labelled> finish();
  /// Images waiting in partial buckets.
  int64_t pending() const { return pending_; }
  const LabellerTimes& times() const { return times_; }
  int64_t batch_size() const { return batch_; }
  /// Turns `done.outputs` into `done.maps` (host tensors) and drops the outputs. Thread-safe.
  void post(Labelled& done) const;

 private:
  struct Waiting {
    int64_t tag;
    torch::Tensor rgb;
    ImageGeometry geometry;
  };
  std::vector<Labelled> run(std::vector<Waiting> images);

  Segmenter& model_;
  LabelOptions options_;
  int64_t batch_;
  int64_t max_pixels_;
  std::map<std::pair<int64_t, int64_t>, std::vector<Waiting>> buckets_;
  int64_t pending_ = 0;
  LabellerTimes times_;
};

/// A label map ([h, w] integer) scaled by nearest neighbour to height x width (as torch's
/// "nearest"); the map itself if it has that size.
torch::Tensor upscale_labels(const torch::Tensor& map, int64_t height, int64_t width);

}  // namespace c2fmae::pseudolabel
