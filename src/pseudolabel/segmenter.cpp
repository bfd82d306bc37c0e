#include "c2fmae/pseudolabel/segmenter.h"

#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/inductor/aoti_package/model_package_loader.h>
#include <torch/script.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "c2fmae/core/error_text.h"
#include "c2fmae/core/json_text.h"
#include "c2fmae/core/usage_error.h"

namespace c2fmae::pseudolabel {
namespace {

constexpr const char* kMetadataKey = "c2fmae_segmenter";
constexpr const char* kExtraFile = "c2fmae_segmenter.json";
constexpr const char* kExportHint =
    "export the model with tools/export_segmenter.py, which writes the metadata "
    "(docs/pseudolabels.md)";

[[noreturn]] void fail(const std::string& origin, const std::string& problem,
                       const std::string& hint = kExportHint) {
  throw SegmenterError(with_hint(origin + ": " + problem, hint));
}

// JSON read through yaml-cpp (JSON is YAML's flow style): a quoted scalar is a string.
bool is_string(const YAML::Node& node) { return node.IsScalar() && node.Tag() == "!"; }

struct Reader {
  std::string origin;

  // The value of `key`, or nothing where it is missing or null.
  std::optional<YAML::Node> at(const YAML::Node& map, const std::string& key,
                               const std::string& where, bool required) const {
    const YAML::Node node = map[key];
    if (!node.IsDefined() || node.IsNull()) {
      if (required) fail(origin, "the metadata has no " + where + key);
      return std::nullopt;
    }
    return node;
  }
  double number(const YAML::Node& node, const std::string& name) const {
    if (!node.IsScalar() || is_string(node)) fail(origin, "metadata " + name + " is not a number");
    try {
      const double value = node.as<double>();
      if (std::isfinite(value)) return value;
    } catch (const YAML::Exception&) {
    }
    fail(origin, "metadata " + name + " is not a finite number ('" + node.Scalar() + "')");
  }
  int64_t integer(const YAML::Node& node, const std::string& name, int64_t low,
                  int64_t high) const {
    const double value = number(node, name);
    if (value != std::floor(value) || value < static_cast<double>(low) ||
        value > static_cast<double>(high)) {
      fail(origin, "metadata " + name + " is " + node.Scalar() + ", not an integer from " +
                       std::to_string(low) + " to " + std::to_string(high));
    }
    return static_cast<int64_t>(value);
  }
  std::string text(const YAML::Node& node, const std::string& name) const {
    if (!is_string(node)) fail(origin, "metadata " + name + " is not a string");
    return node.Scalar();
  }
};

SegmenterInput parse_input(const Reader& r, const YAML::Node& node) {
  if (!node.IsMap()) fail(r.origin, "metadata input is not an object");
  SegmenterInput in;
  constexpr int64_t kMaxSide = 4096;  // detectron2 tests at 800-1333, SAM at 1024
  if (auto n = r.at(node, "short_side", "input.", false))
    in.short_side = r.integer(*n, "input.short_side", 0, kMaxSide);
  if (auto n = r.at(node, "max_side", "input.", false))
    in.max_side = r.integer(*n, "input.max_side", 0, kMaxSide);
  if (in.max_side > 0 && in.short_side > in.max_side)
    fail(r.origin, "metadata input.short_side " + std::to_string(in.short_side) +
                       " is above input.max_side " + std::to_string(in.max_side));
  if (auto n = r.at(node, "size_divisibility", "input.", false))
    in.size_divisibility = r.integer(*n, "input.size_divisibility", 1, 1024);
  if (auto p = r.at(node, "pad_value", "input.", false)) {
    const YAML::Node& n = *p;
    if (!n.IsSequence() || n.size() != 3)
      fail(r.origin, "metadata input.pad_value is not a list of 3 numbers (RGB, 0..255)");
    for (size_t c = 0; c < 3; ++c) {
      in.pad_value[c] = r.number(n[c], "input.pad_value");
      if (in.pad_value[c] < 0.0 || in.pad_value[c] > 255.0)
        fail(r.origin, "metadata input.pad_value holds " + n[c].Scalar() + ", outside 0..255");
    }
  }
  if (auto c = r.at(node, "canvas", "input.", false)) {
    const YAML::Node& n = *c;
    if (!n.IsSequence() || n.size() != 2)
      fail(r.origin, "metadata input.canvas is not [height, width]");
    in.canvas = std::array<int64_t, 2>{r.integer(n[0], "input.canvas", 1, kMaxSide),
                                       r.integer(n[1], "input.canvas", 1, kMaxSide)};
  }
  if (auto n = r.at(node, "batch", "input.", false))
    in.batch = r.integer(*n, "input.batch", 1, 4096);
  return in;
}

SegmenterDefaults parse_defaults(const Reader& r, const std::optional<YAML::Node>& given) {
  SegmenterDefaults d;
  if (!given) return d;
  const YAML::Node& node = *given;
  if (!node.IsMap()) fail(r.origin, "metadata defaults is not an object");
  for (auto [key, slot] :
       {std::pair{"object_mask_threshold", &d.object_mask_threshold},
        std::pair{"overlap_threshold", &d.overlap_threshold},
        std::pair{"mask_threshold", &d.mask_threshold},
        std::pair{"score_threshold", &d.score_threshold},
        std::pair{"instance_overlap_threshold", &d.instance_overlap_threshold}}) {
    if (auto n = r.at(node, key, "defaults.", false)) {
      *slot = r.number(*n, std::string("defaults.") + key);
      if (*slot < 0.0 || *slot > 1.0)
        fail(r.origin,
             std::string("metadata defaults.") + key + " is " + n->Scalar() + ", outside 0..1");
    }
  }
  return d;
}

constexpr size_t kMaxMetadataBytes = size_t{1} << 20;

// The first line of an error, without LibTorch's backtrace or TorchScript's traceback.
std::string first_line(const std::exception& e) {
  auto text = error_text(e);
  if (const auto at = text.find("The following operation failed in the TorchScript interpreter");
      at != std::string::npos) {
    // A TorchScript traceback: the error itself is its last non-empty line.
    auto end = text.find_last_not_of("\n ");
    auto begin = text.rfind('\n', end);
    text = text.substr(begin == std::string::npos ? 0 : begin + 1, end - begin);
  }
  text = text.substr(0, text.find('\n'));
  return text.size() > 400 ? text.substr(0, 400) + "..." : text;
}

void require_file(const std::string& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status))
    fail(path, "no such file", "give the file that tools/export_segmenter.py wrote");
  if (!std::filesystem::is_regular_file(status))
    fail(path, "not a regular file", "give the file that tools/export_segmenter.py wrote");
  if (std::ifstream probe(path, std::ios::binary); !probe.good() || probe.get() == EOF)
    fail(path, "cannot be read, or is empty", "give the file that tools/export_segmenter.py wrote");
}

