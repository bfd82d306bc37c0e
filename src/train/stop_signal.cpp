#include "c2fmae/train/stop_signal.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>

namespace c2fmae::train {
namespace {

std::atomic<int> g_signal{0};
static_assert(std::atomic<int>::is_always_lock_free, "a signal handler needs a lock-free atomic");

constexpr int kStopSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, SIGQUIT};
constexpr int kNumStop = sizeof kStopSignals / sizeof kStopSignals[0];
// Ignored meanwhile: SIGPIPE (after Ctrl-C on `c2fmae_pretrain ... | tee log`, tee is gone
// and a write to the dead pipe must not kill the run before its checkpoint) and SIGXFSZ (a
// file-size limit makes the write fail with EFBIG, reported like a full disk).
constexpr int kIgnored[] = {SIGPIPE, SIGXFSZ};
constexpr int kNumIgnored = sizeof kIgnored / sizeof kIgnored[0];
// The dispositions found at installation, restored after the first signal and on removal.
struct sigaction g_previous[kNumStop];
struct sigaction g_previous_ignored[kNumIgnored];
bool g_installed = false;
constexpr const char* kTrainingMessage =
    "\nc2fmae: stopping after this step with a checkpoint; signal again to abort without one\n";
std::atomic<const char*> g_message{kTrainingMessage};
int g_kept = 0;  // installations with keep_pending that found one in place

void restore_previous() {
  for (int i = 0; i < kNumStop; ++i) sigaction(kStopSignals[i], &g_previous[i], nullptr);
}

extern "C" void record_signal(int signo) {
  const int saved_errno = errno;
  g_signal.store(signo);
  restore_previous();  // a second signal acts as if no handler were installed (sigaction and
                       // write are async-signal-safe)
  const char* message = g_message.load();
  const ssize_t ignored = ::write(STDERR_FILENO, message, std::strlen(message));
  (void)ignored;
  errno = saved_errno;
}

}  // namespace

void install_stop_handlers(bool keep_pending) {
  if (keep_pending && g_installed) {
    ++g_kept;
    return;
  }
  if (g_installed) remove_stop_handlers();
  g_signal.store(0);
  struct sigaction action {};
  sigemptyset(&action.sa_mask);
  action.sa_handler = SIG_IGN;
  for (int i = 0; i < kNumIgnored; ++i) sigaction(kIgnored[i], &action, &g_previous_ignored[i]);
  for (int i = 0; i < kNumStop; ++i) {
    sigaction(kStopSignals[i], nullptr, &g_previous[i]);
    // A signal the parent ignores (nohup, a background job of a script) stays ignored.
    if (g_previous[i].sa_handler == SIG_IGN) continue;
    action.sa_handler = record_signal;
    sigaction(kStopSignals[i], &action, nullptr);
  }
  g_installed = true;
}

void remove_stop_handlers() {
  if (g_kept > 0) {
    --g_kept;
    return;
  }
  if (!g_installed) return;
  restore_previous();
  for (int i = 0; i < kNumIgnored; ++i) sigaction(kIgnored[i], &g_previous_ignored[i], nullptr);
  g_installed = false;
}

int stop_signal() { return g_signal.load(); }

std::string signal_name(int signo) {
  switch (signo) {
    case SIGINT:
      return "SIGINT";
    case SIGTERM:
      return "SIGTERM";
    case SIGHUP:
      return "SIGHUP";
    case SIGUSR1:
      return "SIGUSR1";
    case SIGUSR2:
      return "SIGUSR2";
    case SIGQUIT:
      return "SIGQUIT";
  }
  return "signal " + std::to_string(signo);
}

void clear_stop_signal() { g_signal.store(0); }

void set_stop_message(const char* message) {
  g_message.store(message ? message : kTrainingMessage);
}

}  // namespace c2fmae::train
