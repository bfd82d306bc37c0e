#include "c2fmae/data/folder_index.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <system_error>
#include <unordered_set>

#include "c2fmae/core/usage_error.h"

namespace c2fmae::data {
namespace fs = std::filesystem;
namespace {

const char* const kExpectedLayouts =
    "<split>/<class>/<image> (ImageFolder) or <split>/rgb/<class>/<image> with semseg/ and "
    "instance/ beside rgb/ (MultiMAE); images .jpg, .jpeg or .png";

// Modality folders of the MultiMAE layout; depth and normal are MultiMAE's other pseudo
// labels, allowed and ignored.
bool is_modality_folder(const std::string& name) {
  return name == "rgb" || name == "semseg" || name == "instance" || name == "depth" ||
         name == "normal";
}

bool is_image_name(const std::string& name) {
  const auto dot = name.rfind('.');
  if (dot == std::string::npos || dot == 0) return false;
  std::string ext = name.substr(dot + 1);
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == "jpg" || ext == "jpeg" || ext == "png";
}

struct Listing {
  std::vector<std::string> folders;  ///< sorted
  std::vector<std::string> images;   ///< sorted
  std::vector<std::string> skipped;  ///< "<name>: why", image names that are no file to read
};

// One pass of readdir. The entry's type comes from readdir's d_type (libstdc++ caches it), so
// a class folder of 1300 images costs no stat per file; only symlinks are followed with one.
Listing list_folder(const fs::path& dir) {
  Listing listing;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    std::error_code type_ec;
    if (is_image_name(name)) {
      if (it->is_regular_file(type_ec)) {
        listing.images.push_back(std::move(name));
      } else {
        // Named as an image but none to read: counted, never dropped unseen.
        const auto status = it->status(type_ec);
        const char* why = type_ec                                     ? "a broken link"
                          : status.type() == fs::file_type::directory ? "a folder"
                                                                      : "not a regular file";
        listing.skipped.push_back(name + ": " + why);
      }
    } else if (it->is_directory(type_ec)) {
      listing.folders.push_back(std::move(name));
    }
  }
  if (ec) throw DatasetError("cannot list the folder " + dir.string() + ": " + ec.message());
  std::sort(listing.folders.begin(), listing.folders.end());
  std::sort(listing.images.begin(), listing.images.end());
  std::sort(listing.skipped.begin(), listing.skipped.end());
  return listing;
}

std::string joined(const std::vector<std::string>& names, size_t max_names = 10) {
  std::string text;
  for (size_t i = 0; i < names.size() && i < max_names; ++i) text += (i ? ", " : "") + names[i];
  if (names.size() > max_names) {
    text += " and " + std::to_string(names.size() - max_names) + " more";
  }
  return text;
}

// Throws unless `path` is a folder; `what` says what it should have been.
void require_folder(const fs::path& path, const std::string& what, const std::string& hint) {
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (status.type() == fs::file_type::not_found) {
    throw DatasetError(with_hint(what + " " + path.string() + " does not exist", hint));
  }
  if (ec) throw DatasetError("cannot access " + what + " " + path.string() + ": " + ec.message());
  if (status.type() != fs::file_type::directory) {
    throw DatasetError(with_hint(what + " " + path.string() + " is not a folder", hint));
  }
}

// "<stem with '.' as '_'>", made unique in its class by "_2", "_3", ... in file name order,
// so the key of a file does not depend on anything but its class folder.
std::string unique_stem(const std::string& file_name, std::unordered_set<std::string>& used) {
  std::string stem = file_name.substr(0, file_name.rfind('.'));
  std::replace(stem.begin(), stem.end(), '.', '_');
  std::string key = stem;
  for (int n = 2; !used.insert(key).second; ++n) key = stem + "_" + std::to_string(n);
  return key;
}

}  // namespace

FolderIndex scan_folder(const std::string& root, const std::string& split) {
  const fs::path root_path(root);
  require_folder(root_path, "dataset root",
                 std::string("give the folder that holds the split folders: ") + kExpectedLayouts);
  const fs::path split_path = root_path / split;
  std::error_code ec;
  if (fs::status(split_path, ec).type() == fs::file_type::not_found) {
    const auto splits = list_folder(root_path).folders;
    throw DatasetError(with_hint(
        "dataset root " + root + " has no split folder '" + split + "' (" +
            (splits.empty() ? std::string("it holds no folders")
                            : "its folders: " + joined(splits)) +
            ")",
        std::string("choose one of the split folders of the root, or give the folder above ") +
            "the split folders as the root: " + kExpectedLayouts));
  }
  require_folder(split_path, "split folder", kExpectedLayouts);

  FolderIndex index;
  const Listing top = list_folder(split_path);
  const bool has_rgb = std::binary_search(top.folders.begin(), top.folders.end(), "rgb");
  fs::path class_root = split_path;
  if (has_rgb) {
    // An ImageFolder split with a class named "rgb" beside other classes would read as MultiMAE
    // with stray folders: refused rather than guessed.
    std::vector<std::string> stray;
    for (const auto& name : top.folders) {
      if (!is_modality_folder(name)) stray.push_back(name);
    }
    if (!stray.empty()) {
      throw DatasetError(with_hint(
          split_path.string() + " holds rgb/ (the MultiMAE layout) beside folders that are " +
              "not modality folders (rgb, semseg, instance, depth, normal): " + joined(stray),
          "move the other folders out of " + split_path.string() +
              ", or rename a class folder named rgb (ImageFolder layout)"));
    }
    index.layout = FolderLayout::kMultiMae;
    class_root = split_path / "rgb";
  }
  const Listing classes = has_rgb ? list_folder(class_root) : top;
  if (classes.folders.empty()) {
    std::string problem = class_root.string() + " has no class folders";
    if (!classes.images.empty()) {
      problem += " (it holds " + std::to_string(classes.images.size()) +
                 " image files directly; images belong in class folders)";
    }
    throw DatasetError(with_hint(problem, std::string("expected ") + kExpectedLayouts));
  }
  index.classes = classes.folders;

  const std::string class_prefix = class_root.string() + "/";
  const std::string semantic_prefix = (split_path / "semseg").string() + "/";
  const std::string instance_prefix = (split_path / "instance").string() + "/";
  std::unordered_set<std::string> used;
  for (size_t label = 0; label < index.classes.size(); ++label) {
    const std::string& name = index.classes[label];
    const Listing files = list_folder(class_root / name);
    if (files.images.empty()) index.empty_classes.push_back(name);
    used.clear();
    for (const auto& s : files.skipped)
      index.skipped.push_back((class_root / name).string() + "/" + s);
    for (const auto& file : files.images) {
      FolderSample sample;
      sample.rgb = class_prefix + name + "/" + file;
      if (has_rgb) {
        // Masks are named by the image's stem; whether they exist is checked when they are
        // read, so a scan of ImageNet does not stat 2.5 million more files.
        const std::string png = name + "/" + file.substr(0, file.rfind('.')) + ".png";
        sample.semantic = semantic_prefix + png;
        sample.instance = instance_prefix + png;
      }
      sample.label = static_cast<int64_t>(label);
      sample.key = name + "/" + unique_stem(file, used);
      index.samples.push_back(std::move(sample));
    }
  }
  if (index.samples.empty()) {
    throw DatasetError(with_hint("no images (.jpg, .jpeg or .png) in the " +
                                     std::to_string(index.classes.size()) + " class folders of " +
                                     class_root.string() + " (" + joined(index.classes) + ")",
                                 std::string("expected ") + kExpectedLayouts));
  }
  return index;
}

}  // namespace c2fmae::data