// The metadata JSON of a TorchScript file or an AOTI package, read from the archive.
std::pair<std::string, bool> read_metadata(const std::string& path) {
  require_file(path);
  const bool named_aoti = std::filesystem::path(path).extension() == ".pt2";
  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> reader;
  try {
    reader = std::make_unique<caffe2::serialize::PyTorchStreamReader>(path);
  } catch (const std::exception&) {
    fail(path, "not a model file (not the zip archive TorchScript and AOTInductor write)");
  }
  // An AOTInductor package holds data/aotinductor/; a TorchScript file code/ and extra/.
  bool aoti = false, script = false;
  for (const auto& name : reader->getAllRecords()) {
    aoti = aoti || name.find("data/aotinductor/") != std::string::npos;
    script = script || name.rfind("code/", 0) == 0;
  }
  if (aoti != named_aoti) {
    fail(path,
         aoti ? "is an AOTInductor package, but its name does not end in .pt2"
              : "is not an AOTInductor package, but its name ends in .pt2",
         aoti ? "rename it to .pt2" : "TorchScript files end in .pt: rename it");
  }
  if (aoti) {
    std::unordered_map<std::string, std::string> metadata;
    try {
      metadata = torch::inductor::AOTIModelPackageLoader::load_metadata_from_package(path, "model");
    } catch (const std::exception& e) {
      fail(path, "cannot read the AOTInductor package's metadata: " + first_line(e));
    }
    const auto it = metadata.find(kMetadataKey);
    if (it == metadata.end())
      fail(path, "the AOTInductor package has no c2fmae_segmenter metadata");
    return {it->second, true};
  }
  if (!script) fail(path, "not a TorchScript file (no code/ in the archive)");
  const std::string record = std::string("extra/") + kExtraFile;
  if (!reader->hasRecord(record))
    fail(path, "the TorchScript file has no c2fmae_segmenter.json metadata");
  auto [data, size] = reader->getRecord(record);
  return {std::string(static_cast<const char*>(data.get()), size), false};
}

