#include "c2fmae/train/checkpoint.h"

#include <fcntl.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "c2fmae/core/atomic_file.h"
#include "c2fmae/core/error_text.h"
#include "c2fmae/core/file_writer.h"
#include "c2fmae/core/input_file.h"
#include "c2fmae/core/log.h"
#include "c2fmae/formats/zip_checksums.h"
#include "c2fmae/train/run_directory.h"

namespace c2fmae::train {
namespace fs = std::filesystem;
namespace {

torch::Tensor scalar(int64_t v) { return torch::tensor(v, torch::kLong); }

}  // namespace

void save_checkpoint(const std::string& path, torch::nn::Module& model,
                     const optim::AdamW& optimizer, const TrainingState& state) {
  torch::serialize::OutputArchive archive;
  for (const auto& p : model.named_parameters())
    archive.write("model." + p.key(), p.value().detach().cpu());
  for (const auto& b : model.named_buffers())
    archive.write("model." + b.key(), b.value().cpu(), true);
  optimizer.save(archive);
  archive.write("state.step", scalar(state.step));
  archive.write("state.nonfinite_total", scalar(state.nonfinite_total));
  if (state.nonfinite_replayed > 0) {
    archive.write("state.nonfinite_replayed", scalar(state.nonfinite_replayed));
  }
  archive.write("state.config", c10::IValue(state.config_yaml));
  if (!std::isnan(state.best_score)) {
    archive.write("state.best_score", torch::tensor(state.best_score, torch::kDouble));
    archive.write("state.best_step", scalar(state.best_step));
  }
  if (!state.counters.empty()) {
    // Names and values as two parallel entries: the archive stores tensors and strings.
    std::string names;
    std::vector<int64_t> values;
    for (const auto& [name, value] : state.counters) {
      names += (names.empty() ? "" : "\n") + name;
      values.push_back(value);
    }
    archive.write("state.counter_names", c10::IValue(names));
    archive.write("state.counter_values", torch::tensor(values, torch::kLong));
  }
  if (!state.extra.empty()) {
    std::string names;
    for (const auto& [name, tensor] : state.extra) {
      names += (names.empty() ? "" : "\n") + name;
      archive.write("extra." + name, tensor.detach().cpu());
    }
    archive.write("state.extra_names", c10::IValue(names));
  }
  archive.write("rng.cpu", torch::globalContext().defaultGenerator(torch::kCPU).get_state());
  if (torch::cuda::is_available()) {
    archive.write("rng.cuda", torch::globalContext().defaultGenerator(torch::kCUDA).get_state());
  }
  write_file_atomically(path, [&](const std::string& tmp) {
    // LibTorch's own file writer throws from a destructor when a write fails (a full disk
    // ends in std::terminate), so the bytes go through our writer: it records the first
    // failure and reports success to LibTorch, and close() raises it once save_to is done.
    FileWriter out(tmp);
    archive.save_to([&](const void* data, size_t size) -> size_t {
      out.try_write(data, size);
      return size;
    });
    out.close();
  });
}

TrainingState load_checkpoint(const std::string& path, torch::nn::Module* model,
                              optim::AdamW* optimizer, const torch::Device& device,
                              const std::function<void(const TrainingState&)>& check) {
  if (const auto problem = input_file_problem(path); !problem.empty()) {
    const bool access = problem.rfind("cannot be read", 0) == 0;
    const auto text = "checkpoint " + path + " " + problem;
    if (access) throw CheckpointAccessError(text);
    throw std::runtime_error(text);
  }
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path, torch::kCPU);  // a GPU run's checkpoint loads on any machine
  } catch (const std::exception&) {
    // LibTorch's reason (a zip reader's or unpickler's wording) says nothing a user can act on.
    throw std::runtime_error("checkpoint " + path +
                             " is not a readable archive (truncated, corrupt, or not written by "
                             "c2fmae)");
  }
  // LibTorch's reader skips the archive's CRCs: a flipped bit would load as a wrong weight.
  try {
    formats::verify_zip_checksums(path);
  } catch (const formats::FormatError& e) {
    throw std::runtime_error("checkpoint " + path + " is corrupt: " + e.what() +
                             " (its bytes are not the ones written)");
  } catch (const formats::FileError& e) {
    throw CheckpointAccessError(e.what());
  }
  // Training never saves a non-finite weight or moment (such steps are skipped): a checkpoint
  // that holds one is damaged, and --resume auto goes back past it like a corrupt one.
  for (const auto& key : archive.keys()) {
    // The weights, and the optimizer's moments (a NaN there makes the first update NaN).
    if (key.rfind("model.", 0) != 0 && key.rfind("optim", 0) != 0) continue;
    torch::Tensor t;
    if (!archive.try_read(key, t) && !archive.try_read(key, t, /*is_buffer=*/true)) continue;
    if (t.is_floating_point() && !torch::isfinite(t).all().item<bool>()) {
      throw std::runtime_error("checkpoint " + path + " holds NaN or infinite values in " + key +
                               " (training never saves them: the file is damaged)");
    }
  }
  auto read_int = [&](const char* key) {
    torch::Tensor t;
    if (!archive.try_read(key, t)) {
      throw std::runtime_error("checkpoint " + path + " is not a c2fmae checkpoint (it lacks " +
                               key + ")");
    }
    return t.item<int64_t>();
  };
  TrainingState state;
  state.step = read_int("state.step");
  state.nonfinite_total = read_int("state.nonfinite_total");
  if (torch::Tensor replayed; archive.try_read("state.nonfinite_replayed", replayed)) {
    state.nonfinite_replayed =
        std::clamp<int64_t>(replayed.item<int64_t>(), 0, state.nonfinite_total);
  }
  c10::IValue config;
  if (archive.try_read("state.config", config)) state.config_yaml = config.toStringRef();
  torch::Tensor best_score, best_step;
  if (archive.try_read("state.best_score", best_score) &&
      archive.try_read("state.best_step", best_step)) {
    state.best_score = best_score.item<double>();
    state.best_step = best_step.item<int64_t>();
  }
  c10::IValue counter_names;
  torch::Tensor counter_values;
  if (archive.try_read("state.counter_names", counter_names) &&
      archive.try_read("state.counter_values", counter_values)) {
    std::vector<std::string> names;
    std::stringstream text(counter_names.toStringRef());
    for (std::string name; std::getline(text, name);) names.push_back(name);
    counter_values = counter_values.to(torch::kLong).contiguous();
    if (counter_values.dim() != 1 || counter_values.numel() != static_cast<int64_t>(names.size())) {
      throw std::runtime_error("checkpoint " + path + " has a damaged counter list");
    }
    for (size_t i = 0; i < names.size(); ++i) {
      state.counters[names[i]] = counter_values[static_cast<int64_t>(i)].item<int64_t>();
    }
  }
  c10::IValue extra_names;
  if (archive.try_read("state.extra_names", extra_names)) {
    std::stringstream text(extra_names.toStringRef());
    for (std::string name; std::getline(text, name);) {
      torch::Tensor t;
      if (!archive.try_read("extra." + name, t)) {
        throw std::runtime_error("checkpoint " + path + " lacks its entry extra." + name);
      }
      state.extra.emplace_back(name, t);
    }
  }
  if (check) check(state);
  if (model) {
    torch::NoGradGuard no_grad;
    for (auto& p : model->named_parameters()) {
      torch::Tensor t;
      if (!archive.try_read("model." + p.key(), t)) {
        throw std::runtime_error("checkpoint " + path + " lacks parameter " + p.key());
      }
      if (t.sizes() != p.value().sizes()) {
        throw std::runtime_error("checkpoint " + path + ": parameter " + p.key() + " has shape " +
                                 c10::str(t.sizes()) + ", the model " +
                                 c10::str(p.value().sizes()) +
                                 "\nhint: resume with the model config the run started with");
      }
      p.value().copy_(t);
    }
    for (auto& b : model->named_buffers()) {
      torch::Tensor t;
      if (archive.try_read("model." + b.key(), t, true) && t.sizes() == b.value().sizes())
        b.value().copy_(t);
    }
  }
  if (optimizer) optimizer->load(archive);
  if (!model) return state;  // validation only: leave the process's RNG alone
  torch::Tensor rng;
  auto restore = [&](c10::DeviceType type) {
    at::Generator gen = torch::globalContext().defaultGenerator(type);  // a handle to the global
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(rng);
  };
  if (archive.try_read("rng.cpu", rng)) restore(torch::kCPU);
  if (device.is_cuda() && archive.try_read("rng.cuda", rng)) restore(torch::kCUDA);
  return state;
}

