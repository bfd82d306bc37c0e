// c2fmae_pseudolabel: the semantic and instance maps that C2FMAE pre-trains on, made by a
// segmentation model (exported by tools/export_segmenter.py) for every image of dataset
// splits (docs/pseudolabels.md).
//
//   c2fmae_pseudolabel --model FILE --root DIR --split NAME [--split NAME ...] --out DIR
//       [--source folder|shards] [--device cpu|cuda[:i]] [--batch N] [--workers N]
//       [--write semseg,instance] [--shard I/N] [--overwrite] [--preview K] ...
//
// --out receives OUT/<split>/{rgb,semseg,instance}/<class>/..., which data.source: folder
// reads as it is (model.num_semantic_classes = the model's class count), or, from shards,
// labelled shards and their index. A rerun skips what is complete; --shard I/N splits the
// work between processes (one per GPU: tools/launch/local.sh sets RANK and WORLD_SIZE, which
// stand for --shard RANK/WORLD_SIZE when --shard is not given).
//
// Exit codes: 0 done, 1 an I/O failure (the path and the OS reason are printed), 2 bad
// arguments, model metadata or data (too many bad images, colliding mask names), 128 + n
// after signal n (the batches in flight are finished and recorded first).
#include <fcntl.h>
#include <torch/cuda.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <set>
#include <sstream>
#include <thread>

#include "c2fmae/core/atomic_file.h"
#include "c2fmae/core/error_text.h"
#include "c2fmae/core/json_text.h"
#include "c2fmae/core/number_text.h"
#include "c2fmae/core/usage_error.h"
#include "c2fmae/data/shard_index.h"
#include "c2fmae/pseudolabel/output_claim.h"
#include "c2fmae/pseudolabel/pseudolabel_job.h"
#include "c2fmae/train/mask_pictures.h"
#include "c2fmae/train/png_file.h"
#include "c2fmae/train/stop_signal.h"
#include "program/arguments.h"
#include "program/guarded_main.h"

