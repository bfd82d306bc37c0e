// c2fmae_make_synthetic: writes N synthetic-shapes samples to disk in the folder layout of
// DESIGN.md §2 (JPEG + 8-bit semantic PNG + 16-bit instance PNG), for testing the real
// image pipeline.
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "c2fmae/core/usage_error.h"
#include "c2fmae/data/folder_writer.h"
#include "c2fmae/data/synthetic_shapes.h"
#include "program/arguments.h"
#include "program/guarded_main.h"

int main(int argc, char** argv) {
  using namespace c2fmae::data;
  return c2fmae::program::guarded_main("c2fmae_make_synthetic", [&]() -> int {
    c2fmae::program::Arguments cli("c2fmae_make_synthetic: write synthetic shapes as image files");
    std::string root, split = "train";
    int64_t count = 100, size = 224, seed = 0;
    cli.option("--out,-o", root, "dataset root folder").required();
    cli.option("--count,-n", count, "number of samples").range(1, int64_t{1} << 40);
    cli.option("--size", size, "image side in pixels").range(1, 1 << 16);
    cli.option("--seed", seed, "dataset seed");
    cli.option("--split", split, "split folder name (train, val)");
    if (const auto code = cli.parse(argc, argv)) return *code;
    if (root.empty()) {
      throw c2fmae::UsageError(
          c2fmae::with_hint("--out is empty", "give the dataset root, e.g. --out data/synthetic"));
    }
    if (std::error_code ec;
        std::filesystem::exists(root, ec) && !std::filesystem::is_directory(root, ec)) {
      throw c2fmae::UsageError(c2fmae::with_hint("--out " + root + " exists and is not a folder",
                                                 "give a folder (it is created if missing)"));
    }
    if (split.empty() || split == "." || split == ".." || split.find('/') != std::string::npos) {
      throw c2fmae::UsageError(
          c2fmae::with_hint("--split '" + split + "' is not a split folder name",
                            "give a folder name, e.g. --split train"));
    }
    SyntheticShapes shapes(count, static_cast<uint64_t>(seed));
    for (int64_t i = 0; i < count; ++i) {
      const auto sample = shapes.get(i, Augmentation{}, size);
      char name[32];
      std::snprintf(name, sizeof name, "synth_%08lld", static_cast<long long>(i));
      write_folder_sample(root, split, SyntheticShapes::shape_names()[sample.label], name, sample);
    }
    std::cout << "wrote " << count << " samples to " << root << "/" << split << "\n";
    return 0;
  });
}
