// Stop signals during training: SIGINT (Ctrl-C), SIGTERM, SIGHUP (a closed terminal),
// SIGUSR1 / SIGUSR2 (Slurm's --signal, per cluster) and SIGQUIT all mean "stop cleanly".
// The first is only recorded (the loop finishes its current step, writes a checkpoint and
// returns); a second one acts as if no handler were installed (by default: ends the process
// at once, without a checkpoint).
#pragma once
#include <string>

namespace c2fmae::train {

/// Forgets any earlier signal and installs the handlers for the stop signals (a signal
/// already ignored stays ignored); SIGPIPE and SIGXFSZ are ignored until
/// remove_stop_handlers(). With `keep_pending`, an installation already in place (a
/// program's own, around its start-up) stays as it is, with any signal it recorded, and the
/// matching remove_stop_handlers() leaves it in place too.
void install_stop_handlers(bool keep_pending = false);
/// Restores the actions these signals had before install_stop_handlers().
void remove_stop_handlers();
/// The signal received since installation, or 0.
int stop_signal();
/// "SIGINT", "SIGTERM", ... for a stop signal, else "signal <n>".
std::string signal_name(int signo);
/// Forgets a received signal (tests).
void clear_stop_signal();
/// What the first signal prints (a static string; nullptr: the training loop's "stopping after
/// this step with a checkpoint ...").
void set_stop_message(const char* message);

/// The stop signals' handlers for a scope: install_stop_handlers(keep_pending) when made,
/// remove_stop_handlers() when gone. A program holds one around its start-up and run
/// (keep_pending = false); the run shell one around its loop (keep_pending = true: a signal
/// the program's guard recorded during start-up still stops the run).
class StopGuard {
 public:
  explicit StopGuard(bool keep_pending = false) { install_stop_handlers(keep_pending); }
  ~StopGuard() { remove_stop_handlers(); }
  StopGuard(const StopGuard&) = delete;
  StopGuard& operator=(const StopGuard&) = delete;
};

}  // namespace c2fmae::train
