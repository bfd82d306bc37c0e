#include "c2fmae/train/memory_budget.h"

#include <c10/cuda/CUDACachingAllocator.h>  // cudaMemGetInfo
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "c2fmae/core/log.h"
#include "c2fmae/core/modality.h"
#include "c2fmae/core/usage_error.h"
#include "c2fmae/models/memory_estimate.h"
#include "c2fmae/models/vit_presets.h"

namespace c2fmae::train {
namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
// LibTorch's libraries, the threads' stacks and allocator caches of an idle process (about
// 0.4 GiB measured here), and a CUDA context with cuBLAS / cuDNN workspaces (about 0.6 GiB).
constexpr double kHostRuntime = 0.4 * kGiB;
constexpr double kCudaContext = 0.6 * kGiB;

std::string gib(double bytes) {
  std::ostringstream os;
  os.precision(bytes < 10 * kGiB ? 2 : 3);
  os << bytes / kGiB << " GiB";
  return os.str();
}

// One micro-batch of the loader: float RGB, int64 label maps at img_size / 4, the label.
double batch_bytes(const config::DataConfig& data, int64_t img_size, bool maps) {
  const double s = static_cast<double>(img_size), l = s / kLabelDownsample;
  return static_cast<double>(data.batch_size) * (3 * s * s * 4 + (maps ? 2 * l * l * 8 : 0) + 8);
}

void add_common(MemoryEstimate& e, const models::ModelMemory& m, double ema_values,
                const config::DataConfig& data, const std::string& model_keys,
                const std::string& activation_keys, double loader_bytes, bool cuda) {
  e.parts.push_back({"weights, gradients and AdamW state",
                     4.0 * static_cast<double>(m.parameters) +
                         12.0 * static_cast<double>(m.trained) + 4.0 * ema_values,
                     model_keys, cuda});
  e.parts.push_back({"activations", static_cast<double>(data.batch_size) * m.activations_per_sample,
                     activation_keys, cuda});
  e.parts.push_back(
      {"loader buffers", loader_bytes, "data.prefetch, data.batch_size, model.img_size", false});
  e.parts.push_back({"runtime", kHostRuntime, "", false});
  if (cuda) e.parts.push_back({"CUDA context", kCudaContext, "", true});
}

// /proc/meminfo's field in bytes, or 0.
double meminfo(const std::string& field) {
  std::ifstream in("/proc/meminfo");
  std::string name;
  double kib = 0;
  std::string unit;
  while (in >> name >> kib) {
    std::getline(in, unit);
    if (name == field + ":") return kib * 1024.0;
  }
  return 0;
}

// The cgroup's memory limit in bytes, or 0 when there is none (v2 "max", v1's huge value).
double cgroup_limit() {
  for (const char* path :
       {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}) {
    std::ifstream in(path);
    std::string text;
    if (!(in >> text) || text == "max") continue;
    try {
      const double limit = std::stod(text);
      if (limit > 0 && limit < 1e18) return limit;
    } catch (const std::exception&) {
    }
  }
  return 0;
}

// The largest part that `on_device` (or the host's parts) hold, for the hint.
const MemoryEstimate::Part* largest(const MemoryEstimate& e, bool on_device) {
  const MemoryEstimate::Part* out = nullptr;
  for (const auto& p : e.parts) {
    if (p.on_device == on_device && !p.keys.empty() && (!out || p.bytes > out->bytes)) out = &p;
  }
  return out;
}

std::string parts_text(const MemoryEstimate& e, bool on_device, double times) {
  std::string text;
  for (const auto& p : e.parts) {
    if (p.on_device != on_device) continue;
    text += (text.empty() ? "" : ", ") + p.name + " " + gib(p.bytes * times);
  }
  return text;
}

}  // namespace

double MemoryEstimate::device_bytes() const {
  double total = 0;
  for (const auto& p : parts) total += p.on_device ? p.bytes : 0;
  return total;
}

double MemoryEstimate::host_bytes() const {
  double total = 0;
  for (const auto& p : parts) total += p.on_device ? 0 : p.bytes;
  return total * static_cast<double>(processes_on_host);
}

std::string MemoryEstimate::describe() const {
  const double times = static_cast<double>(processes_on_host);
  std::string text;
  if (device_bytes() > 0)
    text = "GPU " + gib(device_bytes()) + " (" + parts_text(*this, true, 1) + "); ";
  text += (device_bytes() > 0 ? "host " : "") + gib(host_bytes()) + " (" +
          parts_text(*this, false, times) +
          (processes_on_host > 1 ? c10::str(", for ", processes_on_host, " processes") : "") + ")";
  return text;
}

