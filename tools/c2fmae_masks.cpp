// c2fmae_masks: shows what a mask generator hides on a config's data.
//
//   c2fmae_masks --config FILE.yaml [--set key=value ...] --generator NAME --progress T
//                --count N --out DIR [--checkpoint CKPT]
//
// Masks the first N samples of the configured dataset (whole images, no flip) with the
// named generator at training progress T and writes into DIR (created if missing):
// sample_0000.png ... (RGB | semantic | instance | each modality on its visible patches),
// masks.npy (uint8 [N, M, L], 1 = masked), semantic_patches.npy and instance_patches.npy
// (int64 [N, L], the per-patch region ids the guided generators use; not for a patch size
// the label maps do not fit, when an earlier run's are removed).
//
// Exit codes: 0 done, 1 a write failed (the path and the OS reason are printed; nothing in
// DIR is changed: the files are written in a staging folder and renamed into place), 2 bad
// config or arguments (nothing is written).
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>
#include <regex>

#include "c2fmae/config/pretrain_config.h"
#include "c2fmae/core/atomic_file.h"
#include "c2fmae/core/error_text.h"
#include "c2fmae/core/number_text.h"
#include "c2fmae/core/usage_error.h"
#include "c2fmae/formats/npy.h"
#include "c2fmae/masking/generator_registry.h"
#include "c2fmae/train/mask_pictures.h"
#include "c2fmae/train/mask_preview.h"
#include "c2fmae/train/png_file.h"
#include "c2fmae/train/pretrain_engine.h"
#include "program/arguments.h"
#include "program/guarded_main.h"

