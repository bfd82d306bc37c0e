// c2fmae_pack: packs folder dataset splits (MultiMAE or ImageFolder layout) into tar shards
// in the WebDataset convention, with an index per split for reading samples by position
// (data/shard_index.h).
//
//   c2fmae_pack --root DIR --out DIR [--split train] [--split val ...] [--shard-mb 1024]
//               [--overwrite] [--progress-every 10000]
//
// Exit codes: 0 packed, 1 I/O error (a full disk, an unreadable file), 2 bad arguments or a
// dataset problem (missing root or split, no images, shards already there without
// --overwrite).
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <set>

#include "c2fmae/core/error_text.h"
#include "c2fmae/core/usage_error.h"
#include "c2fmae/data/shard_index.h"
#include "program/arguments.h"
#include "program/guarded_main.h"

namespace {

std::string bytes_text(uint64_t bytes) {
  char text[32];
  if (bytes < (uint64_t{1} << 20)) {
    std::snprintf(text, sizeof text, "%.1f KiB", static_cast<double>(bytes) / 1024.0);
  } else if (bytes < (uint64_t{1} << 30)) {
    std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  } else {
    std::snprintf(text, sizeof text, "%.2f GiB", static_cast<double>(bytes) / (1 << 30));
  }
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace c2fmae;
  // `c2fmae_pack ... | head` must not kill a pack half way, and a file-size limit is a write
  // error (exit 1) rather than a kill: guarded_main ignores both signals.
  return program::guarded_main("c2fmae_pack", [&]() -> int {
    program::Arguments app(
        "c2fmae_pack: packs folder dataset splits into tar shards (WebDataset "
        "convention) with an index per split");
    std::string root, out;
    std::vector<std::string> splits;
    int64_t shard_mb = 1024, progress_every = 10000;
    bool overwrite = false;
    app.option("--root", root,
               "dataset root: <root>/<split>/<class>/<image> (ImageFolder) or "
               "<root>/<split>/{rgb,semseg,instance}/<class>/<image> (MultiMAE)")
        .required();
    app.option("--out", out, "shard folder: <split>-NNNNNN.tar and <split>.index go here")
        .required();
    app.option("--split", splits, "split to pack, repeatable (default: train)");
    app.option("--shard-mb", shard_mb,
               "largest shard size in MiB (a bigger sample gets a shard of its own)")
        .show_default();
    app.flag("--overwrite", overwrite, "replace the shards and index of a split packed before");
    app.option("--progress-every", progress_every,
               "print a progress line every N samples (0: never)")
        .show_default();
    if (const auto code = app.parse(argc, argv)) return *code;
    auto refuse = [](const std::string& problem, const std::string& hint) {
      std::cerr << "c2fmae_pack: " << with_hint(problem, hint) << "\n";
      return 2;
    };
    if (root.empty())
      return refuse("--root is empty", "give the dataset root, e.g. --root data/imagenet");
    if (out.empty())
      return refuse("--out is empty", "give the shard folder, e.g. --out data/shards");
    if (std::error_code ec;
        std::filesystem::exists(out, ec) && !std::filesystem::is_directory(out, ec)) {
      return refuse("--out " + out + " exists and is not a folder",
                    "give the shard folder (it is created if missing)");
    }
    if (shard_mb < 1 || shard_mb > (int64_t{1} << 20)) {
      return refuse(
          "--shard-mb " + std::to_string(shard_mb) + " is out of range",
          "give a size in MiB from 1 to 1048576; about 1024 suits large sequential reads");
    }
    if (progress_every < 0) {
      return refuse("--progress-every " + std::to_string(progress_every) + " is negative",
                    "give a number of samples, or 0 for no progress lines");
    }
    if (splits.empty()) splits.push_back("train");
    std::set<std::string> seen;
    for (const auto& split : splits) {
      if (!seen.insert(split).second) {
        return refuse("--split " + split + " is given twice", "name each split once");
      }
      if (split.empty() || split == "." || split == ".." || split.find('/') != std::string::npos) {
        return refuse("--split '" + split + "' is not a split folder name",
                      "give the name of a folder under --root, e.g. --split train --split val");
      }
    }

    // The shards never go into the data they are made of, nor beside its splits: a later
    // pack or pseudo-labelling would meet them, and --overwrite would work inside the dataset.
    {
      auto full = [](const std::string& path) {
        std::error_code ec;
        auto p = std::filesystem::weakly_canonical(path, ec).lexically_normal();
        if (p.has_relative_path() && p.filename().empty()) p = p.parent_path();
        return p;
      };
      auto within = [](const std::filesystem::path& inner, const std::filesystem::path& outer) {
        auto i = inner.begin();
        for (const auto& part : outer) {
          if (i == inner.end() || *i != part) return false;
          ++i;
        }
        return true;
      };
      const auto out_path = full(out), root_path = full(root);
      if (within(out_path, root_path)) {
        return refuse(
            "--out " + out + (out_path == root_path ? " is" : " is inside") +
                " the dataset --root " + root,
            "pack into a folder outside the dataset, e.g. --out " + root_path.string() + "_shards");
      }
    }
    try {
      std::error_code ec;
      // Every split's problems (missing folder, earlier shards without --overwrite) are found
      // before the first one is packed: packing ImageNet's train split takes long.
      for (const auto& split : splits) {
        if (!std::filesystem::is_directory(std::filesystem::path(root) / split, ec)) {
          data::scan_folder(root, split);  // throws the DatasetError that says why
        }
        if (!overwrite && std::filesystem::exists(data::shard_index_path(out, split), ec)) {
          return refuse(out + " already holds split '" + split + "' (" +
                            data::shard_index_path(out, split) + ")",
                        "pack into another folder, or replace it with --overwrite");
        }
      }
      for (const auto& split : splits) {
        const auto start = std::chrono::steady_clock::now();
        auto seconds = [&] {
          return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        };
        data::PackOptions options;
        options.shard_bytes = static_cast<uint64_t>(shard_mb) << 20;
        options.overwrite = overwrite;
        options.progress_every = progress_every;
        options.progress = [&](const data::PackReport& r) {
          if (r.samples == 0) {
            std::cout << "c2fmae_pack: " << split << ": " << r.total_samples << " samples ("
                      << (r.layout == data::FolderLayout::kMultiMae ? "MultiMAE, with masks"
                                                                    : "ImageFolder, RGB only")
                      << ") -> " << out << std::endl;
            return;
          }
          char line[256];
          std::snprintf(
              line, sizeof line,
              "c2fmae_pack: %s: %lld/%lld samples (%.1f%%), %lld shards, %s, %.0f "
              "samples/s",
              split.c_str(), static_cast<long long>(r.samples),
              static_cast<long long>(r.total_samples),
              100.0 * static_cast<double>(r.samples) / static_cast<double>(r.total_samples),
              static_cast<long long>(r.shards), bytes_text(r.bytes).c_str(),
              static_cast<double>(r.samples) / std::max(seconds(), 1e-9));
          std::cout << line << std::endl;
        };
        const auto report = data::pack_folder(root, split, out, options);
        std::cout << "c2fmae_pack: " << split << ": packed " << report.samples << " samples into "
                  << report.shards << " shards, " << bytes_text(report.bytes) << ", in "
                  << static_cast<int64_t>(seconds()) << " s; " << report.missing_masks
                  << " missing masks, " << report.unknown_images
                  << " images neither JPEG nor PNG -> " << data::shard_index_path(out, split)
                  << std::endl;
        if (report.missing_masks > 0) {
          std::cerr << "c2fmae_pack: warning: " << split << ": " << report.missing_masks
                    << " masks are missing or unreadable (first: " << report.first_missing_mask
                    << "); their samples are packed without them and skipped by training\n";
        }
        if (!report.skipped.empty()) {
          std::cerr << "c2fmae_pack: warning: " << split << ": " << report.skipped.size()
                    << " entries named as images are no file to read (first: "
                    << report.skipped.front() << "); they are not packed\n";
        }
        if (report.unknown_images > 0) {
          std::cerr << "c2fmae_pack: warning: " << split << ": " << report.unknown_images
                    << " images are neither JPEG nor PNG (first: " << report.first_unknown_image
                    << "); packed as they are, the loader skips and counts them\n";
        }
      }
      return 0;
    } catch (const data::ShardIoError& e) {
      std::cerr << "c2fmae_pack: " << e.what() << "\n";
      return 1;
    } catch (const data::DatasetError& e) {
      std::cerr << "c2fmae_pack: " << e.what() << "\n";
      return 2;
    }
  });
}
