// c2fmae_bench_loader: samples per second of the data pipeline alone (read, decode, crop,
// flip, resize, normalise, label maps at the label resolution with canonical instance ids),
// for the folder and shards sources, full C2FMAE samples (RGB + two masks) and RGB only, at
// each thread count asked for. Prints one JSON line per configuration.
//
//   c2fmae_bench_loader [--root DIR] [--samples 256] [--threads 1,2] [--batch 32]
//                       [--batches 16] [--sources folder,shards] [--keep]
//
// Without --root it first writes --samples samples like pseudo-labelled ImageNet (JPEG
// 500x375 q90 + 8-bit semantic PNG + 16-bit instance PNG, as shared/bench/py_loader_ref.py
// makes them) into a temporary folder and packs them into shards. Files are read from the
// page cache after the first pass, as in the Python yardstick. A benchmark, not a test: run
// it on an idle machine and say which machine the figures come from.
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "c2fmae/core/error_text.h"
#include "c2fmae/core/random.h"
#include "c2fmae/core/usage_error.h"
#include "c2fmae/data/batch_loader.h"
#include "c2fmae/data/folder_dataset.h"
#include "c2fmae/data/shard_dataset.h"
#include "c2fmae/data/shard_index.h"
#include "c2fmae/formats/image_codec.h"
#include "program/arguments.h"
#include "program/guarded_main.h"

