// The file list of a folder dataset split (DESIGN.md §2). Torch-free.
//
// Two layouts, told apart by what root/<split> holds:
// - MultiMAE: root/<split>/{rgb,semseg,instance}/<class>/<name>.<ext> (only these modality
//   folders, plus any of depth / normal which are ignored). Samples are the images under
//   rgb/; their masks are semseg/<class>/<stem>.png and instance/<class>/<stem>.png, which
//   may be missing (the loader then skips and counts the sample).
// - ImageFolder (torchvision): root/<split>/<class>/<name>.<ext>, RGB only.
// Image extensions: .jpeg, .jpg, .png in any case. Classes are the sorted (byte order) names
// of the class folders, the class index their position; samples are sorted by class, then
// by file name, as torchvision's ImageFolder does. Hidden entries (".name") are ignored.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace c2fmae::data {

/// The dataset root or split cannot be used: missing, not a folder, no class folders, no
/// images. The message names the path and says what was expected.
class DatasetError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class FolderLayout { kMultiMae, kImageFolder };

struct FolderSample {
  std::string rgb;       ///< path of the image
  std::string semantic;  ///< expected path of the semantic PNG ("" for ImageFolder)
  std::string instance;  ///< expected path of the instance PNG ("" for ImageFolder)
  int64_t label = 0;     ///< class index
  std::string key;       ///< "<class>/<stem>": unique in the split, no '.' in the stem part
};

struct FolderIndex {
  FolderLayout layout = FolderLayout::kImageFolder;
  std::vector<std::string> classes;        ///< sorted class folder names
  std::vector<std::string> empty_classes;  ///< class folders without any image (kept)
  std::vector<FolderSample> samples;       ///< sorted by class, then file name
  /// Entries named as images that are no file to read (a broken or looping link, a folder,
  /// a FIFO): "<path>: why". Not samples; the readers report how many.
  std::vector<std::string> skipped;
  bool has_masks() const { return layout == FolderLayout::kMultiMae; }
};

/// Lists root/<split>. Throws DatasetError if root or root/<split> is missing or not a
/// folder, has no class folder, or has no image at all.
FolderIndex scan_folder(const std::string& root, const std::string& split);

}  // namespace c2fmae::data
