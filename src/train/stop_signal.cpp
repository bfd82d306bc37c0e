#include "c2fmae/train/stop_signal.h"

#include <unistd.h>

#include <csignal>

namespace c2fmae::train {
namespace {

volatile std::sig_atomic_t g_signal = 0;

void set_action(void (*handler)(int)) {
  struct sigaction action {};
  action.sa_handler = handler;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

extern "C" void record_signal(int signo) {
  g_signal = signo;
  set_action(SIG_DFL);  // sigaction and write are async-signal-safe
  static const char kMessage[] =
      "\nc2fmae: stopping after this step with a checkpoint; signal again to abort without one\n";
  const ssize_t ignored = ::write(STDERR_FILENO, kMessage, sizeof kMessage - 1);
  (void)ignored;
}

}  // namespace

void install_stop_handlers() {
  g_signal = 0;
  set_action(record_signal);
}

void remove_stop_handlers() { set_action(SIG_DFL); }

int stop_signal() { return g_signal; }

void clear_stop_signal() { g_signal = 0; }

}  // namespace c2fmae::train
