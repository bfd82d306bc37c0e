#include "c2fmae/pseudolabel/labeller.h"

#include <torch/torch.h>

#include <chrono>

#include "c2fmae/core/usage_error.h"

namespace c2fmae::pseudolabel {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void synchronise(const torch::Device& device) {
  // A small read makes the host wait for the device's queue, so the times are honest.
  if (!device.is_cpu()) torch::zeros({1}, torch::TensorOptions().device(device)).cpu();
}

// The largest number of images waiting in partial buckets before the fullest one runs
// padded: ImageNet has many input sizes, and every waiting image holds its pixels.
constexpr int64_t kMaxWaitingBatches = 16;

}  // namespace

Labeller::Labeller(Segmenter& model, LabelOptions options, int64_t batch, int64_t max_pixels)
    : model_(model),
      options_(std::move(options)),
      batch_(model.info().input.batch.value_or(batch)),
      max_pixels_(max_pixels) {
  TORCH_CHECK(batch_ >= 1, "labeller: batch must be at least 1");
}

std::vector<Labelled> Labeller::add(int64_t tag, torch::Tensor rgb) {
  const auto geometry = plan_geometry(rgb.size(0), rgb.size(1), model_.info().input);
  auto& bucket = buckets_[{geometry.padded_height, geometry.padded_width}];
  bucket.push_back({tag, std::move(rgb), geometry});
  ++pending_;
  std::vector<Labelled> done;
  if (static_cast<int64_t>(bucket.size()) == batch_) {
    auto images = std::move(bucket);
    buckets_.erase({geometry.padded_height, geometry.padded_width});
    pending_ -= static_cast<int64_t>(images.size());
    done = run(std::move(images));
  } else if (pending_ > kMaxWaitingBatches * batch_) {
    auto fullest = buckets_.begin();
    for (auto it = buckets_.begin(); it != buckets_.end(); ++it) {
      if (it->second.size() > fullest->second.size()) fullest = it;
    }
    auto images = std::move(fullest->second);
    buckets_.erase(fullest);
    pending_ -= static_cast<int64_t>(images.size());
    done = run(std::move(images));
  }
  return done;
}

std::vector<Labelled> Labeller::finish() {
  std::vector<Labelled> done;
  auto buckets = std::move(buckets_);
  buckets_.clear();
  pending_ = 0;
  for (auto& [size, images] : buckets) {
    for (auto& d : run(std::move(images))) done.push_back(std::move(d));
  }
  return done;
}

std::vector<Labelled> Labeller::run(std::vector<Waiting> images) {
  const auto& info = model_.info();
  const auto device = model_.device();
  const auto start = std::chrono::steady_clock::now();
  const auto& g0 = images.front().geometry;
  auto input = torch::empty({batch_, 3, g0.padded_height, g0.padded_width},
                            torch::TensorOptions().device(device).dtype(torch::kFloat));
  for (int64_t b = 0; b < batch_; ++b) {
    if (b < static_cast<int64_t>(images.size())) {
      const auto& w = images[static_cast<size_t>(b)];
      fill_model_input(w.rgb, w.geometry, info.input, input[b]);
    } else {
      fill_padding(info.input, input[b]);
    }
  }
  const auto outputs = model_.run(input);
  synchronise(device);
  times_.model += seconds_since(start);
  times_.batches += 1;
  times_.padded_slots += batch_ - static_cast<int64_t>(images.size());

  std::vector<Labelled> done;
  for (int64_t b = 0; b < static_cast<int64_t>(images.size()); ++b) {
    const auto& w = images[static_cast<size_t>(b)];
    Labelled l;
    l.tag = w.tag;
    l.geometry = w.geometry;
    for (const auto& o : outputs) l.outputs.push_back(o[b]);
    done.push_back(std::move(l));
  }
  return done;
}

void Labeller::post(Labelled& l) const {
  const auto& o = l.outputs;
  const auto& info = model_.info();
  // Outputs that break the contract would make maps silently wrong (NaN logits give class 0
  // everywhere): the model is refused, naming what it returned.
  const auto image = std::to_string(l.geometry.width) + "x" + std::to_string(l.geometry.height);
  for (size_t i = 0; i < o.size(); ++i) {
    if (o[i].is_floating_point() && !torch::isfinite(o[i]).all().item<bool>())
      throw SegmenterError(with_hint(model_.path() + ": output " + std::to_string(i) +
                                         " holds NaN or Inf for an image of " + image,
                                     "check the model in Python; a bf16 or fp16 export may "
                                     "overflow where fp32 does not"));
  }
  if (info.kind == SegmenterKind::kInstances) {
    const auto labels = o[1].masked_select(o[0].ge(options_.score_threshold));
    if (labels.numel() > 0 &&
        (labels.min().item<int64_t>() < 0 || labels.max().item<int64_t>() >= info.num_classes))
      throw SegmenterError(with_hint(
          model_.path() + ": a detection above the score threshold has a label outside 0.." +
              std::to_string(info.num_classes - 1) + " (" +
              std::to_string(labels.min().item<int64_t>()) + " to " +
              std::to_string(labels.max().item<int64_t>()) + ")",
          "num_classes in the metadata must be the model's class count; export it again"));
  }
  switch (info.kind) {
    case SegmenterKind::kSemantic:
      l.maps = semantic_label_maps(to_image_size(o[0], l.geometry, max_pixels_), options_);
      break;
    case SegmenterKind::kMaskClassification:
      l.maps = mask_classification_label_maps(o[0], to_image_size(o[1], l.geometry, max_pixels_),
                                              options_);
      break;
    case SegmenterKind::kInstances:
      l.maps =
          instances_label_maps(o[0], o[1], to_image_size(o[2], l.geometry, max_pixels_), options_);
      break;
  }
  l.outputs.clear();
}

torch::Tensor upscale_labels(const torch::Tensor& map, int64_t height, int64_t width) {
  if (map.size(0) == height && map.size(1) == width) return map;
  namespace F = torch::nn::functional;
  const auto dtype = map.scalar_type();
  // Through float: label ids up to 65535 are exact in float32.
  return F::interpolate(map.to(torch::kFloat).unsqueeze(0).unsqueeze(0),
                        F::InterpolateFuncOptions()
                            .size(std::vector<int64_t>{height, width})
                            .mode(torch::kNearest))
      .squeeze(0)
      .squeeze(0)
      .to(dtype);
}

}  // namespace c2fmae::pseudolabel