MemoryEstimate estimate_pretrain_memory(const config::PretrainConfig& cfg,
                                        const torch::Device& device, bool autocast,
                                        bool ema_encoder, int64_t processes_on_host) {
  MemoryEstimate e;
  e.processes_on_host = std::max<int64_t>(1, processes_on_host);
  const auto m = models::pretrain_memory(cfg.model, cfg.masking.num_visible, autocast ? 2.0 : 4.0,
                                         cfg.train.activation_checkpointing);
  const auto shape = models::encoder_shape(cfg.model);
  const double encoder_values = static_cast<double>(shape.depth) * 12.0 *
                                static_cast<double>(shape.embed_dim * shape.embed_dim);
  const bool maps = cfg.model.has(Modality::kSemantic) || cfg.model.has(Modality::kInstance);
  add_common(
      e, m, ema_encoder ? encoder_values : 0.0, cfg.data,
      "model.preset (embed_dim, depth), model.decoder_dim, model.decoder_depth",
      "data.batch_size, model.img_size / model.patch_size (tokens), masking.num_visible, "
      "model.preset",
      static_cast<double>(cfg.data.prefetch + 2) * batch_bytes(cfg.data, cfg.model.img_size, maps),
      device.is_cuda());
  return e;
}

MemoryEstimate estimate_finetune_memory(const config::FinetuneConfig& cfg, int64_t num_classes,
                                        const torch::Device& device, bool autocast, int64_t loaders,
                                        int64_t feature_rows, int64_t processes_on_host) {
  MemoryEstimate e;
  e.processes_on_host = std::max<int64_t>(1, processes_on_host);
  const bool trains_encoder = cfg.finetune.mode == config::FinetuneMode::kFinetune;
  auto m = models::classifier_memory(cfg.model, num_classes, trains_encoder, autocast ? 2.0 : 4.0,
                                     cfg.train.activation_checkpointing);
  add_common(e, m, 0.0, cfg.data, "model.preset (embed_dim, depth), model.num_classes",
             "data.batch_size, model.img_size / model.patch_size (tokens), model.preset",
             static_cast<double>(loaders) * static_cast<double>(cfg.data.prefetch + 2) *
                 batch_bytes(cfg.data, cfg.model.img_size, false),
             device.is_cuda());
  if (feature_rows > 0) {
    const auto width = models::encoder_shape(cfg.model.encoder()).embed_dim;
    e.parts.push_back({"encoder features",
                       static_cast<double>(feature_rows) * static_cast<double>(width + 1) * 4.0,
                       "data.split's and finetune.val_split's sizes (data.synthetic_samples, "
                       "finetune.synthetic_val_samples), model.img_size",
                       false});
  }
  return e;
}

double host_memory_limit() {
  const double total = meminfo("MemTotal");
  const double limit = cgroup_limit();
  return limit > 0 && (total == 0 || limit < total) ? limit : total;
}

void check_memory_budget(const MemoryEstimate& estimate, const torch::Device& device, bool check) {
  auto over = [&](const std::string& what, double needed, double have, bool on_device,
                  bool refuse) {
    const auto* part = largest(estimate, on_device);
    const std::string text =
        "the run needs about " + gib(needed) + " of " + what + ", more than the " + gib(have) +
        (refuse ? (on_device ? " the GPU has" : " this machine has") : " free now") + ": " +
        parts_text(estimate, on_device,
                   on_device ? 1 : static_cast<double>(estimate.processes_on_host)) +
        (!on_device && estimate.processes_on_host > 1
             ? c10::str(" (", estimate.processes_on_host, " processes on this host)")
             : std::string());
    const std::string hint = (part ? "lower " + part->keys + " (the " + part->name + ")" : "") +
                             "; train.memory_check=false runs it anyway";
    if (refuse && check) throw UsageError(with_hint(text, hint));
    log::warn(text + (refuse ? " (train.memory_check is false: running anyway)" : ""));
  };
  const double host = estimate.host_bytes();
  const double host_limit = host_memory_limit();
  if (host_limit > 0 && host > host_limit) {
    over("host memory", host, host_limit, false, true);
  } else if (const double available = meminfo("MemAvailable"); available > 0 && host > available) {
    over("host memory", host, available, false, false);
  }
  if (device.is_cuda()) {
    size_t free = 0, total = 0;
    if (cudaMemGetInfo(&free, &total) == cudaSuccess) {
      const double need = estimate.device_bytes();
      if (need > static_cast<double>(total)) {
        over("GPU memory", need, static_cast<double>(total), true, true);
      } else if (need > static_cast<double>(free)) {
        over("GPU memory", need, static_cast<double>(free), true, false);
      }
    }
  }
}

}  // namespace c2fmae::train
