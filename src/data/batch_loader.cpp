#include "c2fmae/data/batch_loader.h"

#include <torch/torch.h>

#include <atomic>
#include <numeric>
#include <thread>

#include "c2fmae/core/modality.h"
#include "c2fmae/core/patchify.h"
#include "c2fmae/core/random.h"
#include "c2fmae/core/seeding.h"
#include "c2fmae/data/instance_ids.h"

namespace c2fmae::data {

Batch collate(const std::vector<Sample>& samples) {
  TORCH_CHECK(!samples.empty(), "collate: no samples");
  std::vector<torch::Tensor> rgb, sem, ins;
  std::vector<int64_t> labels;
  for (const auto& s : samples) {
    rgb.push_back(s.rgb);
    sem.push_back(s.semantic);
    ins.push_back(s.instance);
    labels.push_back(s.label);
  }
  Batch b;
  auto mean =
      torch::tensor({kImageNetMean[0], kImageNetMean[1], kImageNetMean[2]}).view({1, 3, 1, 1});
  auto std = torch::tensor({kImageNetStd[0], kImageNetStd[1], kImageNetStd[2]}).view({1, 3, 1, 1});
  b.rgb = ((torch::stack(rgb).to(torch::kFloat) / 255.0 - mean.to(torch::kFloat)) /
           std.to(torch::kFloat));
  b.semantic = torch::stack(sem);
  b.instance = torch::stack(ins);
  b.label = torch::tensor(labels, torch::kLong);
  return b;
}

void prepare_training_labels(Batch& batch, int64_t max_instances) {
  batch.semantic = downsample_labels(batch.semantic, kLabelDownsample).contiguous();
  batch.instance =
      canonical_instance_ids(downsample_labels(batch.instance, kLabelDownsample), max_instances);
}

LoaderOptions loader_options(const config::DataConfig& data, int64_t img_size, uint64_t seed,
                             int64_t shard, int64_t num_shards) {
  LoaderOptions o;
  o.batch_size = data.batch_size;
  o.img_size = img_size;
  o.num_workers = data.num_workers;
  o.seed = seed;
  o.shard = shard;
  o.num_shards = num_shards;
  o.augmentation.scale_min = data.crop_scale_min;
  o.augmentation.scale_max = data.crop_scale_max;
  o.augmentation.hflip = data.hflip;
  return o;
}

BatchLoader::BatchLoader(std::shared_ptr<const Dataset> dataset, LoaderOptions options)
    : dataset_(std::move(dataset)), options_(options) {
  TORCH_CHECK(options_.num_shards >= 1 && options_.shard >= 0 && options_.shard < options_.num_shards,
              "BatchLoader: shard ", options_.shard, " outside ", options_.num_shards, " shards");
  TORCH_CHECK(steps_per_epoch() > 0, "BatchLoader: the dataset's ", dataset_->size(),
              " samples do not fill one global batch of ", options_.batch_size, " x ",
              options_.num_shards, "\nhint: lower data.batch_size or use more samples");
}

BatchLoader::~BatchLoader() { cancel_prefetch(); }

void BatchLoader::cancel_prefetch() {
  if (!prefetched_.valid()) return;
  cancelled_ = true;
  prefetched_.wait();
  prefetched_ = {};
  cancelled_ = false;
}

int64_t BatchLoader::steps_per_epoch() const {
  return dataset_->size() / (options_.batch_size * options_.num_shards);
}

std::vector<int64_t> BatchLoader::indices(int64_t step) const {
  const int64_t per_epoch = steps_per_epoch();
  const int64_t epoch = step / per_epoch, within = step % per_epoch;
  std::lock_guard<std::mutex> lock(permutation_mutex_);
  if (epoch != permutation_epoch_) {
    permutation_.resize(dataset_->size());
    std::iota(permutation_.begin(), permutation_.end(), 0);
    Rng rng(mix_seed({options_.seed, static_cast<uint64_t>(epoch), 0xDA7Au}));
    for (int64_t i = static_cast<int64_t>(permutation_.size()) - 1; i > 0; --i) {
      std::swap(permutation_[i], permutation_[uniform_int(rng, 0, i)]);
    }
    permutation_epoch_ = epoch;
  }
  const int64_t start = (within * options_.num_shards + options_.shard) * options_.batch_size;
  return {permutation_.begin() + start, permutation_.begin() + start + options_.batch_size};
}

Batch BatchLoader::assemble(int64_t step) const {
  const auto idx = indices(step);
  const auto epoch = static_cast<uint64_t>(step / steps_per_epoch());
  std::vector<Sample> samples(idx.size());
  // A sample that fails (an exception in dataset_->get) stops the workers and is rethrown
  // here, naming the sample, instead of escaping a thread (std::terminate).
  std::mutex error_mutex;
  std::string error;
  std::atomic<bool> failed{false};
  auto fail = [&](int64_t index, const std::string& what) {
    std::lock_guard<std::mutex> lock(error_mutex);
    if (!failed.exchange(true))
      error = c10::str("sample ", index, " of micro-batch ", step, ": ", what);
  };
  auto work = [&](size_t first, size_t stride) {
    for (size_t i = first; i < idx.size() && !failed.load() && !cancelled_.load(); i += stride) {
      try {
        const auto [w, h] = dataset_->source_size(idx[i]);
        const auto aug = draw_augmentation(
            mix_seed({options_.seed, epoch, static_cast<uint64_t>(idx[i]), 0xA06u}), w, h,
            options_.augmentation);
        samples[i] = dataset_->get(idx[i], aug, options_.img_size);
      } catch (const std::exception& e) {
        fail(idx[i], e.what());
      } catch (...) {
        fail(idx[i], "unknown error");
      }
    }
  };
  const auto threads =
      std::min(static_cast<size_t>(std::max<int64_t>(1, options_.num_workers)), idx.size());
  if (threads == 1) {
    work(0, 1);
  } else {
    std::vector<std::thread> pool;
    try {
      for (size_t t = 0; t < threads; ++t) pool.emplace_back(work, t, threads);
    } catch (...) {  // no thread left joinable behind (std::terminate)
      failed = true;
      for (auto& t : pool) t.join();
      throw;
    }
    for (auto& t : pool) t.join();
  }
  if (failed) throw std::runtime_error("data loader: " + error);
  if (cancelled_) throw std::runtime_error("data loader: batch cancelled");  // never read
  auto batch = collate(samples);
  if (options_.max_instances > 0) prepare_training_labels(batch, options_.max_instances);
  if (options_.transform) options_.transform(batch, step);
  if (options_.pin_memory) {
    auto pin = [](torch::Tensor& t) {
      if (t.defined()) t = t.pin_memory();
    };
    for (auto* t : {&batch.rgb, &batch.semantic, &batch.instance, &batch.label, &batch.mask,
                    &batch.visible}) {
      pin(*t);
    }
    for (auto& rows : batch.masked) pin(rows);
  }
  return batch;
}

Batch BatchLoader::batch(int64_t step) {
  Batch out;
  if (prefetched_.valid() && prefetched_step_ == step) {
    out = prefetched_.get();
  } else {
    cancel_prefetch();
    out = assemble(step);
  }
  prefetched_step_ = step + 1;
  prefetched_ = std::async(std::launch::async, [this, s = step + 1] { return assemble(s); });
  return out;
}

}  // namespace c2fmae::data
