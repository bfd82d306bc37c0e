// c2fmae_pseudolabel's work (docs/pseudolabels.md): the semantic and instance maps of every
// image of dataset splits, written as the loader and c2fmae_pack read them.
//
// Input and output:
// - folder: root/<split>/<class>/<image> (ImageFolder) or root/<split>/rgb/<class>/<image>
//   (MultiMAE, whose missing maps are filled in) -> out/<split>/{rgb,semseg,instance}/<class>/
//   with the masks named as the loader looks for them (<stem>.png). RGB files are hard links
//   (copies across file systems), symlinks or copies, or stay where they are when out is the
//   root. A sample's maps are written before its RGB, so out only ever lists complete samples.
// - shards: each input shard gives the output shard of the same name: the same members in
//   the same order, the maps (<key>.sem.png, <key>.ins.png) added or replaced. A shard is
//   written under a temporary name and renamed when whole, after its spans file
//   (<shard>.spans); the split's index is written by the process that finds every shard done.
//
// Resuming: every file is written atomically, so a file that exists is whole. A sample (a
// shard) whose outputs all exist is skipped; nothing is trusted but the files themselves.
// --shard I/N takes the samples (shards) whose position is I modulo N.
// Records: out/pseudolabel[-I-of-N].json (model, its hash and metadata, options, counts,
// speeds) and out/<split>/pseudolabel[-I-of-N].jsonl, one line per labelled sample (its
// segments, as detectron2's segments_info); a recomputed sample appends a newer line.
// Images that cannot be read or decoded are counted, named in the record and left out;
// above max_bad_fraction of a split the run stops (DatasetError).
#pragma once
#include <torch/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "c2fmae/core/enum_names.h"
#include "c2fmae/data/folder_index.h"
#include "c2fmae/pseudolabel/label_maps.h"
#include "c2fmae/pseudolabel/labeller.h"
#include "c2fmae/pseudolabel/segmenter.h"

namespace c2fmae::pseudolabel {

/// An OS failure on an output or input file (a full disk, a read-only folder): programs exit
/// 1 for it. Its message names the path and the OS reason.
class PseudolabelIoError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class InputSource { kFolder, kShards };
constexpr auto enum_names(InputSource) {
  return std::array{std::pair{InputSource::kFolder, "folder"},
                    std::pair{InputSource::kShards, "shards"}};
}

/// How a folder output gets its RGB files (and the input's maps it does not rewrite).
enum class RgbOutput { kLink, kSymlink, kCopy };
constexpr auto enum_names(RgbOutput) {
  return std::array{std::pair{RgbOutput::kLink, "link"}, std::pair{RgbOutput::kSymlink, "symlink"},
                    std::pair{RgbOutput::kCopy, "copy"}};
}

struct SplitReport {
  std::string split;
  int64_t total = 0;                      ///< samples of the split
  int64_t selected = 0;                   ///< this process's share (--shard)
  int64_t written = 0;                    ///< samples labelled and written
  int64_t skipped = 0;                    ///< samples whose outputs existed
  int64_t bad = 0;                        ///< images that could not be read or decoded
  std::vector<std::string> bad_examples;  ///< "path: reason", the first few
  int64_t segments = 0;                   ///< panoptic segments written (things and stuff)
  int64_t instances = 0;                  ///< instances written
  double seconds = 0.0;
  double read_decode_seconds = 0.0;   ///< summed over the worker threads
  double post_seconds = 0.0;          ///< outputs to maps, summed over the worker threads
  double encode_write_seconds = 0.0;  ///< summed over the worker threads
  LabellerTimes labeller;             ///< the model (the main thread)
  int64_t batch = 0;                  ///< images per model call (a .pt2's own batch wins)
  bool index_written = false;         ///< shards: this process wrote the split's index
};

/// Progress of a split, for the progress line.
struct Progress {
  std::string split;
  int64_t done = 0;   ///< written + bad so far
  int64_t to_do = 0;  ///< selected - skipped
  double seconds = 0.0;
};

struct JobOptions {
  std::string root;
  std::string out;
  std::vector<std::string> splits;
  InputSource source = InputSource::kFolder;
  bool write_semantic = true;
  bool write_instance = true;
  int64_t shard_index = 0;  ///< --shard I/N
  int64_t shard_count = 1;
  bool overwrite = false;  ///< recompute outputs that exist
  int64_t batch = 8;
  int workers = 4;  ///< read/decode threads, and as many post-process/encode/write threads
  int64_t max_pixels = 4'000'000;
  double max_bad_fraction = 0.01;
  RgbOutput rgb = RgbOutput::kLink;
  LabelOptions labels;
  /// Set (e.g. by a signal handler) to stop: the images in flight are finished and recorded.
  const std::atomic<bool>* stop = nullptr;
  std::function<void(const Progress&)> progress;  ///< called about every progress_seconds
  double progress_seconds = 10.0;
  /// Called with the first `preview` labelled images: key, rgb [H, W, 3] uint8, maps.
  std::function<void(const std::string& key, const torch::Tensor& rgb, const LabelMaps& maps)>
      preview;
  int64_t preview_count = 0;
};

struct JobReport {
  std::vector<SplitReport> splits;
  bool stopped = false;  ///< options.stop was set before the work was done
};

/// Checks what can be checked before any model runs (splits present, stem collisions, the
/// output not the input for shards): throws data::DatasetError (exit 2).
void check_job(const JobOptions& options);

/// Labels every split. Throws PseudolabelIoError (exit 1), data::DatasetError and
/// SegmenterError (exit 2).
JobReport run_job(Segmenter& model, const JobOptions& options);

/// The record file names of this process: "pseudolabel" or "pseudolabel-I-of-N".
std::string record_stem(const JobOptions& options);

/// The mask file of an image file name: its stem up to the last '.', + ".png" (as the folder
/// loader looks for it).
std::string mask_file_name(const std::string& image_file_name);

/// The semantic and instance maps as PNG bytes: semantic 8-bit (16-bit above 255 classes),
/// instance 16-bit (instance ids above 65535 are an error).
std::vector<uint8_t> semantic_png(const torch::Tensor& semantic, int64_t num_classes);
std::vector<uint8_t> instance_png(const torch::Tensor& instance);

/// sha256 of a file, as hex (for the record).
std::string file_sha256(const std::string& path);

}  // namespace c2fmae::pseudolabel