CheckpointManager::CheckpointManager(std::string directory, int64_t keep_last)
    : directory_(std::move(directory)), keep_last_(keep_last) {}

std::string CheckpointManager::save(torch::nn::Module& model, const optim::AdamW& optimizer,
                                    const TrainingState& state) {
  const auto name = checkpoint_name(state.step);
  const auto path = (fs::path(directory_) / name).string();
  save_checkpoint(path, model, optimizer, state);
  // latest.pt -> newest, replaced atomically.
  replace_symlink((fs::path(directory_) / "latest.pt").string(), name);
  // Keep the file just written and the keep_last - 1 of highest step below it. Files of a
  // higher step were left by a run resumed from an earlier checkpoint (or, after a
  // non-finite stop, hold the same weights at a later data position): latest.pt no longer
  // points at them, and they are never removed automatically.
  int64_t kept = 1;
  for (const auto& other : list()) {  // highest step first
    const auto other_name = fs::path(other).filename().string();
    if (other_name >= name) continue;  // itself, or a higher step
    if (kept++ < keep_last_) continue;
    fs::remove(other);
  }
  return path;
}

std::vector<std::string> CheckpointManager::list() const {
  std::vector<std::string> out;
  std::error_code list_ec;
  if (!fs::is_directory(directory_, list_ec)) return out;
  for (const auto& e : fs::directory_iterator(directory_, list_ec)) {
    const auto name = e.path().filename().string();
    std::error_code ec;  // a link loop or broken link is no checkpoint to list
    if (e.is_regular_file(ec) && is_run_file(name) && name.rfind("checkpoint-", 0) == 0) {
      out.push_back(e.path().string());
    }
  }
  std::sort(out.rbegin(), out.rend());  // zero-padded steps: newest first
  return out;
}

