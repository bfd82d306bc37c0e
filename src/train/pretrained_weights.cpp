#include "c2fmae/train/pretrained_weights.h"

#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "c2fmae/core/affix.h"
#include "c2fmae/core/error_text.h"
#include "c2fmae/core/input_file.h"
#include "c2fmae/core/log.h"
#include "c2fmae/core/usage_error.h"
#include "c2fmae/formats/safetensors.h"
#include "c2fmae/train/checkpoint.h"

namespace c2fmae::train {
namespace fs = std::filesystem;
namespace {

const std::string kBackbone = "backbone.";

bool is_head(const std::string& name) {
  return starts_with(name, "head.") || starts_with(name, "head_norm.");
}

/// MAE's interpolate_pos_embed: pos [1, extra + s*s, D] -> [1, extra + n*n, D], the grid
/// resized bicubically (align_corners false), the extra (class token) rows kept.
torch::Tensor resize_pos_embed(const torch::Tensor& pos, int64_t target_tokens) {
  const int64_t tokens = pos.size(1), d = pos.size(2);
  for (int64_t extra = 0; extra <= 1; ++extra) {
    if (tokens - extra < 1 || target_tokens - extra < 1) continue;  // no grid (e.g. 0 x 0)
    const auto s =
        static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(tokens - extra))));
    const auto n =
        static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(target_tokens - extra))));
    if (s * s != tokens - extra || n * n != target_tokens - extra) continue;
    auto grid =
        pos.narrow(1, extra, s * s).to(torch::kFloat).reshape({1, s, s, d}).permute({0, 3, 1, 2});
    grid = torch::nn::functional::interpolate(grid, torch::nn::functional::InterpolateFuncOptions()
                                                        .size(std::vector<int64_t>{n, n})
                                                        .mode(torch::kBicubic)
                                                        .align_corners(false));
    grid = grid.permute({0, 2, 3, 1}).reshape({1, n * n, d});
    return torch::cat({pos.narrow(1, 0, extra).to(torch::kFloat), grid}, 1);
  }
  return {};
}

/// "blocks.0.attn.qkv.weight, blocks.1.attn.qkv.weight, ..." folded to "blocks.*.attn.qkv.weight".
std::string folded(const std::vector<std::string>& names) {
  static const std::regex kIndex(R"(\.[0-9]+\.)");
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& n : names) {
    const auto f = std::regex_replace(n, kIndex, ".*.");
    if (seen.insert(f).second) out.push_back(f);
  }
  std::string text;
  for (const auto& n : out) text += (text.empty() ? "" : ", ") + n;
  return text;
}

}  // namespace

void check_pretrained_path(const config::TrainConfig& train, config::Checker& c) {
  if (train.pretrained.empty()) return;
  const auto problem = input_file_problem(train.pretrained);
  c.require(problem.empty(), "train.pretrained", train.pretrained, problem,
            problem == "is a directory"
                ? "give a checkpoint file in it, e.g. " + train.pretrained + "/best.pt"
                : "give a c2fmae checkpoint or a ViT safetensors file (--pretrained PATH)");
}

WeightsFile read_weights(const std::string& path) {
  auto refuse = [&](const std::string& what) {
    throw UsageError(with_hint(
        "pretrained weights " + path + ": " + what,
        "give a c2fmae checkpoint (checkpoint-<step>.pt, best.pt) or a safetensors file of a "
        "timm / MAE ViT (c2fmae_export writes one)"));
  };
  if (const auto problem = input_file_problem(path); !problem.empty()) refuse(problem);
  std::ifstream in(path, std::ios::binary);
  char head[4] = {0, 0, 0, 0};
  if (!in || !in.read(head, 4)) refuse(in ? "too short to hold weights" : "cannot be read");
  WeightsFile file;
  file.path = path;
  if (head[0] == 'P' && head[1] == 'K') {  // a zip archive: LibTorch's serialisation
    TrainingState state;
    try {
      state = load_checkpoint(path, nullptr, nullptr, torch::kCPU);
    } catch (const std::exception& e) {
      refuse(error_text(e));
    }
    torch::serialize::InputArchive archive;
    archive.load_from(path, torch::kCPU);
    for (const auto& key : archive.keys()) {
      if (!starts_with(key, "model.")) continue;
      torch::Tensor t;
      if (archive.try_read(key, t) || archive.try_read(key, t, /*is_buffer=*/true)) {
        file.tensors.insert(key.substr(6), t);
      }
    }
    for (const auto& [name, tensor] : state.extra) {
      if (name == "class_names") file.class_names = class_names_of(tensor);
    }
    file.kind = c10::str("c2fmae checkpoint (step ", state.step, ")");
    return file;
  }
  try {
    auto st = formats::read_safetensors(path);
    file.tensors = std::move(st.tensors);
  } catch (const formats::SafetensorsError& e) {
    refuse(std::string("not a c2fmae checkpoint, and not a valid safetensors file: ") + e.what());
  }
  file.kind = "safetensors";
  for (const auto& item : file.tensors) {
    if (item.value().is_floating_point() && !torch::isfinite(item.value()).all().item<bool>()) {
      refuse(item.key() + " holds NaN or infinite values");
    }
  }
  return file;
}

