// How many bad samples (a broken image, a missing mask: skipped and replaced by the loader)
// a run tolerates: data.max_bad_fraction of those read, counted over every process.
#pragma once
#include <cstdint>

namespace c2fmae::train {

/// The run's bad samples against data.max_bad_fraction (counted over every process).
struct BadSampleBudget {
  double max_fraction = 0.01;
  int64_t dataset_size = 0;
  int64_t skipped = 0;  ///< bad samples so far (data_skipped in metrics)
  int64_t read = 0;     ///< samples read so far, bad ones included
  /// Adds a step's counts; throws std::runtime_error (on every process alike) once the bad
  /// fraction passes max_fraction, judged over at least min(1000, dataset size) samples so
  /// that one early bad file does not stop a run.
  void add(int64_t step_skipped, int64_t step_read);
};

}  // namespace c2fmae::train
