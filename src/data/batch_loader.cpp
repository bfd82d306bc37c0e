#include "c2fmae/data/batch_loader.h"

#include <torch/torch.h>

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <numeric>
#include <thread>
#include <unordered_set>

#include "c2fmae/core/log.h"
#include "c2fmae/core/modality.h"
#include "c2fmae/core/patchify.h"
#include "c2fmae/core/random.h"
#include "c2fmae/core/seeding.h"
#include "c2fmae/data/instance_ids.h"

namespace c2fmae::data {
namespace {

// Salts of the per-sample draws keyed by (seed, position, attempt).
constexpr uint64_t kAugmentationSalt = 0xA06u;
constexpr uint64_t kReplacementSalt = 0xBADu;
constexpr uint64_t kShuffleSalt = 0xDA7Au;
constexpr uint64_t kRgbTransformSalt = 0xF17Eu;

}  // namespace

// Named, not anonymous: BatchLoader::Impl (external linkage) holds it.
namespace batch_loader_detail {

/// One micro-batch in preparation: its tensors are allocated up front and the workers write
/// each sample into its rows; the worker that finishes the last sample finalises the batch.
struct Job {
  int64_t micro_step = 0;
  Batch batch;
  std::vector<int64_t> indices, positions;
  std::atomic<int64_t> remaining{0};
  std::atomic<int64_t> skipped{0};
  std::atomic<bool> cancelled{false};
  std::atomic<bool> failed{false};
  std::mutex mutex;  ///< guards error and ready
  std::condition_variable done;
  std::string error;
  bool ready = false;

  void fail(const std::string& what) {
    std::lock_guard<std::mutex> lock(mutex);
    if (!failed.exchange(true)) error = what;
  }
};

}  // namespace batch_loader_detail
using batch_loader_detail::Job;

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
  b.rgb = (torch::stack(rgb).to(torch::kFloat) / 255.0f - mean) / std;
  b.semantic = torch::stack(sem);
  b.instance = torch::stack(ins);
  b.label = torch::tensor(labels, torch::kLong);
  return b;
}

Batch read_batch(const Dataset& dataset, const std::vector<int64_t>& indices,
                 const SampleOptions& options, uint64_t seed) {
  const auto b = static_cast<int64_t>(indices.size());
  const int64_t s = options.img_size, l = options.label_size;
  Batch batch;
  batch.rgb = torch::empty({b, 3, s, s}, torch::kFloat);
  if (options.masks) {
    batch.semantic = torch::empty({b, l, l}, torch::kLong);
    batch.instance = torch::empty({b, l, l}, torch::kLong);
  }
  batch.label = torch::empty({b}, torch::kLong);
  for (int64_t k = 0; k < b; ++k) {
    SampleSlot slot;
    slot.rgb = batch.rgb.data_ptr<float>() + k * 3 * s * s;
    if (options.masks) {
      slot.semantic = batch.semantic.data_ptr<int64_t>() + k * l * l;
      slot.instance = batch.instance.data_ptr<int64_t>() + k * l * l;
    }
    try {
      batch.label.data_ptr<int64_t>()[k] =
          dataset.load(indices[k], mix_seed({seed, static_cast<uint64_t>(k)}), options, slot);
    } catch (const BadSample& e) {
      throw BadSample(dataset.describe(indices[k]) + ": " + e.what());
    }
  }
  return batch;
}

void prepare_training_labels(Batch& batch, int64_t max_instances) {
  // Maps at the image resolution are cut to the label resolution; the loader reads them
  // at the label resolution directly.
  auto to_label_resolution = [&](const torch::Tensor& map) {
    return batch.rgb.defined() && map.size(1) == batch.rgb.size(2)
               ? downsample_labels(map, kLabelDownsample)
               : map;
  };
  if (batch.semantic.defined()) batch.semantic = to_label_resolution(batch.semantic).contiguous();
  if (batch.instance.defined()) {
    batch.instance = canonical_instance_ids(to_label_resolution(batch.instance), max_instances);
  }
}

LoaderOptions loader_options(const config::DataConfig& data, int64_t img_size, uint64_t seed,
                             int64_t slice, int64_t num_slices) {
  LoaderOptions o;
  o.batch_size = data.batch_size;
  o.img_size = img_size;
  o.num_workers = data.num_workers;
  o.prefetch = data.prefetch;
  o.seed = seed;
  o.slice = slice;
  o.num_slices = num_slices;
  o.augmentation.scale_min = data.crop_scale_min;
  o.augmentation.scale_max = data.crop_scale_max;
  o.augmentation.hflip = data.hflip;
  o.interpolation = data.interpolation == config::ImageInterpolation::kBilinear
                        ? formats::Interpolation::kBilinear
                        : formats::Interpolation::kBicubic;
  return o;
}