torch::Tensor class_names_tensor(const std::vector<std::string>& names) {
  // Each name as "<bytes>:<name>": a name may hold any byte, a newline included.
  std::string text;
  for (const auto& n : names) text += std::to_string(n.size()) + ":" + n;
  auto out = torch::empty({static_cast<int64_t>(text.size())}, torch::kUInt8);
  std::copy(text.begin(), text.end(), out.data_ptr<uint8_t>());
  return out;
}

std::vector<std::string> class_names_of(const torch::Tensor& stored) {
  if (!stored.defined() || stored.scalar_type() != torch::kUInt8 || stored.dim() != 1) return {};
  const auto bytes = stored.contiguous();
  const std::string text(reinterpret_cast<const char*>(bytes.data_ptr<uint8_t>()),
                         static_cast<size_t>(bytes.numel()));
  std::vector<std::string> names;
  for (size_t at = 0; at < text.size();) {
    const auto colon = text.find(':', at);
    if (colon == std::string::npos || colon == at || colon - at > 9 ||
        text.find_first_not_of("0123456789", at) != colon) {
      return {};  // damaged: no names rather than wrong ones
    }
    const auto size = static_cast<size_t>(std::stoull(text.substr(at, colon - at)));
    if (size > text.size() - colon - 1) return {};
    names.push_back(text.substr(colon + 1, size));
    at = colon + 1 + size;
  }
  return names;
}

void check_head_classes(const std::vector<std::string>& head, const std::string& checkpoint,
                        const std::vector<std::string>& dataset, const std::string& dataset_name) {
  if (head.empty() || dataset.empty()) return;
  for (size_t i = 0; i < std::max(head.size(), dataset.size()); ++i) {
    const std::string a = i < head.size() ? "'" + head[i] + "'" : "no class";
    const std::string b = i < dataset.size() ? "'" + dataset[i] + "'" : "no class";
    if (a == b) continue;
    throw UsageError(
        with_hint(c10::str("label ", i, " is class ", a, " in the head of ", checkpoint, " but ", b,
                           " in ", dataset_name, ": the head's outputs would mean other classes"),
                  "evaluate (or resume) the checkpoint on the classes it was trained on"));
  }
}

torch::Tensor rgb_modality_embedding(
    const torch::OrderedDict<std::string, torch::Tensor>& tensors) {
  const auto* embed = tensors.find("modality_embed");
  if (!embed || embed->dim() != 2 || embed->size(0) < 1) return {};
  int64_t adapters = 0;
  for (const char* adapter : {"semantic_adapter.", "instance_adapter."}) {
    for (const auto& item : tensors) {
      if (starts_with(item.key(), adapter)) {
        ++adapters;
        break;
      }
    }
  }
  if (embed->size(0) <= adapters) return {};  // rgb not enabled: nothing is added to it
  return (*embed)[embed->size(0) - 1];
}

torch::OrderedDict<std::string, torch::Tensor> fold_rgb_modality_embedding(
    const torch::OrderedDict<std::string, torch::Tensor>& tensors, const std::string& bias_name) {
  const auto offset = rgb_modality_embedding(tensors);
  const auto* bias = tensors.find(bias_name);
  if (!offset.defined() || !bias || bias->sizes() != offset.sizes()) return tensors;
  torch::OrderedDict<std::string, torch::Tensor> out;
  for (const auto& item : tensors) {
    if (item.key() == "modality_embed") continue;
    if (item.key() == bias_name) {
      out.insert(
          item.key(),
          (bias->to(torch::kFloat) + offset.to(torch::kFloat)).to(bias->dtype()).contiguous());
    } else {
      out.insert(item.key(), item.value());
    }
  }
  return out;
}

