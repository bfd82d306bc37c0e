// c2fmae_bench_step: times the pre-training step of a config, without a run directory.
//
//   c2fmae_bench_step --config FILE.yaml [--set key=value ...] [--steps 10] [--warmup 2]
//
// Builds the PretrainEngine exactly as c2fmae_pretrain does, runs `warmup` untimed steps,
// then `steps` timed ones, and prints one JSON line: mean, median and min seconds per
// optimizer step, the share of the step spent waiting for the loader's batches (what the
// data pipeline did not hide), samples per second, and peak resident memory (ru_maxrss,
// which includes building the model and the data). A benchmark, not a test: run it on an
// idle machine and say which machine the figures come from.
#include <sys/resource.h>

#include <algorithm>
#include <iostream>
#include <numeric>

#include "c2fmae/config/pretrain_config.h"
#include "c2fmae/core/error_text.h"
#include "c2fmae/core/usage_error.h"
#include "c2fmae/train/pretrain_engine.h"
#include "program/arguments.h"
#include "program/guarded_main.h"

int main(int argc, char** argv) {
  using namespace c2fmae;
  return program::guarded_main("c2fmae_bench_step", [&]() -> int {
    program::Arguments app("c2fmae_bench_step: seconds per pre-training step and peak memory");
    std::vector<std::string> files, sets;
    int64_t steps = 10, warmup = 2;
    app.option("--config,-c", files, "YAML config file; later files override earlier ones")
        .required();
    app.option("--set,-s", sets, "override one key: section.key=value (YAML value)");
    app.option("--steps", steps, "timed optimizer steps").range(1, 100000);
    app.option("--warmup", warmup, "untimed steps first").range(0, 100000);
    if (const auto code = app.parse(argc, argv)) return *code;
    auto cfg = config::load_config<config::PretrainConfig>(files, sets);
    cfg.log.progress = false;
    train::PretrainEngine engine(cfg);
    if (warmup + steps > engine.total_steps()) {
      std::cerr << "c2fmae_bench_step: " << warmup + steps << " steps do not fit the run's "
                << engine.total_steps()
                << "\nhint: raise train.epochs, or lower --steps or "
                   "--warmup\n";
      return 2;
    }
    std::vector<double> seconds;
    double loss = 0, data_wait = 0;
    for (int64_t s = 0; s < warmup + steps; ++s) {
      const auto stats = engine.train_step(s);
      if (s >= warmup) seconds.push_back(stats.seconds), data_wait += stats.data_wait_seconds;
      loss = stats.loss;
    }
    auto sorted = seconds;
    std::sort(sorted.begin(), sorted.end());
    const double mean = std::accumulate(seconds.begin(), seconds.end(), 0.0) / seconds.size();
    const size_t half = sorted.size() / 2;
    const double median = sorted.size() % 2 ? sorted[half] : (sorted[half - 1] + sorted[half]) / 2;
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    std::cout << "{\"steps\": " << steps << ", \"samples_per_step\": " << engine.samples_per_step()
              << ", \"step_s_mean\": " << mean << ", \"step_s_median\": " << median
              << ", \"step_s_min\": " << sorted.front() << ", \"data_wait_share\": "
              << data_wait / std::accumulate(seconds.begin(), seconds.end(), 0.0)
              << ", \"samples_per_s\": " << engine.samples_per_step() / median
              << ", \"peak_rss_mib\": " << usage.ru_maxrss / 1024.0 << ", \"last_loss\": " << loss
              << "}" << std::endl;
    return 0;
  });
}
