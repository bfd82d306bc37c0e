#include "c2fmae/train/stop_signal.h"

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include "test_helpers.h"

namespace c2fmae::train {
namespace {

TEST(StopSignal, RecordsTheFirstSignalInsteadOfDying) {
  for (const int signo : {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGQUIT}) {
    install_stop_handlers();
    EXPECT_EQ(stop_signal(), 0);
    std::raise(signo);
    EXPECT_EQ(stop_signal(), signo);
    clear_stop_signal();
    EXPECT_EQ(stop_signal(), 0);
  }
  remove_stop_handlers();
}

TEST(StopSignal, ASecondSignalEndsTheProcess) {
  for (const int second : {SIGTERM, SIGINT}) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      install_stop_handlers();
      std::raise(SIGTERM);
      if (stop_signal() != SIGTERM) _exit(3);
      std::raise(second);
      _exit(0);  // not reached when the second signal ends the process
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
    EXPECT_EQ(WTERMSIG(status), second);
  }
}

TEST(StopSignal, InstallingAgainForgetsAnEarlierSignal) {
  install_stop_handlers();
  std::raise(SIGTERM);
  install_stop_handlers();
  EXPECT_EQ(stop_signal(), 0);
  remove_stop_handlers();
  struct sigaction current {};
  sigaction(SIGTERM, nullptr, &current);
  EXPECT_EQ(current.sa_handler, SIG_DFL);
}

TEST(StopSignal, AnIgnoredSignalStaysIgnoredAndSigpipeIsIgnoredMeanwhile) {
  struct sigaction ignore {
  }, current{};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  sigaction(SIGINT, &ignore, nullptr);  // as for a background job of a script
  install_stop_handlers();
  sigaction(SIGINT, nullptr, &current);
  EXPECT_EQ(current.sa_handler, SIG_IGN);
  sigaction(SIGPIPE, nullptr, &current);
  EXPECT_EQ(current.sa_handler, SIG_IGN);
  sigaction(SIGTERM, nullptr, &current);
  EXPECT_NE(current.sa_handler, SIG_IGN);
  EXPECT_NE(current.sa_handler, SIG_DFL);
  remove_stop_handlers();
  sigaction(SIGPIPE, nullptr, &current);
  EXPECT_EQ(current.sa_handler, SIG_DFL);
  sigaction(SIGINT, nullptr, &current);
  EXPECT_EQ(current.sa_handler, SIG_IGN);  // restored as found
  signal(SIGINT, SIG_DFL);
}

}  // namespace
}  // namespace c2fmae::train