namespace {

/// `text` as a whole number if all of it is one.
std::optional<int64_t> parse_count(const std::string& text) {
  char* end = nullptr;
  errno = 0;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno == ERANGE) return std::nullopt;
  return value;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace c2fmae;
  namespace fs = std::filesystem;
  return program::guarded_main("c2fmae_masks", [&]() -> int {
    std::string known;
    for (const auto& n : masking::generator_names()) known += (known.empty() ? "" : ", ") + n;
    program::Arguments app("c2fmae_masks: pictures and arrays of what a mask generator hides");
    app.footer("Generators: " + known);
    std::vector<std::string> files, sets;
    std::string generator, progress_text, count_text, out;
    app.option("--config,-c", files, "YAML pre-training config; later files override earlier ones");
    app.option("--set,-s", sets, "override one key: section.key=value (YAML value)");
    app.option("--generator,-g", generator, "registered mask generator: " + known);
    app.option("--progress", progress_text, "training progress in [0, 1] (default 0)");
    app.option("--count,-n", count_text, "samples, from index 0 (default 16)");
    std::string checkpoint;
    app.option("--checkpoint", checkpoint,
               "evolved / semmae on attention: the c2fmae_pretrain checkpoint whose EMA encoder "
               "gives the affinity (default: the config's freshly initialised encoder)");
    app.option("--out,-o", out, "output folder, created if missing");
    if (const auto code = app.parse(argc, argv)) return *code;
    auto refuse = [](const std::string& problem, const std::string& hint) {
      std::cerr << "c2fmae_masks: " << with_hint(problem, hint) << "\n";
      return 2;
    };
    if (generator.empty()) {
      return refuse("--generator is missing",
                    "name one of: " + known + " (e.g. --generator random)");
    }
    if (out.empty()) return refuse("--out is missing", "give an output folder, e.g. --out masks/");
    train::MaskPreviewOptions options;
    options.generator = generator;
    options.checkpoint = checkpoint;
    if (app.given("--progress")) {
      const auto progress = parse_number(progress_text);
      if (!progress) {
        return refuse("--progress " + progress_text + ": not a number",
                      "give the training progress in [0, 1], e.g. --progress 0.5");
      }
      options.progress = *progress;
    }
    if (app.given("--count")) {
      const auto count = parse_count(count_text);
      if (!count) {
        return refuse("--count " + count_text + ": not a whole number",
                      "give the number of samples, e.g. --count 16");
      }
      options.count = *count;
    }
    std::error_code ec;
    if (fs::exists(out, ec) && !fs::is_directory(out, ec)) {
      return refuse("--out " + out + " is a file", "give a folder (it is created if missing)");
    }
    auto cfg = config::load_config<config::PretrainConfig>(files, sets);
    train::check_pretrain_config(cfg);
    const auto preview = train::make_mask_preview(cfg, options);
    if (!fs::create_directories(out, ec) && ec) {
      return refuse("cannot create --out " + out + ": " + ec.message(),
                    "give a folder that can be created, or an existing one");
    }
    const auto& batch = preview.batch;
    const int64_t n = batch.size();
    const bool patches = preview.semantic_patches.defined();
    // Everything is written into a staging folder inside --out first, then renamed into
    // place: a full disk or a kill while writing leaves --out as it was (an earlier run's
    // pictures and arrays whole), never a complete masks.npy beside some of the pictures.
    const auto staging =
        fs::path(unique_temporary_path((fs::path(out) / ".c2fmae_masks").string()));
    std::vector<std::string> names;
    char name[32];
    try {
      fs::create_directory(staging);
      names.push_back("masks.npy");
      formats::write_npy((staging / names.back()).string(), batch.mask.to(torch::kUInt8));
      if (patches) {
        names.push_back("semantic_patches.npy");
        formats::write_npy((staging / names.back()).string(), preview.semantic_patches);
        names.push_back("instance_patches.npy");
        formats::write_npy((staging / names.back()).string(), preview.instance_patches);
      }
      for (int64_t i = 0; i < n; ++i) {
        std::snprintf(name, sizeof name, "sample_%04lld.png", static_cast<long long>(i));
        names.push_back(name);
        train::write_png((staging / name).string(),
                         train::mask_picture(batch, i, cfg.model.modalities, cfg.model.img_size));
      }
    } catch (const std::exception& e) {
      fs::remove_all(staging, ec);
      std::cerr << "c2fmae_masks: " << error_text(e) << "\nnothing in " << out << " was changed\n";
      return 1;
    }
    // Pictures an earlier run left past this run's count would read as this run's: the
    // regular files this program names (sample_NNNN.png, N below the largest count) go, and
    // so do its per-patch arrays when this run has none.
    const std::regex picture_name(R"(sample_([0-9]{4})\.png)");
    std::vector<fs::path> stale;
    for (const auto& entry : fs::directory_iterator(out)) {
      std::smatch match;
      const auto file = entry.path().filename().string();
      if (std::regex_match(file, match, picture_name) && std::stoll(match[1].str()) >= n &&
          std::stoll(match[1].str()) < train::kMaxPreviewSamples && entry.is_regular_file(ec) &&
          !entry.is_symlink(ec)) {
        stale.push_back(entry.path());
      }
    }
    for (const char* file : {"semantic_patches.npy", "instance_patches.npy"}) {
      const auto path = fs::path(out) / file;
      if (!patches && fs::is_regular_file(fs::symlink_status(path, ec))) stale.push_back(path);
    }
    for (const auto& path : stale) {
      if (!fs::remove(path, ec) && ec) {
        fs::remove_all(staging, ec);
        std::cerr << "c2fmae_masks: "
                  << with_hint("cannot remove " + path.string() +
                                   ", a file of an earlier run: " + ec.message(),
                               "give an --out folder this user may write, or an empty one")
                  << "\n";
        return 1;
      }
    }
    for (const auto& file : names) {
      if (std::rename((staging / file).c_str(), (fs::path(out) / file).c_str()) != 0) {
        const int err = errno;
        fs::remove_all(staging, ec);
        std::cerr << "c2fmae_masks: cannot rename " << (staging / file).string() << " to "
                  << (fs::path(out) / file).string() << ": " << std::strerror(err) << "\n";
        return 1;
      }
    }
    fs::remove(staging, ec);
    std::cout << "c2fmae_masks: wrote " << n << " pictures (sample_0000.png .. " << name
              << "), masks.npy " << batch.mask.sizes()
              << (patches
                      ? c10::str(", semantic_patches.npy and instance_patches.npy ",
                                 preview.semantic_patches.sizes())
                      : std::string(" (no per-patch label arrays: patch ") +
                            std::to_string(cfg.model.patch_size) + " does not fit the label maps)")
              << " to " << out << " (generator " << generator << ", progress "
              << shortest_text(options.progress) << ")\n";
    return 0;
  });
}