std::string shape_text(const torch::Tensor& t) {
  std::ostringstream s;
  s << t.sizes();
  return s.str();
}

}  // namespace

bool SegmenterInfo::is_thing(int64_t cls) const {
  return std::binary_search(thing_ids.begin(), thing_ids.end(), cls);
}

SegmenterInfo parse_segmenter_info(const std::string& json, const std::string& origin) {
  const Reader r{origin};
  if (json.size() > kMaxMetadataBytes)
    fail(origin, "the metadata is " + std::to_string(json.size()) + " bytes, more than 1 MiB");
  if (!is_utf8(json)) fail(origin, "the metadata is not valid UTF-8");
  YAML::Node root;
  try {
    root = YAML::Load(json);
  } catch (const YAML::Exception& e) {
    fail(origin, "the metadata is not valid JSON: " + e.msg);
  }
  if (!root.IsMap()) fail(origin, "the metadata is not a JSON object");
  SegmenterInfo info;
  info.json = json;
  const int64_t format = r.integer(*r.at(root, "format", "", true), "format", 0, 1 << 20);
  if (format != 1)
    fail(origin, "the metadata has format " + std::to_string(format) + "; this program reads 1",
         "export the model again with this version's tools/export_segmenter.py");
  const std::string kind = r.text(*r.at(root, "kind", "", true), "kind");
  if (const auto k = enum_from_name<SegmenterKind>(kind)) {
    info.kind = *k;
  } else {
    fail(origin, "the metadata's kind '" + kind + "' is unknown",
         "the kinds are " + enum_names_text<SegmenterKind>());
  }
  info.num_classes = r.integer(*r.at(root, "num_classes", "", true), "num_classes", 1, 65535);
  if (auto given = r.at(root, "class_names", "", false)) {
    const YAML::Node& names = *given;
    if (!names.IsSequence() || static_cast<int64_t>(names.size()) != info.num_classes)
      fail(origin, "metadata class_names is not a list of num_classes (" +
                       std::to_string(info.num_classes) + ") strings");
    for (const auto& n : names) info.class_names.push_back(r.text(n, "class_names"));
  } else {
    for (int64_t c = 0; c < info.num_classes; ++c)
      info.class_names.push_back("class" + std::to_string(c));
  }
  if (auto given = r.at(root, "thing_ids", "", false)) {
    const YAML::Node& things = *given;
    if (!things.IsSequence()) fail(origin, "metadata thing_ids is not a list of class ids");
    std::set<int64_t> seen;
    for (const auto& t : things) {
      const auto id = r.integer(t, "thing_ids", 0, info.num_classes - 1);
      if (!seen.insert(id).second)
        fail(origin, "metadata thing_ids holds " + std::to_string(id) + " twice");
    }
    info.thing_ids.assign(seen.begin(), seen.end());
  }
  info.input = parse_input(r, *r.at(root, "input", "", true));
  info.defaults = parse_defaults(r, r.at(root, "defaults", "", false));
  if (auto s = r.at(root, "source", "", false)) info.source = r.text(*s, "source");
  if (auto l = r.at(root, "licence", "", false)) info.licence = r.text(*l, "licence");
  if (info.input.canvas) {
    const auto& c = *info.input.canvas;
    if (c[0] % info.input.size_divisibility != 0 || c[1] % info.input.size_divisibility != 0)
      fail(origin, "metadata input.canvas " + std::to_string(c[0]) + "x" + std::to_string(c[1]) +
                       " is not a multiple of input.size_divisibility " +
                       std::to_string(info.input.size_divisibility));
  }
  return info;
}

struct Segmenter::Impl {
  std::optional<torch::jit::Module> script;
  std::unique_ptr<torch::inductor::AOTIModelPackageLoader> aoti;
  torch::Device device = torch::kCPU;
};

Segmenter::Segmenter(std::string path, SegmenterInfo info, std::unique_ptr<Impl> impl)
    : path_(std::move(path)), info_(std::move(info)), impl_(std::move(impl)) {}
Segmenter::~Segmenter() = default;
Segmenter::Segmenter(Segmenter&&) noexcept = default;
Segmenter& Segmenter::operator=(Segmenter&&) noexcept = default;

bool Segmenter::is_aoti() const { return impl_->aoti != nullptr; }
torch::Device Segmenter::device() const { return impl_->device; }

SegmenterInfo read_segmenter_info(const std::string& path) {
  return parse_segmenter_info(read_metadata(path).first, path);
}

