// SIGINT / SIGTERM handling for training: the first signal is only recorded (the loop
// finishes its current step, writes a checkpoint and returns); a second one acts as if no
// handler were installed (by default: ends the process at once, without a checkpoint).
#pragma once

namespace c2fmae::train {

/// Forgets any earlier signal and installs the handlers for SIGINT and SIGTERM (a signal
/// already ignored stays ignored); SIGPIPE is ignored until remove_stop_handlers().
void install_stop_handlers();
/// Restores the actions SIGINT, SIGTERM and SIGPIPE had before install_stop_handlers().
void remove_stop_handlers();
/// The signal received since installation, or 0.
int stop_signal();
/// Forgets a received signal (tests).
void clear_stop_signal();

}  // namespace c2fmae::train