LoadReport load_weights(torch::nn::Module& module, const WeightsFile& given) {
  LoadReport report;
  WeightsFile file;
  file.path = given.path;
  file.kind = given.kind;
  file.tensors = given.tensors;
  if (!module.named_parameters().find("modality_embed") &&
      rgb_modality_embedding(given.tensors).defined()) {
    file.tensors = fold_rgb_modality_embedding(given.tensors);
    report.rgb_folded = true;
  }
  std::set<std::string> used;
  bool file_has_backbone = false;
  int64_t backbone_loaded = 0;
  std::vector<std::string> backbone_missing;
  std::map<std::string, std::string> left_reason;
  // Every tensor of the module: parameters, then buffers.
  std::vector<std::pair<std::string, torch::Tensor>> targets;
  std::set<std::string> parameter_names;
  for (const auto& p : module.named_parameters()) {
    targets.emplace_back(p.key(), p.value());
    parameter_names.insert(p.key());
  }
  for (const auto& b : module.named_buffers()) targets.emplace_back(b.key(), b.value());
  torch::NoGradGuard no_grad;
  for (auto& [name, target] : targets) {
    const bool backbone = starts_with(name, kBackbone);
    const torch::Tensor* found = nullptr;
    std::string source;
    for (const auto& candidate : {name, backbone ? name.substr(kBackbone.size()) : std::string()}) {
      if (candidate.empty()) continue;
      if (const auto* t = file.tensors.find(candidate)) {
        found = t;
        source = candidate;
        break;
      }
    }
    if (!found) {
      report.initialised.push_back(name);
      if (backbone && parameter_names.count(name)) backbone_missing.push_back(name);
      continue;
    }
    if (backbone) file_has_backbone = true;
    torch::Tensor value = *found;
    if (value.sizes() != target.sizes()) {
      const bool pos = name == kBackbone + "pos_embed" || name == "pos_embed";
      torch::Tensor resized;
      if (pos && value.dim() == 3 && target.dim() == 3 && value.size(2) == target.size(2)) {
        resized = resize_pos_embed(value, target.size(1));
      }
      if (resized.defined()) {
        value = resized;
        report.resized.push_back(name);
      } else if (is_head(name)) {
        left_reason[source] = c10::str("shape ", value.sizes(), ", the model's head has ",
                                       target.sizes(), " (initialised fresh)");
        report.initialised.push_back(name);
        continue;
      } else {
        throw UsageError(with_hint(
            c10::str("pretrained weights ", file.path, ": ", source, " has shape ", value.sizes(),
                     ", the model's ", name, " has ", target.sizes()),
            "the file holds another encoder: set model.preset (or embed_dim, depth, num_heads, "
            "patch_size) to the pre-trained model's"));
      }
    }
    // After the conversion: a float64 1e300 is finite, and infinite as the model's float32.
    if (target.is_floating_point() &&
        !torch::isfinite(value.to(target.dtype())).all().item<bool>()) {
      throw UsageError(with_hint(
          c10::str("pretrained weights ", file.path, ": ", source, " holds NaN or infinite values",
                   value.scalar_type() != target.scalar_type()
                       ? c10::str(" as the model's ", target.scalar_type())
                       : std::string()),
          "give weights of a run that did not diverge (an earlier checkpoint)"));
    }
    if (!value.is_floating_point() && target.is_floating_point()) {
      log::warn(c10::str("pretrained weights ", file.path, ": ", source, " is stored as ",
                         value.scalar_type(), ", not as floating point: converted to ",
                         target.scalar_type(), " (is this the file you meant?)"));
    }
    target.copy_(value.to(target.dtype()));
    used.insert(source);
    report.loaded.push_back(name);
    if (backbone) ++backbone_loaded;
  }
  for (const auto& item : file.tensors) {
    if (used.count(item.key())) continue;
    const auto it = left_reason.find(item.key());
    report.left_out.push_back(item.key() +
                              (it != left_reason.end() ? " (" + it->second + ")" : ""));
  }
  const bool model_has_backbone = std::any_of(targets.begin(), targets.end(), [](const auto& t) {
    return starts_with(t.first, kBackbone);
  });
  // Encoder tensors the model has no place for (a deeper encoder's blocks, LayerScale gammas,
  // register tokens): dropping them would silently compute another function than the file's.
  std::vector<std::string> extra;
  for (const auto& item : file.tensors) {
    if (used.count(item.key())) continue;
    const auto& n = item.key();
    const auto bare = starts_with(n, kBackbone) ? n.substr(kBackbone.size()) : n;
    if (starts_with(bare, "blocks.") || bare == "reg_token" || bare == "dist_token") {
      extra.push_back(n);
    }
  }
  if (model_has_backbone && !extra.empty()) {
    throw UsageError(with_hint("pretrained weights " + file.path + " hold encoder tensors the " +
                                   "model has no place for: " + folded(extra),
                               "the file holds another encoder (more blocks, LayerScale or "
                               "register tokens): set model.depth / model.preset to its shape"));
  }
  if (model_has_backbone && backbone_loaded == 0) {
    throw UsageError(with_hint("pretrained weights " + file.path + " (" + file.kind +
                                   "): none of its tensors is a ViT encoder's",
                               "give a c2fmae checkpoint or a timm-named ViT safetensors file"));
  }
  // A partly loaded encoder would train silently from a broken start. (pos_embed may be a
  // fixed buffer, rebuilt identically, and is not a parameter then.)
  if (file_has_backbone && !backbone_missing.empty()) {
    throw UsageError(with_hint(
        "pretrained weights " + file.path + " lack encoder tensors: " + folded(backbone_missing),
        "give the whole encoder (c2fmae_export writes one)"));
  }
  return report;
}

std::string LoadReport::text() const {
  std::string out = c10::str(loaded.size(), " tensors loaded");
  if (rgb_folded) out += " (modality_embed's rgb row folded into patch_embed.proj.bias)";
  if (!resized.empty()) out += c10::str(" (", folded(resized), " resized to the model's grid)");
  if (!initialised.empty()) {
    out += c10::str("; ", initialised.size(),
                    " not in the file, kept as initialised: ", folded(initialised));
  }
  if (!left_out.empty()) {
    out += c10::str("; ", left_out.size(), " of the file's left out: ", folded(left_out));
  }
  return out;
}

}  // namespace c2fmae::train