struct BatchLoader::Impl {
  Impl(std::shared_ptr<const Dataset> dataset, const LoaderOptions& options);
  ~Impl();

  int64_t micro_steps_per_epoch() const {
    const int64_t global = o.batch_size * o.num_slices;
    return o.evaluation ? (dataset->size() + global - 1) / global : dataset->size() / global;
  }
  /// (epoch, offset in the epoch's order) of slot i of micro-batch `micro_step` of this slice.
  std::pair<int64_t, int64_t> place(int64_t micro_step, int64_t i) const {
    const int64_t per_epoch = micro_steps_per_epoch();
    const int64_t epoch = micro_step / per_epoch, within = micro_step % per_epoch;
    return {epoch, (within * o.num_slices + o.slice) * o.batch_size + i};
  }
  std::vector<int64_t> indices(int64_t micro_step) const;
  std::vector<int64_t> positions(int64_t micro_step) const;
  std::shared_ptr<Job> schedule(int64_t micro_step);
  void worker();
  void load_slot(Job& job, int64_t i);
  void finalise(Job& job);
  void log_bad(int64_t index, const std::string& reason);

  std::shared_ptr<const Dataset> dataset;
  LoaderOptions o;
  SampleOptions sample_options;

  std::mutex mutex;  ///< guards tasks and stop
  std::condition_variable wake;
  std::deque<std::pair<std::shared_ptr<Job>, int64_t>> tasks;  ///< (job, slot), in order
  bool stop = false;
  std::vector<std::thread> workers;
  std::map<int64_t, std::shared_ptr<Job>> jobs;  ///< by micro_step; the caller's thread only

  mutable std::mutex permutation_mutex;
  mutable int64_t permutation_epoch = -1;
  mutable std::vector<int64_t> permutation;

  std::mutex bad_mutex;
  std::unordered_set<int64_t> logged_bad;
};

BatchLoader::Impl::Impl(std::shared_ptr<const Dataset> ds, const LoaderOptions& options)
    : dataset(std::move(ds)), o(options) {
  sample_options.img_size = o.img_size;
  sample_options.masks = o.masks;
  sample_options.label_size = o.max_instances > 0 && o.img_size % kLabelDownsample == 0
                                  ? o.img_size / kLabelDownsample
                                  : o.img_size;
  sample_options.augmentation = o.augmentation;
  sample_options.interpolation = o.interpolation;
  sample_options.num_semantic_classes = o.num_semantic_classes;
  const auto threads = std::max<int64_t>(1, o.num_workers);
  try {
    for (int64_t t = 0; t < threads; ++t) workers.emplace_back([this] { worker(); });
  } catch (...) {  // no thread left joinable behind (std::terminate)
    {
      std::lock_guard<std::mutex> lock(mutex);
      stop = true;
    }
    wake.notify_all();
    for (auto& t : workers) t.join();
    throw;
  }
}

BatchLoader::Impl::~Impl() {
  {
    std::lock_guard<std::mutex> lock(mutex);
    stop = true;
    tasks.clear();
  }
  wake.notify_all();
  for (auto& t : workers) t.join();
}

std::vector<int64_t> BatchLoader::Impl::indices(int64_t micro_step) const {
  const auto [epoch, start] = place(micro_step, 0);
  if (o.evaluation) {
    std::vector<int64_t> out(o.batch_size);
    for (int64_t i = 0; i < o.batch_size; ++i) out[i] = (start + i) % dataset->size();
    return out;
  }
  std::lock_guard<std::mutex> lock(permutation_mutex);
  if (epoch != permutation_epoch) {
    permutation.resize(dataset->size());
    std::iota(permutation.begin(), permutation.end(), 0);
    Rng rng(mix_seed({o.seed, static_cast<uint64_t>(epoch), kShuffleSalt}));
    for (int64_t i = static_cast<int64_t>(permutation.size()) - 1; i > 0; --i) {
      std::swap(permutation[i], permutation[uniform_int(rng, 0, i)]);
    }
    permutation_epoch = epoch;
  }
  return {permutation.begin() + start, permutation.begin() + start + o.batch_size};
}