namespace {
namespace fs = std::filesystem;
using namespace c2fmae;

void write_bytes(const fs::path& path, const std::vector<uint8_t>& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

/// Sample i as py_loader_ref.py makes them: a smooth colour field with noise, so the JPEG is
/// photo-sized, and 1-5 discs of random class and colour in both masks.
void make_sample(const fs::path& root, int64_t i) {
  const int h = 375, w = 500;
  Rng rng(static_cast<uint64_t>(i) * 7919u + 1);
  std::vector<float> img(static_cast<size_t>(h) * w * 3);
  for (int c = 0; c < 3; ++c) {
    const double fx = uniform(rng, 0.01, 0.05), fy = uniform(rng, 0.01, 0.05);
    for (int y = 0; y < h; ++y) {
      for (int x = 0; x < w; ++x) {
        img[(static_cast<size_t>(y) * w + x) * 3 + c] = static_cast<float>(
            128 + 60 * std::sin(x * fx + c) * std::cos(y * fy) + 18 * standard_normal(rng));
      }
    }
  }
  std::vector<uint8_t> sem(static_cast<size_t>(h) * w, 0);
  std::vector<uint16_t> ins(static_cast<size_t>(h) * w, 0);
  const int64_t discs = uniform_int(rng, 1, 5);
  for (int64_t k = 1; k <= discs; ++k) {
    const double cy = uniform_int(rng, 0, h - 1), cx = uniform_int(rng, 0, w - 1);
    const double r = uniform_int(rng, 30, 139);
    const auto cls = static_cast<uint8_t>(uniform_int(rng, 0, 132));
    const float col[3] = {static_cast<float>(uniform(rng, 0, 255)),
                          static_cast<float>(uniform(rng, 0, 255)),
                          static_cast<float>(uniform(rng, 0, 255))};
    for (int y = 0; y < h; ++y) {
      for (int x = 0; x < w; ++x) {
        if ((y - cy) * (y - cy) + (x - cx) * (x - cx) >= r * r) continue;
        const size_t p = static_cast<size_t>(y) * w + x;
        for (int c = 0; c < 3; ++c)
          img[p * 3 + c] = col[c] + 10 * static_cast<float>(standard_normal(rng));
        sem[p] = cls;
        ins[p] = static_cast<uint16_t>(k);
      }
    }
  }
  std::vector<uint8_t> rgb(img.size());
  for (size_t p = 0; p < img.size(); ++p) {
    rgb[p] = static_cast<uint8_t>(std::lround(std::clamp(img[p], 0.0f, 255.0f)));
  }
  const auto cls = "class" + std::to_string(i % 4);
  const auto name = "img" + std::to_string(i);
  write_bytes(root / "train" / "rgb" / cls / (name + ".jpg"),
              formats::encode_jpeg(rgb.data(), w, h, 90));
  write_bytes(root / "train" / "semseg" / cls / (name + ".png"),
              formats::encode_png_gray(sem.data(), w, h, 8));
  write_bytes(root / "train" / "instance" / cls / (name + ".png"),
              formats::encode_png_gray(ins.data(), w, h, 16));
}

}  // namespace

int main(int argc, char** argv) {
  return program::guarded_main("c2fmae_bench_loader", [&]() -> int {
    program::Arguments app("c2fmae_bench_loader: data pipeline throughput, samples/s per thread");
    std::string root;
    int64_t samples = 256, batch = 32, batches = 16, img_size = 224;
    std::vector<int64_t> threads = {1, 2};
    std::vector<std::string> sources = {"shards", "folder"};
    bool keep = false;
    app.option("--root", root, "a folder dataset in MultiMAE's layout (default: generate one)");
    app.option("--samples", samples, "samples to generate without --root").range(8, 100000);
    app.option("--threads", threads, "worker thread counts to time").delimiter(',').range(1, 1024);
    app.option("--batch", batch, "samples per batch").range(1, 4096);
    app.option("--batches", batches, "timed batches per configuration").range(1, 100000);
    app.option("--img-size", img_size, "output resolution").range(16, 1024);
    app.option("--sources", sources, "folder and/or shards").delimiter(',');
    app.flag("--keep", keep, "keep the generated dataset and shards (their path is printed)");
    if (const auto code = app.parse(argc, argv)) return *code;
    for (const auto& s : sources) {
      if (s != "folder" && s != "shards") {
        std::cerr << "c2fmae_bench_loader: unknown source '" << s
                  << "'\nhint: use folder and/or shards\n";
        return 2;
      }
    }
    fs::path work;
    const auto remove_work = [&] {
      std::error_code ec;
      if (!work.empty() && !keep) fs::remove_all(work, ec);
    };
    try {
      work = fs::temp_directory_path() / ("c2fmae_bench_loader_" + std::to_string(::getpid()));
      fs::create_directories(work);
      if (root.empty()) {
        root = (work / "folder").string();
        std::cerr << "generating " << samples << " samples in " << root << "\n";
        for (int64_t i = 0; i < samples; ++i) make_sample(root, i);
      }
      const auto shards = (work / "shards").string();
      if (std::find(sources.begin(), sources.end(), "shards") != sources.end()) {
        data::PackOptions pack;
        pack.shard_bytes = 64 << 20;
        pack.overwrite = true;
        data::pack_folder(root, "train", shards, pack);
      }
      double jpeg_bytes = 0;
      data::FolderDataset folder(root, "train");
      for (const auto& s : folder.index().samples)
        jpeg_bytes += static_cast<double>(fs::file_size(s.rgb));
      jpeg_bytes /= static_cast<double>(folder.size());
      for (const auto& source : sources) {
        std::shared_ptr<const data::Dataset> ds;
        if (source == "folder") {
          ds = std::make_shared<data::FolderDataset>(root, "train");
        } else {
          ds = std::make_shared<data::ShardDataset>(shards, "train");
        }
        for (const bool masks : {true, false}) {
          if (masks && !ds->has_masks()) {
            std::cerr << "c2fmae_bench_loader: " << source
                      << ": no masks (an ImageFolder), RGB only\n";
            continue;
          }
          for (const auto t : threads) {
            data::LoaderOptions o;
            o.batch_size = std::min<int64_t>(batch, ds->size());
            o.img_size = img_size;
            o.num_workers = t;
            o.prefetch = 2;
            o.masks = masks;
            o.max_instances = masks ? 64 : 0;  // label resolution and canonical ids, as training
            data::BatchLoader loader(ds, o);
            loader.batch(0);  // threads started, files in the page cache
            const auto start = std::chrono::steady_clock::now();
            for (int64_t b = 1; b <= batches; ++b) loader.batch(b);
            const double s =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            const double rate = static_cast<double>(batches * o.batch_size) / s;
            std::cout << "{\"loader\": \"c2fmae\", \"source\": \"" << source << "\", \"sample\": \""
                      << (masks ? "rgb+sem+ins" : "rgb") << "\", \"threads\": " << t
                      << ", \"samples_per_s\": " << std::round(rate * 10) / 10
                      << ", \"samples_per_s_per_thread\": " << std::round(rate / t * 10) / 10
                      << ", \"batch\": " << o.batch_size << ", \"img_size\": " << img_size
                      << ", \"jpeg_kib\": " << std::round(jpeg_bytes / 1024 * 10) / 10 << "}"
                      << std::endl;
          }
        }
      }
      if (keep) {
        std::cerr << "kept " << work.string() << "\n";
      } else {
        fs::remove_all(work);
      }
      return 0;
    } catch (const data::ShardIoError&) {  // packing: a full disk, an unreadable file (exit 1)
      remove_work();
      throw;
    } catch (const data::DatasetError& e) {  // --root missing, empty, no classes
      remove_work();
      throw UsageError("--root " + root + ": " + e.what());
    } catch (...) {
      remove_work();
      throw;
    }
  });
}
