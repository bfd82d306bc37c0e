// c2fmae_bench: images/s, step time, peak memory and model FLOPs utilisation of full
// pre-training steps (forward, backward, optimizer) of one or more configs, on
// device-resident batches: the data pipeline is left out.
//
//   c2fmae_bench --config A.yaml [--config B.yaml ...] [--set key=value ...]
//                [--batch N] [--device cpu|cuda] [--warmup 3] [--windows 5]
//                [--window-steps 10] [--batches 4] [--peak-tflops T]
//                [--profile DIR] [--profile-steps 10]
//
// Per config: the pre-training engine is built as c2fmae_pretrain builds it; its first
// --batches micro-batches (masked by the curriculum as in training, token indices attached)
// are moved to the device once and reused in turn; --warmup untimed steps, then --windows
// windows of --window-steps steps, each timed to a device synchronisation. It prints one
// JSON line: the median images/s over the windows (and min / max), the step time at the
// median, peak memory (CUDA: the caching allocator's peak allocated bytes over the timed
// steps; CPU: the process's peak resident set), the analytic FLOPs per step
// (models/flop_count.h) and, given --peak-tflops (the device's dense peak in the step's
// precision, e.g. 759 for the bf16 GEMM measured on the H100 of DESIGN.md §6), the MFU.
// --profile DIR: after the timed windows, --profile-steps more steps under LibTorch's Kineto
// profiler (CPU activities, and CUDA kernels on a GPU), saved as a Chrome trace
// DIR/<config file stem>.trace.json (chrome://tracing, Perfetto; scripts/gpu_check.sh sums
// its kernels). Argument parsing is by hand (no CLI11), so that it builds on the GPU host.
#include <c10/cuda/CUDACachingAllocator.h>
#include <sys/resource.h>
#include <torch/csrc/autograd/profiler_kineto.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "c2fmae/config/pretrain_config.h"
#include "c2fmae/core/error_text.h"
#include "c2fmae/core/number_text.h"
#include "c2fmae/core/usage_error.h"
#include "c2fmae/models/flop_count.h"
#include "c2fmae/train/pretrain_engine.h"
#include "program/guarded_main.h"

namespace {

using namespace c2fmae;

struct Options {
  std::vector<std::string> configs, sets;
  int64_t batch = 0, warmup = 3, windows = 5, window_steps = 10, batches = 4;
  std::string device, profile;
  int64_t profile_steps = 10;
  double peak_tflops = 0.0;
};

constexpr const char* kUsage =
    "usage: c2fmae_bench --config FILE.yaml [--config ...] [--set key=value ...] [--batch N]\n"
    "       [--device cpu|cuda] [--warmup 3] [--windows 5] [--window-steps 10] [--batches 4]\n"
    "       [--peak-tflops T] [--profile DIR] [--profile-steps 10]\n";

/// Parses the arguments; throws UsageError naming the bad one.
Options parse(int argc, char** argv) {
  Options o;
  auto whole = [](const std::string& flag, const std::string& text, int64_t lo, int64_t hi) {
    const auto v = parse_number(text);
    if (!v || *v != static_cast<double>(static_cast<int64_t>(*v)) || *v < lo || *v > hi) {
      throw UsageError(with_hint(flag + " " + text + ": not a whole number in [" +
                                     std::to_string(lo) + ", " + std::to_string(hi) + "]",
                                 std::string(kUsage)));
    }
    return static_cast<int64_t>(*v);
  };
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::cout << kUsage;
      std::exit(0);
    }
    if (i + 1 >= argc) throw UsageError(with_hint(flag + " needs a value", kUsage));
    const std::string value = argv[++i];
    if (flag == "--config" || flag == "-c") {
      o.configs.push_back(value);
    } else if (flag == "--set" || flag == "-s") {
      o.sets.push_back(value);
    } else if (flag == "--batch") {
      o.batch = whole(flag, value, 1, 1 << 20);
    } else if (flag == "--device") {
      o.device = value;
    } else if (flag == "--warmup") {
      o.warmup = whole(flag, value, 0, 100000);
    } else if (flag == "--windows") {
      o.windows = whole(flag, value, 1, 10000);
    } else if (flag == "--window-steps") {
      o.window_steps = whole(flag, value, 1, 100000);
    } else if (flag == "--batches") {
      o.batches = whole(flag, value, 1, 1024);
    } else if (flag == "--profile") {
      if (value.empty()) throw UsageError(with_hint("--profile is empty", kUsage));
      o.profile = value;
    } else if (flag == "--profile-steps") {
      o.profile_steps = whole(flag, value, 1, 10000);
    } else if (flag == "--peak-tflops") {
      const auto v = parse_number(value);
      if (!v || !(*v > 0.0) || *v > 1e7) {
        throw UsageError(with_hint("--peak-tflops " + value + ": not a positive number",
                                   "the device's dense peak, e.g. --peak-tflops 759"));
      }
      o.peak_tflops = *v;
    } else {
      throw UsageError(with_hint("unknown argument " + flag, kUsage));
    }
  }
  if (o.configs.empty()) throw UsageError(with_hint("--config is missing", kUsage));
  return o;
}