std::vector<int64_t> BatchLoader::Impl::positions(int64_t micro_step) const {
  const auto [epoch, start] = place(micro_step, 0);
  const int64_t per_epoch = micro_steps_per_epoch() * o.batch_size * o.num_slices;
  std::vector<int64_t> out(o.batch_size);
  std::iota(out.begin(), out.end(), epoch * per_epoch + start);
  return out;
}

std::shared_ptr<Job> BatchLoader::Impl::schedule(int64_t micro_step) {
  auto job = std::make_shared<Job>();
  job->micro_step = micro_step;
  job->indices = indices(micro_step);
  job->positions = positions(micro_step);
  const int64_t b = o.batch_size, s = o.img_size, l = sample_options.label_size;
  const auto opts = torch::TensorOptions().pinned_memory(o.pin_memory);
  job->batch.rgb = torch::empty({b, 3, s, s}, opts.dtype(torch::kFloat));
  if (o.masks) {
    job->batch.semantic = torch::empty({b, l, l}, opts.dtype(torch::kLong));
    job->batch.instance = torch::empty({b, l, l}, opts.dtype(torch::kLong));
  }
  job->batch.label = torch::empty({b}, opts.dtype(torch::kLong));
  job->batch.position = torch::tensor(job->positions, torch::kLong);
  job->remaining = b;
  {
    std::lock_guard<std::mutex> lock(mutex);
    for (int64_t i = 0; i < b; ++i) tasks.emplace_back(job, i);
  }
  wake.notify_all();
  jobs[micro_step] = job;
  return job;
}

void BatchLoader::Impl::worker() {
  for (;;) {
    std::shared_ptr<Job> job;
    int64_t slot = 0;
    {
      std::unique_lock<std::mutex> lock(mutex);
      wake.wait(lock, [&] { return stop || !tasks.empty(); });
      if (stop) return;
      std::tie(job, slot) = std::move(tasks.front());
      tasks.pop_front();
    }
    if (!job->cancelled && !job->failed) {
      try {
        load_slot(*job, slot);
      } catch (const std::exception& e) {
        job->fail(c10::str("sample ", job->indices[slot], " (",
                           dataset->describe(job->indices[slot]), ") of micro-batch ",
                           job->micro_step, ": ", e.what()));
      } catch (...) {
        job->fail(c10::str("sample ", job->indices[slot], " of micro-batch ", job->micro_step,
                           ": unknown error"));
      }
    }
    if (--job->remaining == 0) {
      if (!job->cancelled && !job->failed) {
        try {
          finalise(*job);
        } catch (const std::exception& e) {
          job->fail(c10::str("micro-batch ", job->micro_step, ": ", e.what()));
        }
      }
      {
        std::lock_guard<std::mutex> lock(job->mutex);
        job->ready = true;
      }
      job->done.notify_all();
    }
  }
}

void BatchLoader::Impl::load_slot(Job& job, int64_t i) {
  const int64_t s = o.img_size, l = sample_options.label_size;
  SampleSlot slot;
  slot.rgb = job.batch.rgb.data_ptr<float>() + i * 3 * s * s;
  if (o.masks) {
    slot.semantic = job.batch.semantic.data_ptr<int64_t>() + i * l * l;
    slot.instance = job.batch.instance.data_ptr<int64_t>() + i * l * l;
  }
  const auto position = static_cast<uint64_t>(job.positions[i]);
  int64_t index = job.indices[i];
  for (int64_t attempt = 0;; ++attempt) {
    std::string bad;
    try {
      const uint64_t seed =
          mix_seed({o.seed, position, static_cast<uint64_t>(attempt), kAugmentationSalt});
      auto& label = job.batch.label.data_ptr<int64_t>()[i];
      label = dataset->load(index, seed, sample_options, slot);
      if (o.rgb_transform) o.rgb_transform(slot.rgb, s, mix_seed({seed, kRgbTransformSalt}));
      if (o.evaluation && job.positions[i] >= dataset->size()) label = -1;  // padding
      return;
    } catch (const BadSample& e) {
      bad = e.what();
    } catch (const std::bad_alloc&) {
      // A file too large for memory is bad data too; the bad fraction stops a run that
      // keeps failing this way.
      bad = "out of memory reading it";
    }
    ++job.skipped;
    log_bad(index, bad);
    if (attempt >= o.max_replacements) {
      throw std::runtime_error(
          c10::str("the sample at position ", position, " and ", attempt,
                   " replacements drawn for it were all bad; the dataset looks mostly unreadable"));
    }
    // The replacement is a function of (seed, position, attempt), as everything else.
    Rng rng(mix_seed({o.seed, position, static_cast<uint64_t>(attempt), kReplacementSalt}));
    index = uniform_int(rng, 0, dataset->size() - 1);
  }
}

