#include "c2fmae/train/stop_signal.h"

#include <atomic>
#include <csignal>

namespace c2fmae::train {
namespace {

volatile std::sig_atomic_t g_signal = 0;

extern "C" void record_signal(int signo) { g_signal = signo; }

}  // namespace

void install_stop_handlers() {
  struct sigaction action {};
  action.sa_handler = record_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

int stop_signal() { return g_signal; }

void clear_stop_signal() { g_signal = 0; }

}  // namespace c2fmae::train
