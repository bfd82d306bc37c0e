#include "c2fmae/train/run_length.h"

#include <limits>

#include "c2fmae/optim/lr_schedule.h"

namespace c2fmae::train {

void check_run_length(const config::Origins& origins, const config::DataConfig& d,
                      const config::OptimConfig& o, const config::TrainConfig& train,
                      int64_t dataset_size, int64_t world) {
  config::Checker c(origins);
  const int64_t global_batch = d.batch_size * world;
  c.require(global_batch <= dataset_size, "data.batch_size", d.batch_size,
            world > 1 ? c10::str("x ", world, " processes is larger than the dataset's ",
                                 dataset_size, " samples")
                      : c10::str("larger than the dataset's ", dataset_size, " samples"),
            "lower data.batch_size");
  const int64_t micro_per_epoch = dataset_size / global_batch;
  c.require(o.accum_steps <= micro_per_epoch, "optim.accum_steps", o.accum_steps,
            c10::str("longer than an epoch of ", micro_per_epoch, " micro-batches"),
            "lower optim.accum_steps or data.batch_size");
  const int64_t per_epoch = micro_per_epoch / o.accum_steps;
  c.require(train.epochs <= std::numeric_limits<int64_t>::max() / 4 / per_epoch, "train.epochs",
            train.epochs,
            c10::str("gives more optimizer steps than can be counted (", per_epoch, " per epoch)"),
            "lower train.epochs");
  // The warm-up within the run and a given optim.lr above optim.min_lr are config rules
  // (config::check_schedule); a peak derived from blr is known only here.
  const double peak = optim::scaled_learning_rate(o.blr, o.lr, global_batch * o.accum_steps);
  c.require(o.lr > 0 || o.min_lr <= peak, "optim.min_lr", o.min_lr,
            c10::str("above the peak learning rate ", peak, " (optim.blr x effective batch / 256)"),
            "lower optim.min_lr (MAE: 0)");
}

}  // namespace c2fmae::train