void synchronize(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index() < 0 ? 0 : device.index());
}

/// Benchmarks one config; prints its JSON line.
void bench(const std::string& path, const Options& o) {
  auto sets = o.sets;
  sets.push_back("log.progress=false");
  sets.push_back("log.level=warn");
  if (o.batch > 0) {
    sets.push_back("data.batch_size=" + std::to_string(o.batch));
    sets.push_back("optim.accum_steps=1");
  }
  if (!o.device.empty()) sets.push_back("train.device=" + o.device);
  auto cfg = config::load_config<config::PretrainConfig>({path}, sets);
  // Enough samples and epochs for the micro-batches and the steps (the lr schedule's
  // length does not change the step's work).
  const int64_t steps = o.warmup + o.windows * o.window_steps;
  cfg.data.synthetic_samples = std::max<int64_t>(
      cfg.data.synthetic_samples, cfg.data.batch_size * cfg.optim.accum_steps * o.batches);
  cfg.train.epochs = std::max<int64_t>(cfg.train.epochs, steps);  // >= 1 step per epoch
  cfg.train.max_steps = 0;
  train::PretrainEngine sized(cfg);
  const auto device = sized.device();
  const auto batches = sized.device_batches(o.batches * cfg.optim.accum_steps);
  int64_t step = 0;
  for (; step < o.warmup; ++step) sized.train_step(step, batches);
  synchronize(device);
  if (device.is_cuda())
    c10::cuda::CUDACachingAllocator::resetPeakStats(device.index() < 0 ? 0 : device.index());
  std::vector<double> rates;
  double loss = 0.0;
  for (int64_t w = 0; w < o.windows; ++w) {
    const auto start = std::chrono::steady_clock::now();
    for (int64_t s = 0; s < o.window_steps; ++s, ++step)
      loss = sized.train_step(step, batches).loss;
    synchronize(device);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    rates.push_back(static_cast<double>(sized.samples_per_step() * o.window_steps) / seconds);
  }
  if (!o.profile.empty()) {
    // Kineto: CPU operators, and the kernels on a GPU.
    namespace profiler = torch::autograd::profiler;
    using torch::profiler::impl::ActivityType;
    const profiler::ProfilerConfig config(profiler::ProfilerState::KINETO);
    std::set<ActivityType> activities = {ActivityType::CPU};
    if (device.is_cuda()) activities.insert(ActivityType::CUDA);
    profiler::prepareProfiler(config, activities);
    profiler::enableProfiler(config, activities);
    for (int64_t s = 0; s < o.profile_steps; ++s, ++step) sized.train_step(step, batches);
    synchronize(device);
    const auto result = profiler::disableProfiler();
    std::filesystem::create_directories(o.profile);
    result->save((std::filesystem::path(o.profile) /
                  (std::filesystem::path(path).stem().string() + ".trace.json"))
                     .string());
  }
  std::sort(rates.begin(), rates.end());
  const double median = rates[rates.size() / 2];
  double peak_mib = 0.0;
  if (device.is_cuda()) {
    const auto stats =
        c10::cuda::CUDACachingAllocator::getDeviceStats(device.index() < 0 ? 0 : device.index());
    peak_mib = static_cast<double>(stats.allocated_bytes[0].peak) / (1 << 20);
  } else {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    peak_mib = static_cast<double>(usage.ru_maxrss) / 1024.0;
  }
  const auto flops = models::pretrain_flops(cfg.model, cfg.masking.num_visible);
  const double step_flops = flops.step(sized.samples_per_step());
  const double step_s = static_cast<double>(sized.samples_per_step()) / median;
  std::cout << "{\"config\": \"" << path << "\", \"device\": \"" << device
            << "\", \"precision\": \""
            << (device.is_cuda() ? cfg.train.precision.name() : std::string("fp32"))
            << "\", \"batch\": " << sized.samples_per_step() << ", \"windows\": " << o.windows
            << ", \"window_steps\": " << o.window_steps << ", \"images_per_s\": " << median
            << ", \"images_per_s_min\": " << rates.front()
            << ", \"images_per_s_max\": " << rates.back() << ", \"step_ms\": " << 1000.0 * step_s
            << ", \"peak_memory_mib\": " << peak_mib << ", \"peak_memory_kind\": \""
            << (device.is_cuda() ? "cuda_allocated" : "cpu_rss")
            << "\", \"gflops_per_image\": " << flops.step(1) / 1e9
            << ", \"tflops_per_s\": " << step_flops / step_s / 1e12;
  if (o.peak_tflops > 0) std::cout << ", \"mfu\": " << step_flops / step_s / 1e12 / o.peak_tflops;
  std::cout << ", \"last_loss\": " << loss << "}" << std::endl;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace c2fmae;
  return program::guarded_main("c2fmae_bench", [&] {
    const auto o = parse(argc, argv);
    for (const auto& path : o.configs) bench(path, o);
    return 0;
  });
}
