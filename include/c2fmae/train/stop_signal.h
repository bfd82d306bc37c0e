// SIGINT / SIGTERM handling for training: the handler only records the signal; the loop
// finishes its current step, writes a checkpoint and returns.
#pragma once

namespace c2fmae::train {

/// Installs handlers for SIGINT and SIGTERM (idempotent).
void install_stop_handlers();
/// The signal received since installation, or 0.
int stop_signal();
/// Forgets a received signal (tests).
void clear_stop_signal();

}  // namespace c2fmae::train