std::optional<std::string> CheckpointManager::latest() const {
  const auto link = fs::path(directory_) / "latest.pt";
  std::error_code ec;
  if (!fs::is_symlink(link, ec)) return std::nullopt;
  const auto target = fs::read_symlink(link, ec);
  if (ec) return std::nullopt;
  const auto path = (fs::path(directory_) / target).string();  // an absolute target stays
  if (!fs::exists(path, ec) || ec) return std::nullopt;        // gone, or a link loop
  return path;
}

CheckpointSearch CheckpointManager::search() const {
  CheckpointSearch out;
  auto candidates = list();
  if (const auto newest = latest()) {
    // latest.pt first: the checkpoint written last, whatever its step.
    candidates.erase(std::remove(candidates.begin(), candidates.end(), *newest), candidates.end());
    candidates.insert(candidates.begin(), *newest);
  }
  for (const auto& path : candidates) {
    try {
      load_checkpoint(path, nullptr, nullptr, torch::kCPU);
      out.path = path;
      return out;
    } catch (const CheckpointAccessError& e) {
      out.failures.push_back(e.what());
      out.unreadable = true;
    } catch (const std::exception& e) {
      out.failures.push_back(error_text(e));
    }
  }
  return out;
}

std::optional<std::string> CheckpointManager::newest_valid() const {
  const auto found = search();
  for (const auto& f : found.failures) log::warn("skipping checkpoint: " + f);
  return found.path;
}

}  // namespace c2fmae::train