namespace {

using namespace c2fmae;
namespace fs = std::filesystem;
constexpr const char* kName = "c2fmae_pseudolabel";

[[noreturn]] void refuse(const std::string& problem, const std::string& hint) {
  throw UsageError(with_hint(problem, hint));
}

// A finite number, all of the text (no spaces, no "nan").
std::optional<double> number(const std::string& text) {
  if (text.empty() || std::isspace(static_cast<unsigned char>(text.front())) ||
      std::isspace(static_cast<unsigned char>(text.back())))
    return std::nullopt;
  const auto v = parse_number(text);
  if (!v || !std::isfinite(*v)) return std::nullopt;
  return v;
}

// Decimal digits only ("0", "12"), as a count.
std::optional<int64_t> whole_number(const std::string& text) {
  if (text.empty() || text.size() > 9) return std::nullopt;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  return std::stoll(text);
}

// "I/N" -> (I, N); `origin` names where it came from in messages.
std::pair<int64_t, int64_t> parse_shard(const std::string& text, const std::string& origin) {
  const auto slash = text.find('/');
  const auto bad = [&] {
    refuse(origin + " '" + text + "' is not I/N with 0 <= I < N (whole numbers)",
           "give this process's part and the number of parts, e.g. --shard 0/4 ... --shard 3/4");
  };
  if (slash == std::string::npos) bad();
  const auto i = whole_number(text.substr(0, slash)), n = whole_number(text.substr(slash + 1));
  if (!i || !n || *n < 1 || *n > 65536 || *i >= *n) bad();
  return {*i, *n};
}

// "cpu", "cuda" (the process's GPU: LOCAL_RANK under a launcher, else 0) or "cuda:i".
torch::Device parse_device(const std::string& text) {
  if (text == "cpu") return torch::kCPU;
  const bool cuda = text == "cuda" || text.rfind("cuda:", 0) == 0;
  if (!cuda) refuse("--device '" + text + "' is unknown", "give cpu, cuda or cuda:i");
  int64_t index = 0;
  if (text == "cuda") {
    if (const char* local = std::getenv("LOCAL_RANK")) {
      const auto v = whole_number(local);
      if (!v)
        refuse(std::string("LOCAL_RANK '") + local + "' is not a whole number",
               "launch with tools/launch/local.sh, which sets it, or give --device cuda:i");
      index = *v;
    }
  } else {
    const auto v = parse_number(text.substr(5));
    if (!v || *v < 0 || *v != std::floor(*v) || *v > 1024)
      refuse("--device '" + text + "' is not cuda:i", "give e.g. cuda:0");
    index = static_cast<int64_t>(*v);
  }
  if (!torch::cuda::is_available())
    refuse("--device " + text + ": this machine has no CUDA device (or this LibTorch has no CUDA)",
           "give --device cpu");
  if (index >= static_cast<int64_t>(torch::cuda::device_count()))
    refuse("--device " + text + ": there are " + std::to_string(torch::cuda::device_count()) +
               " CUDA devices",
           "give cuda:0 to cuda:" + std::to_string(torch::cuda::device_count() - 1));
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
}

std::string hms(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<int64_t>(seconds);
  char text[32];
  std::snprintf(text, sizeof text, "%lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  return text;
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return text;
}

std::string split_json(const pseudolabel::SplitReport& r) {
  const double images_per_s = r.seconds > 0 ? static_cast<double>(r.written) / r.seconds : 0.0;
  std::string bad = "[";
  for (size_t i = 0; i < r.bad_examples.size(); ++i)
    bad += (i ? ", " : "") + json_string(r.bad_examples[i]);
  bad += "]";
  return "{\"split\": " + json_string(r.split) + ", \"samples\": " + std::to_string(r.total) +
         ", \"selected\": " + std::to_string(r.selected) +
         ", \"written\": " + std::to_string(r.written) +
         ", \"skipped_existing\": " + std::to_string(r.skipped) +
         ", \"bad\": " + std::to_string(r.bad) + ", \"bad_examples\": " + bad +
         ", \"segments\": " + std::to_string(r.segments) +
         ", \"instances\": " + std::to_string(r.instances) +
         ", \"seconds\": " + shortest_text(r.seconds) +
         ", \"images_per_second\": " + shortest_text(images_per_s) +
         ", \"seconds_read_decode_summed\": " + shortest_text(r.read_decode_seconds) +
         ", \"seconds_model\": " + shortest_text(r.labeller.model) +
         ", \"seconds_postprocess_summed\": " + shortest_text(r.post_seconds) +
         ", \"batch\": " + std::to_string(r.batch) +
         ", \"seconds_encode_write_summed\": " + shortest_text(r.encode_write_seconds) +
         ", \"batches\": " + std::to_string(r.labeller.batches) +
         ", \"padded_batch_slots\": " + std::to_string(r.labeller.padded_slots) +
         ", \"index_written\": " + (r.index_written ? "true" : "false") + "}";
}

}  // namespace

int main(int argc, char** argv) {
  return program::guarded_main(kName, [&]() -> int {
    program::Arguments app(
        "c2fmae_pseudolabel: semantic and instance maps of dataset splits from a segmentation "
        "model exported by tools/export_segmenter.py (docs/pseudolabels.md)");
    std::string model_path, root, out, source_text = "folder", device_text = "cpu",
                                       write_text = "semseg,instance", shard_text,
                                       rgb_text = "link";
    std::vector<std::string> splits;
    std::string object_text, overlap_text, mask_text, score_text, bad_text = "0.01";
    int64_t batch = 8, workers = 4, preview = 0, max_pixels = 4'000'000, progress_seconds = 30;
    bool overwrite = false;
    app.option("--model", model_path,
               "the segmenter: a .pt (TorchScript) or .pt2 (AOTInductor) "
               "file written by tools/export_segmenter.py")
        .required();
    app.option("--root", root,
               "dataset root: <root>/<split>/<class>/<image> (ImageFolder), "
               "<root>/<split>/rgb/<class>/<image> (MultiMAE) or a shard folder")
        .required();
    app.option("--split", splits, "split to label, repeatable (default: train)");
    app.option("--out", out,
               "output root: <out>/<split>/{rgb,semseg,instance}/<class>/... "
               "(folder) or labelled shards (shards); may be --root for MultiMAE "
               "folders, whose missing maps are then filled in")
        .required();
    app.option("--source", source_text, "folder or shards").show_default();
    app.option("--device", device_text, "cpu, cuda or cuda:i").show_default();
    app.option("--batch", batch, "images per model call (a .pt2's fixed batch wins)")
        .range(1, 1024)
        .show_default();
    app.option("--workers", workers,
               "threads reading and decoding images, and as many "
               "encoding and writing maps")
        .range(1, 256)
        .show_default();
    app.option("--write", write_text,
               "maps to write: semseg, instance or both (keep MultiMAE's "
               "released semseg with --write instance)")
        .show_default();
    app.option("--shard", shard_text,
               "I/N: label the samples (shards) whose position is I "
               "modulo N (default: RANK/WORLD_SIZE when set, else 0/1)");
    app.flag("--overwrite", overwrite, "recompute maps that exist");
    app.option("--preview", preview,
               "write K pictures (image | semantic | instance) into "
               "<out>/preview/")
        .range(0, 10000)
        .show_default();
    app.option("--rgb", rgb_text,
               "how images reach a folder --out: link (hard link, a copy "
               "across file systems), symlink or copy")
        .show_default();
    app.option("--object-threshold", object_text,
               "mask classification: a query's class score "
               "must pass it (default: the model's, 0.8)");
    app.option("--overlap-threshold", overlap_text,
               "mask classification: the share of its mask "
               "a query must win (default: the model's, 0.8)");
    app.option("--mask-threshold", mask_text,
               "sigmoid or probability at or above which a pixel "
               "is in a mask (default: the model's, 0.5)");
    app.option("--score-threshold", score_text,
               "instances: a detection's score must reach it "
               "(default: the model's, 0.5)");
    app.option("--max-bad-fraction", bad_text,
               "stop when more of a split's images than this "
               "cannot be read or decoded")
        .show_default();
    app.option("--postprocess-max-pixels", max_pixels,
               "post-process larger images at this many "
               "pixels and scale the maps up (memory)")
        .range(1024, int64_t{1} << 30)
        .show_default();
    app.option("--progress-seconds", progress_seconds, "seconds between progress lines (0: none)")
        .range(0, 86400)
        .show_default();
    // The stop handlers are in place before anything is loaded: a signal during start-up
    // stops the run before its first batch.
    train::StopGuard stop_guard;
    train::set_stop_message(
        "\nc2fmae_pseudolabel: stopping once the images in flight are written; signal again to "
        "abort at once (a rerun continues either way)\n");
    if (const auto code = app.parse(argc, argv)) return *code;

    pseudolabel::JobOptions o;
    o.root = root;
    o.out = out;
    o.splits = splits.empty() ? std::vector<std::string>{"train"} : splits;
    std::set<std::string> seen;
    for (const auto& split : o.splits) {
      if (!seen.insert(split).second)
        refuse("--split " + split + " is given twice", "name each split once");
      if (split.empty() || split == "." || split == ".." || split.find('/') != std::string::npos)
        refuse("--split '" + split + "' is not a split folder name",
               "give the name of a folder under --root, e.g. --split train --split val");
    }
    if (root.empty() || out.empty()) refuse("--root and --out must not be empty", "give folders");
    if (const auto s = enum_from_name<pseudolabel::InputSource>(source_text)) {
      o.source = *s;
    } else {
      refuse("--source '" + source_text + "' is unknown",
             "give " + enum_names_text<pseudolabel::InputSource>());
    }
    if (const auto r = enum_from_name<pseudolabel::RgbOutput>(rgb_text)) {
      o.rgb = *r;
    } else {
      refuse("--rgb '" + rgb_text + "' is unknown",
             "give " + enum_names_text<pseudolabel::RgbOutput>());
    }
    o.write_semantic = o.write_instance = false;
    {
      std::stringstream list(write_text + ",");
      std::string item;
      while (std::getline(list, item, ',')) {
        bool& slot = item == "semseg" ? o.write_semantic : o.write_instance;
        if ((item != "semseg" && item != "instance") || slot)
          refuse("--write '" + write_text + "' is not a list of distinct maps",
                 "give semseg, instance or semseg,instance");
        slot = true;
      }
    }
    if (!shard_text.empty()) {
      std::tie(o.shard_index, o.shard_count) = parse_shard(shard_text, "--shard");
    } else {
      // Under a launcher: RANK and WORLD_SIZE stand for --shard; one without the other is a
      // broken launch.
      const char* rank = std::getenv("RANK");
      const char* world = std::getenv("WORLD_SIZE");
      if ((rank != nullptr) != (world != nullptr))
        refuse(std::string(rank ? "RANK" : "WORLD_SIZE") + " is set, " +
                   (rank ? "WORLD_SIZE" : "RANK") + " is not",
               "set both (tools/launch/local.sh does), or give --shard I/N");
      if (rank)
        std::tie(o.shard_index, o.shard_count) =
            parse_shard(std::string(rank) + "/" + world, "RANK/WORLD_SIZE");
    }
    const auto bad_fraction = number(bad_text);
    if (!bad_fraction || *bad_fraction < 0 || *bad_fraction > 1)
      refuse("--max-bad-fraction '" + bad_text + "' is not a number from 0 to 1",
             "give e.g. 0.01 (stop when more than 1 % of a split's images are bad)");
    o.max_bad_fraction = *bad_fraction;
    o.overwrite = overwrite;
    o.batch = batch;
    o.workers = static_cast<int>(workers);
    o.preview_count = preview;
    o.max_pixels = max_pixels;
    o.progress_seconds = static_cast<double>(progress_seconds);
    const auto device = parse_device(device_text);

    // Everything the data says is checked before the model is loaded (minutes for a .pt2).
    try {
      pseudolabel::check_job(o);
    } catch (const data::DatasetError& e) {
      throw UsageError(e.what());
    }
    // The model file and its metadata are checked before anything is written.
    const auto info_checked = [&] {
      try {
        return pseudolabel::read_segmenter_info(model_path);
      } catch (const pseudolabel::SegmenterError& e) {
        throw UsageError(e.what());
      }
    }();
    o.labels = pseudolabel::default_label_options(info_checked);
    auto threshold = [&](const std::string& text, const char* name, double& slot) {
      if (text.empty()) return;
      const auto v = number(text);
      if (!v || *v < 0 || *v > 1)
        refuse(std::string(name) + " '" + text + "' is not a number from 0 to 1", "give e.g. 0.8");
      slot = *v;
    };
    threshold(object_text, "--object-threshold", o.labels.panoptic.object_mask_threshold);
    threshold(overlap_text, "--overlap-threshold", o.labels.panoptic.overlap_threshold);
    threshold(mask_text, "--mask-threshold", o.labels.panoptic.mask_threshold);
    threshold(score_text, "--score-threshold", o.labels.score_threshold);
    // The output: this part's lock, and the record of the model that made its maps.
    const auto identity =
        "model sha256 " + pseudolabel::file_sha256(model_path) + "\nobject_mask_threshold " +
        shortest_text(o.labels.panoptic.object_mask_threshold) + "\noverlap_threshold " +
        shortest_text(o.labels.panoptic.overlap_threshold) + "\nmask_threshold " +
        shortest_text(o.labels.panoptic.mask_threshold) + "\nscore_threshold " +
        shortest_text(o.labels.score_threshold) + "\ninstance_overlap_threshold " +
        shortest_text(o.labels.instance_overlap_threshold) + "\npostprocess_max_pixels " +
        std::to_string(max_pixels) + "\n";
    const auto stem = pseudolabel::record_stem(o);
    std::unique_ptr<pseudolabel::OutputClaim> claim;
    try {
      claim = std::make_unique<pseudolabel::OutputClaim>(pseudolabel::ClaimRequest{
          out, stem, std::to_string(o.shard_index) + "/" + std::to_string(o.shard_count),
          o.shard_count, identity, o.write_semantic, o.write_instance, overwrite});
    } catch (const pseudolabel::PseudolabelIoError& e) {
      std::cerr << kName << ": " << e.what() << "\n";
      return 1;
    }
    auto model = [&] {
      try {
        return pseudolabel::Segmenter::load(model_path, device);
      } catch (const pseudolabel::SegmenterError& e) {
        throw UsageError(e.what());  // a model file that cannot be used: exit 2
      }
    }();
    const auto& info = model.info();
    std::cout << kName << ": " << model_path << ": " << enum_name(info.kind) << ", "
              << info.num_classes << " classes (" << info.thing_ids.size() << " things), "
              << (model.is_aoti() ? "AOTInductor" : "TorchScript") << " on " << device.str()
              << "; source " << (info.source.empty() ? "?" : info.source) << "; licence "
              << (info.licence.empty() ? "?" : info.licence) << std::endl;
    if (info.num_classes > 254)
      std::cerr << kName << ": warning: " << info.num_classes << " classes"
                << (info.num_classes > 255 ? " (the semantic maps are 16-bit PNGs)" : "")
                << ": c2fmae trains on at most 254 (model.num_semantic_classes; 255 is its "
                   "ignore value)\n";

    std::atomic<bool> stop{false};
    o.stop = &stop;
    // The job polls `stop`; the signal handler only records the signal.
    std::atomic<bool> watching{true};
    std::thread watcher([&] {
      while (watching.load()) {
        if (train::stop_signal() != 0) stop.store(true);
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    });
    struct Join {
      std::atomic<bool>& watching;
      std::thread& t;
      ~Join() {
        watching.store(false);
        t.join();
      }
    } join{watching, watcher};
    o.progress = [&](const pseudolabel::Progress& p) {
      const double rate = p.seconds > 0 ? static_cast<double>(p.done) / p.seconds : 0.0;
      char line[256];
      std::snprintf(
          line, sizeof line, "%s: %s: %lld/%lld images (%.1f%%), %.1f images/s, ETA %s", kName,
          p.split.c_str(), static_cast<long long>(p.done), static_cast<long long>(p.to_do),
          p.to_do ? 100.0 * static_cast<double>(p.done) / static_cast<double>(p.to_do) : 100.0,
          rate, hms(rate > 0 ? static_cast<double>(p.to_do - p.done) / rate : -1).c_str());
      std::cout << line << std::endl;
    };
    if (progress_seconds == 0) o.progress = nullptr;
    const auto preview_dir = fs::path(out) / "preview";
    if (preview > 0) {
      std::error_code ec;
      fs::create_directories(preview_dir, ec);
      if (ec || !fs::is_directory(preview_dir)) {
        std::cerr << kName << ": cannot create the folder " << preview_dir.string() << ": "
                  << (ec ? ec.message() : "a file of that name is in the way") << "\n";
        return 1;
      }
      o.preview = [&](const std::string& key, const torch::Tensor& rgb,
                      const pseudolabel::LabelMaps& maps) {
        const auto h = rgb.size(0), w = rgb.size(1);
        const auto semantic = pseudolabel::upscale_labels(maps.semantic, h, w);
        const auto instance = pseudolabel::upscale_labels(maps.instance, h, w).to(torch::kLong);
        auto semantic_panel = train::semantic_colours(
            semantic.masked_fill(semantic.ge(info.num_classes), kIgnoreClass));
        const auto picture =
            torch::cat({rgb, semantic_panel, train::instance_colours(instance)}, 1);
        std::string name = key;
        std::replace(name.begin(), name.end(), '/', '_');
        train::write_png((preview_dir / (name + ".png")).string(), picture);
      };
    }

    const auto started = utc_now();
    const auto start = std::chrono::steady_clock::now();
    pseudolabel::JobReport report;
    int code = 0;
    std::string failure;
    try {
      report = pseudolabel::run_job(model, o);
    } catch (const pseudolabel::PseudolabelIoError& e) {
      failure = e.what();
      code = 1;
    } catch (const data::ShardIoError& e) {
      failure = e.what();
      code = 1;
    } catch (const data::DatasetError& e) {
      failure = e.what();
      code = 2;
    } catch (const pseudolabel::SegmenterError& e) {
      failure = e.what();
      code = 2;
    } catch (const std::exception& e) {  // e.g. a preview picture that cannot be written
      failure = error_text(e);
      code = 1;
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    // The record, also of a failed or stopped run: what was done, and why it ended.
    std::string splits_json = "[";
    for (size_t i = 0; i < report.splits.size(); ++i)
      splits_json += (i ? ", " : "") + split_json(report.splits[i]);
    splits_json += "]";
    const int signal = train::stop_signal();
    const std::string status = code != 0 ? "failed" : report.stopped ? "stopped" : "done";
    const std::string record =
        "{\"program\": \"c2fmae_pseudolabel\", \"status\": " + json_string(status) +
        ", \"failure\": " + json_string(failure) +
        ", \"signal\": " + json_string(signal ? train::signal_name(signal) : "") +
        ",\n \"model\": {\"path\": " + json_string(fs::absolute(model_path).string()) +
        ", \"sha256\": " + json_string(pseudolabel::file_sha256(model_path)) +
        ", \"format\": " + json_string(model.is_aoti() ? "aoti" : "torchscript") +
        ", \"metadata\": " + json_string(info.json) +
        "},\n \"options\": {\"root\": " + json_string(root) + ", \"out\": " + json_string(out) +
        ", \"source\": " + json_string(source_text) + ", \"device\": " + json_string(device.str()) +
        ", \"batch\": " + std::to_string(batch) + ", \"workers\": " + std::to_string(workers) +
        ", \"write\": " + json_string(write_text) + ", \"shard\": " +
        json_string(std::to_string(o.shard_index) + "/" + std::to_string(o.shard_count)) +
        ", \"overwrite\": " + (overwrite ? "true" : "false") +
        ", \"object_mask_threshold\": " + shortest_text(o.labels.panoptic.object_mask_threshold) +
        ", \"overlap_threshold\": " + shortest_text(o.labels.panoptic.overlap_threshold) +
        ", \"mask_threshold\": " + shortest_text(o.labels.panoptic.mask_threshold) +
        ", \"score_threshold\": " + shortest_text(o.labels.score_threshold) +
        ", \"instance_overlap_threshold\": " + shortest_text(o.labels.instance_overlap_threshold) +
        ", \"postprocess_max_pixels\": " + std::to_string(max_pixels) +
        ", \"max_bad_fraction\": " + shortest_text(o.max_bad_fraction) +
        "},\n \"torch\": " + json_string(TORCH_VERSION) + ", \"started\": " + json_string(started) +
        ", \"ended\": " + json_string(utc_now()) + ", \"seconds\": " + shortest_text(seconds) +
        ",\n \"splits\": " + splits_json + "}\n";
    const auto record_path = (fs::path(out) / (stem + ".json")).string();
    try {
      write_text_atomically(record_path, record);
    } catch (const std::exception& e) {
      std::cerr << kName << ": " << error_text(e) << "\n";
      if (code == 0) code = 1;
    }
    for (const auto& r : report.splits) {
      std::cout << kName << ": " << r.split << ": " << r.written << " written, " << r.skipped
                << " complete already, " << r.bad << " bad, of " << r.selected
                << (o.shard_count > 1 ? " in this part" : "") << " (" << r.total
                << " in the split); " << r.instances << " instances; "
                << shortest_text(std::round(r.seconds * 10) / 10) << " s";
      if (r.written > 0)
        std::cout << ", "
                  << shortest_text(std::round(static_cast<double>(r.written) / r.seconds * 10) / 10)
                  << " images/s";
      std::cout << std::endl;
      if (r.bad > 0)
        std::cerr << kName << ": warning: " << r.split << ": " << r.bad
                  << " images could not be read or decoded and were left out (first: "
                  << r.bad_examples.front() << "); all are listed in " << record_path << "\n";
      if (o.source == pseudolabel::InputSource::kShards && !r.index_written && !report.stopped &&
          code == 0)
        std::cout << kName << ": " << r.split
                  << ": other parts are not done yet; the last part to finish writes "
                  << data::shard_index_path(out, r.split) << std::endl;
    }
    if (code != 0) {
      if (!failure.empty()) std::cerr << kName << ": " << failure << "\n";
      return code;
    }
    if (report.stopped) {
      std::cerr << kName << ": stopped by " << train::signal_name(signal)
                << "; the images in flight were finished; run the same command to go on\n";
      return 128 + signal;
    }
    std::cout << kName << ": done -> " << out << " (record: " << record_path << ")" << std::endl;
    return 0;
  });
}
