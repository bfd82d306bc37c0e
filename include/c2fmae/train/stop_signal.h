// SIGINT / SIGTERM handling for training: the first signal is only recorded (the loop
// finishes its current step, writes a checkpoint and returns); a second one ends the
// process at once, without a checkpoint, as if no handler were installed.
#pragma once

namespace c2fmae::train {

/// Forgets any earlier signal and installs the handlers for SIGINT and SIGTERM.
void install_stop_handlers();
/// Restores the default actions of SIGINT and SIGTERM.
void remove_stop_handlers();
/// The signal received since installation, or 0.
int stop_signal();
/// Forgets a received signal (tests).
void clear_stop_signal();

}  // namespace c2fmae::train
