// Packed shards (DESIGN.md §2): POSIX tar files (formats/tar.h) in the WebDataset
// convention, one sample's members next to each other - <key>.jpg (or <key>.png), <key>.sem.png,
// <key>.ins.png, <key>.cls (the class index in ASCII decimal) - plus one index file per split so
// that any sample is reached by position with one read of its byte span. Torch-free.
//
// Files in a shard folder: <split>-NNNNNN.tar (ustar, readable by tar and by the Python
// webdataset package) and <split>.index, a text file:
//   c2fmae-shards 1
//   split <split>
//   layout multimae|imagefolder
//   classes <C>           then C lines, one class name each
//   shards <S>            then S lines: file name, size in bytes
//   samples <N>           then N lines: shard offset length    (offset of the sample's first
//                         tar header in that shard, length up to the end of its last member)
// Samples are in the order of the folder dataset they were packed from. A span is whole
// 512-byte blocks, so the spans of a shard tile it up to its two end-of-archive blocks.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "c2fmae/data/folder_index.h"

namespace c2fmae::data {

/// An OS failure while packing: a file that cannot be read or written (a full disk, a
/// read-only folder, an I/O error). The message names the path and the OS reason. Programs
/// exit 1 for it, and 2 for other DatasetErrors (the data or the request is wrong). The tar
/// writer's formats::FileError arrives as this, its formats::FormatError as a DatasetError.
class ShardIoError : public DatasetError {
 public:
  using DatasetError::DatasetError;
};

struct ShardSpan {
  int64_t shard = 0;
  uint64_t offset = 0;
  uint64_t length = 0;
};

struct ShardIndex {
  std::string split;
  FolderLayout layout = FolderLayout::kMultiMae;
  std::vector<std::string> classes;
  std::vector<std::string> shard_files;  ///< names, relative to the index's folder
  std::vector<uint64_t> shard_sizes;
  std::vector<ShardSpan> samples;
  bool has_masks() const { return layout == FolderLayout::kMultiMae; }
};

/// Path of the index of `split` in shard folder `root`.
std::string shard_index_path(const std::string& root, const std::string& split);
/// Reads and checks an index: format, counts, every span inside its shard, and every shard
/// file present with the recorded size. Throws DatasetError.
ShardIndex read_shard_index(const std::string& root, const std::string& split);
/// Writes it atomically (temporary file, fsync, rename). Throws DatasetError for an index
/// that cannot be written in the format (a class name with a line break), ShardIoError for
/// an OS failure.
void write_shard_index(const std::string& root, const ShardIndex& index);

struct PackReport {
  int64_t samples = 0;        ///< packed (so far, in a progress call)
  int64_t total_samples = 0;  ///< in the folder split
  int64_t shards = 0;
  int64_t missing_masks = 0;  ///< masks that did not exist or could not be read (left out)
  int64_t unknown_images =
      0;  ///< images neither JPEG nor PNG, or unreadable (packed as <key>.jpg, empty if unreadable)
  uint64_t bytes = 0;  ///< of the shard files
  FolderLayout layout = FolderLayout::kImageFolder;
  std::string first_missing_mask;    ///< path of the first missing mask, "" if none
  std::string first_unknown_image;   ///< path of the first unknown image, "" if none
  std::vector<std::string> skipped;  ///< FolderIndex::skipped: named as images, no file to read
};

struct PackOptions {
  /// A new shard starts where the next sample would take the current one past this size; a
  /// shard holds at least one sample.
  uint64_t shard_bytes = uint64_t{1} << 30;
  bool overwrite = false;  ///< replace existing shards and the index of the split
  /// Called once the folder is scanned (samples == 0) and after every `progress_every`
  /// samples; may be empty.
  std::function<void(const PackReport& so_far)> progress;
  int64_t progress_every = 10000;
};

/// Packs root/<split> (scan_folder) into shard folder `out`: file bytes copied unchanged,
/// the image as <key>.jpg (JPEG) or <key>.png (PNG, by its magic number; anything else as
/// <key>.jpg, counted in unknown_images, for the loader to fail and count as it would the
/// file), masks as <key>.sem.png and <key>.ins.png when they exist, <key>.cls. Refuses
/// (DatasetError) to overwrite existing shards or an index of the split unless
/// options.overwrite. Shards are written under temporary names (<name>.tmp) and renamed
/// when all are complete, the index last, so an interrupted pack leaves the earlier shards
/// and index (or none) and never an index of partial shards; the next pack removes the
/// temporary files. With overwrite, shards of the split beyond the new count are removed.
/// Member names must fit ustar (checked before anything is written).
PackReport pack_folder(const std::string& root, const std::string& split, const std::string& out,
                       const PackOptions& options);

}  // namespace c2fmae::data