Segmenter Segmenter::load(const std::string& path, const torch::Device& device) {
  auto [json, aoti] = read_metadata(path);
  auto info = parse_segmenter_info(json, path);
  auto impl = std::make_unique<Impl>();
  impl->device = device;
  try {
    if (aoti) {
      // The package is compiled for one device kind; its metadata says which.
      const auto metadata =
          torch::inductor::AOTIModelPackageLoader::load_metadata_from_package(path, "model");
      if (const auto d = metadata.find("AOTI_DEVICE_KEY");
          d != metadata.end() && d->second != c10::DeviceTypeName(device.type(), true)) {
        fail(path, "the package was compiled for " + d->second + ", not for " + device.str(),
             "run on --device " + d->second + ", or export again with --device " +
                 c10::DeviceTypeName(device.type(), true));
      }
      impl->aoti = std::make_unique<torch::inductor::AOTIModelPackageLoader>(
          path, "model", false, 1, device.has_index() ? device.index() : -1);
    } else {
      impl->script = torch::jit::load(path, device);
      impl->script->eval();
    }
  } catch (const SegmenterError&) {
    throw;
  } catch (const std::exception& e) {
    fail(path,
         std::string("cannot be loaded as ") +
             (aoti ? "an AOTInductor package" : "a TorchScript model") + ": " + first_line(e),
         aoti ? "a .pt2 must be compiled by torch 2.11 for this device kind"
              : std::string(kExportHint));
  }
  return Segmenter(path, std::move(info), std::move(impl));
}

std::vector<torch::Tensor> Segmenter::run(const torch::Tensor& batch) {
  std::vector<torch::Tensor> out;
  try {
    if (impl_->aoti) {
      out = impl_->aoti->run({batch});
    } else {
      torch::NoGradGuard no_grad;
      const auto result = impl_->script->forward({batch});
      if (result.isTensor()) {
        out.push_back(result.toTensor());
      } else if (result.isTuple()) {
        for (const auto& v : result.toTupleRef().elements()) out.push_back(v.toTensor());
      } else if (result.isList()) {
        for (const auto& v : result.toList()) out.push_back(v.get().toTensor());
      } else if (result.isGenericDict()) {
        const auto dict = result.toGenericDict();
        if (!dict.contains("out")) fail(path_, "the model returned a dict without \"out\"");
        out.push_back(dict.at("out").toTensor());  // torchvision's segmentation models
      } else {
        fail(path_, "the model returned " + result.tagKind() + ", not tensors");
      }
    }
  } catch (const SegmenterError&) {
    throw;
  } catch (const std::exception& e) {  // c10::Error, TorchScript's JITException, ...
    fail(path_, "the model failed on a batch of shape " + shape_text(batch) + ": " + first_line(e),
         "check that the model runs in Python on an input of this shape");
  }
  const int64_t b = batch.size(0), k = info_.num_classes;
  const auto kind = std::string(enum_name(info_.kind));
  auto check = [&](bool ok, const std::string& expected) {
    if (ok) return;
    std::string got;
    for (const auto& t : out) got += (got.empty() ? "" : ", ") + shape_text(t);
    fail(path_, "the " + kind + " model returned (" + got + "), not " + expected,
         "num_classes in the metadata must be the model's class count; export it again");
  };
  const auto dense = [&](const torch::Tensor& t, int64_t channels) {
    return t.dim() == 4 && t.size(0) == b && (channels < 0 || t.size(1) == channels) &&
           t.size(2) > 0 && t.size(3) > 0 && t.is_floating_point();
  };
  switch (info_.kind) {
    case SegmenterKind::kSemantic:
      check(out.size() == 1 && dense(out[0], k), "logits [B, " + std::to_string(k) + ", h, w]");
      break;
    case SegmenterKind::kMaskClassification:
      check(out.size() == 2 && out[0].dim() == 3 && out[0].size(0) == b &&
                out[0].size(2) == k + 1 && out[0].is_floating_point() &&
                dense(out[1], out[0].size(1)),
            "class logits [B, Q, " + std::to_string(k + 1) + "] and mask logits [B, Q, h, w]");
      break;
    case SegmenterKind::kInstances:
      check(out.size() == 3 && out[0].dim() == 2 && out[0].size(0) == b &&
                out[1].sizes() == out[0].sizes() && !out[1].is_floating_point() &&
                dense(out[2], out[0].size(1)),
            "scores [B, N], integer labels [B, N] and mask probabilities [B, N, h, w]");
      break;
  }
  return out;
}

}  // namespace c2fmae::pseudolabel