void BatchLoader::Impl::finalise(Job& job) {
  auto& batch = job.batch;
  batch.data_skipped = job.skipped;
  if (o.max_instances > 0) prepare_training_labels(batch, o.max_instances);
  if (o.transform) o.transform(batch, job.micro_step);
  if (o.pin_memory) {
    auto pin = [](torch::Tensor& t) {
      if (t.defined() && !t.is_pinned()) t = t.pin_memory();
    };
    for (auto* t : {&batch.rgb, &batch.semantic, &batch.instance, &batch.label, &batch.target,
                    &batch.mask, &batch.visible, &batch.position, &batch.slot_order}) {
      pin(*t);
    }
    for (auto& rows : batch.masked) pin(rows);
  }
}

void BatchLoader::Impl::log_bad(int64_t index, const std::string& reason) {
  {
    std::lock_guard<std::mutex> lock(bad_mutex);
    if (!logged_bad.insert(index).second) return;
  }
  log::warn("skipping bad sample " + dataset->describe(index) + ": " + reason);
}

BatchLoader::BatchLoader(std::shared_ptr<const Dataset> dataset, LoaderOptions options)
    : options_(options) {
  TORCH_CHECK(dataset != nullptr, "BatchLoader: no dataset");
  TORCH_CHECK(
      options_.num_slices >= 1 && options_.slice >= 0 && options_.slice < options_.num_slices,
      "BatchLoader: slice ", options_.slice, " outside ", options_.num_slices, " slices");
  TORCH_CHECK(options_.batch_size >= 1 && options_.prefetch >= 1,
              "BatchLoader: batch_size and prefetch must be >= 1");
  TORCH_CHECK(
      options_.evaluation || dataset->size() / (options_.batch_size * options_.num_slices) > 0,
      "BatchLoader: the dataset's ", dataset->size(), " samples do not fill one global batch of ",
      options_.batch_size, " x ", options_.num_slices,
      "\nhint: lower data.batch_size or use more samples");
  TORCH_CHECK(!options_.masks || dataset->has_masks(),
              "BatchLoader: the dataset has no semantic and instance maps");
  impl_ = std::make_unique<Impl>(std::move(dataset), options_);
}

BatchLoader::~BatchLoader() {
  if (!impl_) return;
  for (auto& [micro_step, job] : impl_->jobs) job->cancelled = true;
  impl_.reset();
}

int64_t BatchLoader::micro_steps_per_epoch() const { return impl_->micro_steps_per_epoch(); }
std::vector<int64_t> BatchLoader::indices(int64_t micro_step) const {
  return impl_->indices(micro_step);
}
std::vector<int64_t> BatchLoader::positions(int64_t micro_step) const {
  return impl_->positions(micro_step);
}

Batch BatchLoader::batch(int64_t micro_step) {
  auto& m = *impl_;
  // Batches nobody will ask for (a jump back or ahead) are dropped: their queued samples
  // are skipped by the workers.
  for (auto it = m.jobs.begin(); it != m.jobs.end();) {
    if (it->first < micro_step || it->first > micro_step + options_.prefetch) {
      it->second->cancelled = true;
      it = m.jobs.erase(it);
    } else {
      ++it;
    }
  }
  auto found = m.jobs.find(micro_step);
  auto job = found != m.jobs.end() ? found->second : m.schedule(micro_step);
  for (int64_t s = micro_step + 1; s <= micro_step + options_.prefetch; ++s) {
    if (options_.evaluation && s >= m.micro_steps_per_epoch()) break;  // one pass, nothing beyond
    if (!m.jobs.count(s)) m.schedule(s);
  }
  {
    std::unique_lock<std::mutex> lock(job->mutex);
    job->done.wait(lock, [&] { return job->ready; });
  }
  m.jobs.erase(micro_step);
  if (job->failed) throw std::runtime_error("data loader: " + job->error);
  return std::move(job->batch);
}

}  // namespace c2fmae::data
