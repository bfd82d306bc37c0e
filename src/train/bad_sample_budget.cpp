#include "c2fmae/train/bad_sample_budget.h"

#include <c10/util/StringUtil.h>

#include <algorithm>
#include <stdexcept>

namespace c2fmae::train {

void BadSampleBudget::add(int64_t step_skipped, int64_t step_read) {
  skipped += step_skipped;
  read += step_read;
  const double judged = static_cast<double>(std::max(read, std::min<int64_t>(1000, dataset_size)));
  if (static_cast<double>(skipped) > max_fraction * judged) {
    throw std::runtime_error(c10::str(
        skipped, " of the ", read,
        " samples read so far were bad (skipped and replaced), more "
        "than data.max_bad_fraction = ",
        max_fraction,
        "; train.log names each bad file\nhint: "
        "repair or remove the bad files (or repack the shards), or raise "
        "data.max_bad_fraction; the run resumes from its last checkpoint with --resume auto"));
  }
}

}  // namespace c2fmae::train
