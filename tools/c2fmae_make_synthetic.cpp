// c2fmae_make_synthetic: writes N synthetic-shapes samples to disk in the folder layout of
// DESIGN.md §2 (JPEG + 8-bit semantic PNG + 16-bit instance PNG), for testing the real
// image pipeline.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "c2fmae/data/folder_writer.h"
#include "c2fmae/data/synthetic_shapes.h"

int main(int argc, char** argv) {
  using namespace c2fmae::data;
  CLI::App app{"c2fmae_make_synthetic: write synthetic shapes as image files"};
  std::string root, split = "train";
  int64_t count = 100, size = 224, seed = 0;
  app.add_option("--out,-o", root, "dataset root folder")->required();
  app.add_option("--count,-n", count, "number of samples")->check(CLI::PositiveNumber);
  app.add_option("--size", size, "image side in pixels")->check(CLI::PositiveNumber);
  app.add_option("--seed", seed, "dataset seed");
  app.add_option("--split", split, "split folder name (train, val)");
  CLI11_PARSE(app, argc, argv);
  try {
    SyntheticShapes shapes(count, static_cast<uint64_t>(seed));
    for (int64_t i = 0; i < count; ++i) {
      const auto sample = shapes.get(i, Augmentation{}, size);
      char name[32];
      std::snprintf(name, sizeof name, "synth_%08lld", static_cast<long long>(i));
      write_folder_sample(root, split, SyntheticShapes::shape_names()[sample.label], name, sample);
    }
    std::cout << "wrote " << count << " samples to " << root << "/" << split << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "c2fmae_make_synthetic: " << e.what() << "\n";
    return 1;
  }
}
