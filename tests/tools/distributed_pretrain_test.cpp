#ifdef C2FMAE_WITH_GLOO
// Integration tests of data-parallel pre-training: real c2fmae_pretrain processes joined on
// loopback with Gloo, as torchrun starts them (RANK, WORLD_SIZE, ... in the environment).
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>
#include <vector>

#include "c2fmae/config/pretrain_config.h"
#include "c2fmae/models/c2fmae_model.h"
#include "c2fmae/train/checkpoint.h"
#include "distributed/ranks_fixture.h"
#include "pretrain_fixture.h"
#include "test_helpers.h"

namespace c2fmae {
namespace {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

/// The processes of one launch.
struct Ranks {
  std::vector<pid_t> pids;
  std::string log_dir;  ///< rank<r>.log: what each printed

  std::string log(int rank) const {
    return testing::read_text(log_dir + "/rank" + std::to_string(rank) + ".log");
  }
};

/// Starts `program args` (c2fmae_pretrain by default) as ranks 0..world-1 of one run with
/// torchrun's variables and the store at 127.0.0.1:port (world 1: a single process).
Ranks launch(int world, const std::string& args, const std::string& log_dir,
             const std::string& program = C2FMAE_PRETRAIN_BIN) {
  Ranks ranks;
  ranks.log_dir = log_dir;
  fs::create_directories(log_dir);
  const auto port = std::to_string(testing::free_port());
  for (int r = 0; r < world; ++r) {
    const std::string log = log_dir + "/rank" + std::to_string(r) + ".log";
    const pid_t pid = ::fork();
    if (pid == 0) {
      for (const char* name : {"TORCHELASTIC_RUN_ID", "SLURM_PROCID", "SLURM_NTASKS"}) {
        ::unsetenv(name);
      }
      ::setenv("RANK", std::to_string(r).c_str(), 1);
      ::setenv("LOCAL_RANK", std::to_string(r).c_str(), 1);
      ::setenv("WORLD_SIZE", std::to_string(world).c_str(), 1);
      ::setenv("LOCAL_WORLD_SIZE", std::to_string(world).c_str(), 1);
      ::setenv("MASTER_ADDR", "127.0.0.1", 1);
      ::setenv("MASTER_PORT", port.c_str(), 1);
      ::setenv("OMP_NUM_THREADS", "1", 1);  // as torchrun: no oversubscribed cores
      const std::string cmd = "exec " + program + " " + args + " >" + log + " 2>&1";
      ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ranks.pids.push_back(pid);
  }
  return ranks;
}

/// Waits for every rank, at most `limit`; returns the exit codes (128 + signal when killed)
/// and kills what still runs after the limit (code -1).
std::vector<int> wait_all(const Ranks& ranks, std::chrono::seconds limit) {
  std::vector<int> codes(ranks.pids.size(), -1);
  std::vector<bool> done(ranks.pids.size(), false);
  const auto until = Clock::now() + limit;
  size_t left = ranks.pids.size();
  while (left > 0 && Clock::now() < until) {
    for (size_t i = 0; i < ranks.pids.size(); ++i) {
      int status = 0;
      if (done[i] || ::waitpid(ranks.pids[i], &status, WNOHANG) != ranks.pids[i]) continue;
      done[i] = true;
      --left;
      codes[i] = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (size_t i = 0; i < ranks.pids.size(); ++i) {
    if (done[i]) continue;
    ::kill(ranks.pids[i], SIGKILL);
    ::waitpid(ranks.pids[i], nullptr, 0);
  }
  return codes;
}

/// Runs a launch to its end (2 minutes at most) and returns the exit codes.
std::vector<int> run(int world, const std::string& args, const std::string& log_dir) {
  return wait_all(launch(world, args, log_dir), std::chrono::seconds(120));
}

/// metrics.jsonl as step -> loss.
std::map<int64_t, double> losses(const std::string& run_dir) {
  std::map<int64_t, double> out;
  std::ifstream in(run_dir + "/metrics.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    const auto step = std::stoll(line.substr(line.find("\"step\": ") + 8));
    out[step] = std::stod(line.substr(line.find("\"loss\": ") + 8));
  }
  return out;
}

/// Steps logged so far in a run's metrics.jsonl.
int64_t steps_logged(const std::string& run_dir) {
  const auto l = losses(run_dir);
  return l.empty() ? 0 : l.rbegin()->first;
}

/// Waits until a run has logged `step` (true) or `limit` passed (false).
bool wait_for_step(const std::string& run_dir, int64_t step, std::chrono::seconds limit) {
  const auto until = Clock::now() + limit;
  while (Clock::now() < until) {
    if (steps_logged(run_dir) >= step) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

/// The model of a run directory's checkpoint `file` (latest.pt by default).
models::C2fmae load_model(const std::string& run_dir, const std::string& file = "latest.pt") {
  auto cfg = config::load_config<config::PretrainConfig>({run_dir + "/config.yaml"}, {});
  models::C2fmae model(cfg.model);
  train::load_checkpoint(fs::canonical(run_dir + "/" + file).string(), model.get(), nullptr,
                         torch::kCPU);
  return model;
}

/// Largest |a - b| over every parameter of two models. Runs compared this way set
/// optim.eps=1e-4 (kMatchingEps): the attention key biases' exact gradient is zero (softmax
/// ignores a constant added to every key), so what they get is round-off, which AdamW with
/// eps 1e-8 divides by its own size into steps of lr: parameters that differ by lr where
/// two exact computations differ by round-off. A larger eps keeps the optimizer continuous
/// in the gradients, so parameters then differ by what the gradients differ by.
double max_param_diff(const models::C2fmae& a, const models::C2fmae& b) {
  double worst = 0;
  const auto pb = b->named_parameters();
  for (const auto& item : a->named_parameters()) {
    worst = std::max(worst, (item.value() - pb[item.key()]).abs().max().item<double>());
  }
  return worst;
}

int count_checkpoints(const std::string& run_dir) {
  int n = 0;
  for (const auto& e : fs::directory_iterator(run_dir)) {
    n += e.path().filename().string().rfind("checkpoint-", 0) == 0;
  }
  return n;
}

std::string codes_text(const std::vector<int>& codes) {
  std::string s;
  for (int c : codes) s += std::to_string(c) + " ";
  return s;
}

const char* kMatchingEps = " --set optim.eps=1e-4 ";

/// The tiny config's arguments for a run directory, per-rank batch and steps.
std::string args_of(const std::string& dir, const std::string& run_dir, int64_t batch,
                    int64_t max_steps, const std::string& extra = "") {
  return "--config " + dir + "/tiny.yaml --output-dir " + run_dir +
         " --set data.batch_size=" + std::to_string(batch) +
         " --set train.max_steps=" + std::to_string(max_steps) + " --set dist.timeout_s=60 " +
         extra;
}

/// The steps of both runs agree within float32 round-off.
void expect_same_losses(const std::map<int64_t, double>& a, const std::map<int64_t, double>& b,
                        int64_t from, int64_t to) {
  for (int64_t s = from; s <= to; ++s) {
    ASSERT_TRUE(a.count(s) && b.count(s)) << "step " << s;
    EXPECT_NEAR(a.at(s), b.at(s), 1e-5 * std::abs(b.at(s)) + 1e-6) << "step " << s;
  }
}

TEST(DataParallel, TwoAndThreeRanksComputeWhatOneProcessOfTheCombinedBatchDoes) {
  const auto dir = testing::tiny_pretrain_dir("dp_equivalence");
  for (const int world : {2, 3}) {
    const auto name = std::to_string(world);
    const auto many = dir + "/ranks" + name, one = dir + "/one" + name;
    auto codes = run(world, args_of(dir, many, 4, 6, kMatchingEps), dir + "/logs_ranks" + name);
    for (int r = 0; r < world; ++r) {
      ASSERT_EQ(codes[r], 0) << "rank " << r << ":\n"
                             << Ranks{{}, dir + "/logs_ranks" + name}.log(r);
    }
    codes = run(1, args_of(dir, one, 4 * world, 6, kMatchingEps), dir + "/logs_one" + name);
    ASSERT_EQ(codes[0], 0) << Ranks{{}, dir + "/logs_one" + name}.log(0);
    const auto table = Ranks{{}, dir + "/logs_ranks" + name}.log(0);
    EXPECT_NE(
        table.find(std::to_string(4 * world) + " (4 x 1 accumulation x " + name + " processes)"),
        std::string::npos)
        << table;
    expect_same_losses(losses(many), losses(one), 1, 6);
    // (Every checkpoint also checked that the ranks' parameters are bitwise identical.)
    EXPECT_LT(max_param_diff(load_model(many), load_model(one)), 1e-5) << "world " << world;
  }
}

TEST(DataParallel, GradientAccumulationGivesTheSameUpdateWithAndWithoutRanks) {
  const auto dir = testing::tiny_pretrain_dir("dp_accumulation");
  const std::string accum = std::string("--set optim.accum_steps=2") + kMatchingEps;
  auto codes = run(2, args_of(dir, dir + "/ranks", 4, 4, accum), dir + "/logs_ranks");
  ASSERT_EQ(codes, (std::vector<int>{0, 0})) << Ranks{{}, dir + "/logs_ranks"}.log(0);
  codes = run(1, args_of(dir, dir + "/one", 8, 4, accum), dir + "/logs_one");
  ASSERT_EQ(codes[0], 0) << Ranks{{}, dir + "/logs_one"}.log(0);
  expect_same_losses(losses(dir + "/ranks"), losses(dir + "/one"), 1, 4);
  EXPECT_LT(max_param_diff(load_model(dir + "/ranks"), load_model(dir + "/one")), 1e-5);
}

TEST(DataParallel, AKilledRankStopsTheOthersSayingSoAndAutoResumeContinues) {
  const auto dir = testing::tiny_pretrain_dir("dp_killed");
  const auto run_dir = dir + "/run";
  const auto args = args_of(dir, run_dir, 4, 16, "--set train.checkpoint_every=2");
  auto ranks = launch(3, args, dir + "/logs1");
  ASSERT_TRUE(wait_for_step(run_dir, 5, std::chrono::seconds(60))) << ranks.log(0);
  ::kill(ranks.pids[1], SIGKILL);
  const auto killed = Clock::now();
  const auto codes = wait_all(ranks, std::chrono::seconds(60));
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - killed).count(), 60.0);
  for (const int r : {0, 2}) {
    EXPECT_EQ(codes[r], 1) << "rank " << r << ":\n" << ranks.log(r);
    const auto log = ranks.log(r);
    EXPECT_NE(log.find("failed on rank " + std::to_string(r) + " of 3"), std::string::npos) << log;
    EXPECT_NE(log.find("another rank has stopped or hangs"), std::string::npos) << log;
    EXPECT_EQ(log.find("c10::"), std::string::npos) << log;
  }
  const auto state = train::load_checkpoint(fs::canonical(run_dir + "/latest.pt").string(), nullptr,
                                            nullptr, torch::kCPU);
  EXPECT_GE(state.step, 4);
  // Relaunched with --resume auto: on from the last checkpoint, to the end.
  ranks = launch(3, args + " --resume auto", dir + "/logs2");
  const auto resumed = wait_all(ranks, std::chrono::seconds(120));
  ASSERT_EQ(resumed, (std::vector<int>{0, 0, 0})) << ranks.log(0) << ranks.log(1);
  EXPECT_NE(ranks.log(0).find("resumed from"), std::string::npos) << ranks.log(0);
  EXPECT_NE(ranks.log(0).find(" at step " + std::to_string(state.step)), std::string::npos);
  EXPECT_EQ(losses(run_dir).size(), 16u);  // every step once
}

TEST(DataParallel, ACheckpointOfTwoRanksResumesOnOneAndOnThree) {
  const auto dir = testing::tiny_pretrain_dir("dp_resume_world");
  const auto two = dir + "/two";
  const auto every = std::string("--set train.checkpoint_every=4") + kMatchingEps;
  ASSERT_EQ(run(2, args_of(dir, two, 4, 8, every), dir + "/logs_two"), (std::vector<int>{0, 0}));
  auto from_step_4 = [&](const std::string& copy) {
    fs::copy(two, copy, fs::copy_options::recursive);
    fs::remove(copy + "/checkpoint-00000008.pt");
    fs::remove(copy + "/latest.pt");
  };
  // One process with the same global batch of 8 continues exactly as the two ranks did.
  from_step_4(dir + "/one");
  auto codes =
      run(1, args_of(dir, dir + "/one", 8, 8, every) + " --resume auto", dir + "/logs_one");
  ASSERT_EQ(codes[0], 0) << Ranks{{}, dir + "/logs_one"}.log(0);
  expect_same_losses(losses(dir + "/one"), losses(two), 5, 8);
  EXPECT_LT(max_param_diff(load_model(dir + "/one"), load_model(two)), 1e-5);
  // Three ranks of 4: a global batch of 12, which the resumed run names.
  from_step_4(dir + "/three");
  const Ranks logs{{}, dir + "/logs_three"};
  codes = run(3, args_of(dir, dir + "/three", 4, 8, every) + " --resume auto", logs.log_dir);
  ASSERT_EQ(codes, (std::vector<int>{0, 0, 0})) << logs.log(0) << logs.log(1);
  EXPECT_NE(logs.log(0).find("resumed from"), std::string::npos) << logs.log(0);
  EXPECT_NE(logs.log(0).find("effective batch of 8"), std::string::npos) << logs.log(0);
  EXPECT_EQ(steps_logged(dir + "/three"), 8);
}

TEST(DataParallel, SigtermToOneRankStopsEveryRankAfterTheSameStepWithOneCheckpoint) {
  const auto dir = testing::tiny_pretrain_dir("dp_sigterm");
  const auto run_dir = dir + "/run";
  auto ranks =
      launch(2, args_of(dir, run_dir, 4, 0, "--set train.checkpoint_every=1000"), dir + "/logs");
  ASSERT_TRUE(wait_for_step(run_dir, 3, std::chrono::seconds(60))) << ranks.log(0);
  ::kill(ranks.pids[1], SIGTERM);
  const auto codes = wait_all(ranks, std::chrono::seconds(60));
  EXPECT_EQ(codes, (std::vector<int>{128 + SIGTERM, 128 + SIGTERM}))
      << ranks.log(0) << ranks.log(1);
  EXPECT_EQ(count_checkpoints(run_dir), 1);
  const auto state = train::load_checkpoint(fs::canonical(run_dir + "/latest.pt").string(), nullptr,
                                            nullptr, torch::kCPU);
  EXPECT_EQ(state.step, steps_logged(run_dir));
  EXPECT_NE(ranks.log(0).find("stopped by SIGTERM after step " + std::to_string(state.step)),
            std::string::npos)
      << ranks.log(0);
}

TEST(DataParallel, TheLocalLauncherForwardsSigtermToEveryRank) {
  const auto dir = testing::tiny_pretrain_dir("dp_launcher");
  const auto run_dir = dir + "/run";
  const std::string cmd =
      "C2FMAE_LAUNCHER=bash NPROC=2 C2FMAE_BIN=" + std::string(C2FMAE_PRETRAIN_BIN) +
      " exec " C2FMAE_SOURCE_DIR "/tools/launch/local.sh " +
      args_of(dir, run_dir, 4, 0, "--set train.checkpoint_every=1000") + " >" + dir +
      "/launcher.log 2>&1";
  const pid_t pid = ::fork();
  if (pid == 0) {
    for (const char* name : {"RANK", "WORLD_SIZE", "LOCAL_RANK", "TORCHELASTIC_RUN_ID"}) {
      ::unsetenv(name);
    }
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  const Ranks launcher{{pid}, dir};
  const auto log = [&] { return testing::read_text(dir + "/launcher.log"); };
  ASSERT_TRUE(wait_for_step(run_dir, 3, std::chrono::seconds(60))) << log();
  ::kill(pid, SIGTERM);
  EXPECT_EQ(wait_all(launcher, std::chrono::seconds(60)), std::vector<int>{128 + SIGTERM}) << log();
  EXPECT_EQ(count_checkpoints(run_dir), 1) << log();
  const auto state = train::load_checkpoint(fs::canonical(run_dir + "/latest.pt").string(), nullptr,
                                            nullptr, torch::kCPU);
  EXPECT_EQ(state.step, steps_logged(run_dir)) << log();
}

#ifdef C2FMAE_FINETUNE_BIN
TEST(DataParallel, FineTuningOnTwoRanksEvaluatesEveryValidationImageOnce) {
  // 160 scenes in global batches of 2 x 8: 10 steps per epoch; 50 validation images over two
  // ranks (25 each, the last batch padded). The ranks' evaluation sums are rank 0's figures.
  const auto dir = testing::tiny_pretrain_dir("dp_finetune");
  const auto yaml = testing::add_tiny_finetune_yaml(dir);
  const auto run_dir = dir + "/run";
  const auto codes = wait_all(launch(2, "--config " + yaml + " --output-dir " + run_dir,
                                     dir + "/logs", C2FMAE_FINETUNE_BIN),
                              std::chrono::seconds(180));
  ASSERT_EQ(codes, (std::vector<int>{0, 0}))
      << testing::read_text(dir + "/logs/rank0.log") << testing::read_text(dir + "/logs/rank1.log");
  const auto metrics = testing::read_text(run_dir + "/metrics.jsonl");
  size_t evaluations = 0;
  std::string last_top1;
  for (size_t at = metrics.find("\"val_images\": 50"); at != std::string::npos;
       at = metrics.find("\"val_images\": 50", at + 1)) {
    ++evaluations;
  }
  EXPECT_EQ(evaluations, 2u) << metrics;
  ASSERT_TRUE(fs::exists(run_dir + "/best.pt"));
  // One process evaluating best.pt gets the best top-1 the two ranks found.
  const auto one = testing::run_command(std::string(C2FMAE_FINETUNE_BIN) + " --config " + yaml +
                                        " --eval --pretrained " + run_dir + "/best.pt");
  ASSERT_EQ(one.exit_code, 0) << one.output;
  const auto best_at = metrics.rfind("\"best_val_top1\": ");
  ASSERT_NE(best_at, std::string::npos);
  const auto best =
      metrics.substr(best_at + 17, metrics.find_first_of(",}", best_at + 17) - best_at - 17);
  EXPECT_NE(one.output.find("\"val_top1\": " + best + ","), std::string::npos)
      << "best " << best << "\n"
      << one.output;
}
#endif

TEST(DataParallel, RanksStartedWithOtherConfigsAllExit2NamingTheKeys) {
  const auto dir = testing::tiny_pretrain_dir("dp_config_mismatch");
  // Rank 1 gets another train.seed through an environment-dependent --set.
  const auto args = args_of(dir, dir + "/run", 4, 4, "--set train.seed=$RANK");
  const Ranks ranks = launch(2, args, dir + "/logs");
  EXPECT_EQ(wait_all(ranks, std::chrono::seconds(60)), (std::vector<int>{2, 2}))
      << ranks.log(0) << ranks.log(1);
  EXPECT_NE(ranks.log(1).find("rank 1 of 2"), std::string::npos) << ranks.log(1);
  EXPECT_NE(ranks.log(1).find("train.seed differ"), std::string::npos) << ranks.log(1);
  EXPECT_NE(ranks.log(0).find("another process of this run"), std::string::npos) << ranks.log(0);
  EXPECT_FALSE(fs::exists(dir + "/run"));
}

/// A socket listening on a free port of `address` (INADDR_ANY, INADDR_LOOPBACK) that nobody
/// accepts on: the kernel completes connections, nothing answers. {fd, port}; fd -1 on error.
std::pair<int, int> listening_socket(in_addr_t address) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(address);
  socklen_t len = sizeof addr;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(fd, 16) != 0 || ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd >= 0) ::close(fd);
    return {-1, 0};
  }
  return {fd, ntohs(addr.sin_port)};
}

TEST(DataParallel, AnInconsistentLaunchExits2RightAfterTheRendezvousNamingWhatDiffers) {
  const auto dir = testing::tiny_pretrain_dir("dp_inconsistent_launch");
  const auto bin = std::string(C2FMAE_PRETRAIN_BIN);
  struct Case {
    std::string name, program, run_dir;
    std::vector<int> codes;
    std::string says;
  };
  for (const auto& c : std::vector<Case>{
           // Rank 1 started with WORLD_SIZE 3: both stop at once, naming WORLD_SIZE.
           {"world",
            "env WORLD_SIZE=$((2 + RANK)) " + bin,
            dir + "/run",
            {2, 2},
            "different WORLD_SIZE"},
           // Rank 1 of another job on this store: it stops, the job's rank 0 times out.
           {"job",
            "env C2FMAE_JOB_ID=job$RANK " + bin,
            dir + "/run",
            {1, 2},
            "belongs to another job"},
           // Another run directory on rank 1: refused, naming the key.
           {"dir", bin, dir + "/run$RANK", {2, 2}, "train.output_dir"}}) {
    const auto start = Clock::now();
    const Ranks ranks = launch(2, args_of(dir, c.run_dir, 4, 4, "--set dist.timeout_s=3"),
                               dir + "/logs-" + c.name, c.program);
    EXPECT_EQ(wait_all(ranks, std::chrono::seconds(60)), c.codes) << c.name << "\n"
                                                                  << ranks.log(0) << ranks.log(1);
    EXPECT_NE(ranks.log(1).find(c.says), std::string::npos) << ranks.log(1);
    EXPECT_EQ(ranks.log(1).find("gloo/"), std::string::npos) << ranks.log(1);
    EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), 30.0) << c.name;
    EXPECT_FALSE(fs::exists(dir + "/run1"));
  }
  // Two processes started as rank 1 (a third rank given a RANK twice): one is told so.
  {
    const Ranks ranks = launch(3, args_of(dir, dir + "/run", 4, 4, "--set dist.timeout_s=3"),
                               dir + "/logs-twice", "env RANK=$((RANK == 2 ? 1 : RANK)) " + bin);
    const auto codes = wait_all(ranks, std::chrono::seconds(60));
    EXPECT_EQ(std::count(codes.begin(), codes.end(), 2), 1) << ranks.log(1) << ranks.log(2);
    EXPECT_NE((ranks.log(1) + ranks.log(2)).find("two processes were started as rank 1"),
              std::string::npos)
        << ranks.log(1) << ranks.log(2);
  }
  // A taken MASTER_PORT is named as such, not blamed on another rank.
  const auto [fd, port_number] = listening_socket(INADDR_ANY);
  ASSERT_GE(fd, 0);
  const auto port = std::to_string(port_number);
  auto r = testing::run_command("env RANK=0 WORLD_SIZE=2 MASTER_PORT=" + port + " " + bin + " " +
                                args_of(dir, dir + "/run", 4, 4, "--set dist.timeout_s=3"));
  ::close(fd);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("MASTER_PORT " + port + " is taken"), std::string::npos) << r.output;
  // Rank 0 never started: nothing listens, and the message says so.
  r = testing::run_command("env RANK=1 WORLD_SIZE=2 MASTER_PORT=" + port + " " + bin + " " +
                           args_of(dir, dir + "/run", 4, 4, "--set dist.timeout_s=2"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("nothing listens at 127.0.0.1:" + port), std::string::npos) << r.output;
}

TEST(DataParallel, AStoreThatAcceptsButNeverAnswersFailsTheRendezvousInBoundedTime) {
  const auto dir = testing::tiny_pretrain_dir("dp_silent_store");
  // A listening socket nobody accepts on: the kernel completes connections, nothing answers.
  const auto [fd, port] = listening_socket(INADDR_LOOPBACK);
  ASSERT_GE(fd, 0);
  const auto start = Clock::now();
  const auto r = testing::run_command(
      "env RANK=1 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(port) + " " +
      C2FMAE_PRETRAIN_BIN + " " +
      args_of(dir, dir + "/run", 4, 4, "--set dist.timeout_s=2"));  // the later --set wins
  ::close(fd);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("rendezvous at the store did not finish on rank 1 of 2"),
            std::string::npos)
      << r.output;
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), 40.0);
}

/// The c2fmae_pretrain processes whose command line names `run_dir`.
std::vector<pid_t> trainers_of(const std::string& run_dir) {
  std::vector<pid_t> out;
  const auto program = fs::canonical(C2FMAE_PRETRAIN_BIN);
  for (const auto& e : fs::directory_iterator("/proc")) {
    const auto name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::error_code ec;
    if (fs::read_symlink(e.path() / "exe", ec) != program || ec) continue;
    auto cmdline = testing::read_text((e.path() / "cmdline").string());
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (cmdline.find(run_dir) != std::string::npos) out.push_back(std::stoi(name));
  }
  return out;
}

TEST(DataParallel, TorchrunRestartsAfterAKilledRankAndTheRunContinuesFromItsCheckpoint) {
  const auto torchrun = std::string(C2FMAE_SOURCE_DIR) + "/.venv/bin/torchrun";
  if (!fs::exists(torchrun)) GTEST_SKIP() << "no " << torchrun << " (scripts/setup.sh makes it)";
  const auto dir = testing::tiny_pretrain_dir("dp_torchrun");
  const auto run_dir = dir + "/run";
  // torchrun's agent hosts the store (TORCHELASTIC_USE_AGENT_STORE): every rank is a client,
  // under the prefix of its attempt, so the restarted ranks meet afresh.
  const std::string cmd = "C2FMAE_LAUNCHER=torchrun TORCHRUN=" + torchrun +
                          " NPROC=2 MAX_RESTARTS=1 C2FMAE_BIN=" + std::string(C2FMAE_PRETRAIN_BIN) +
                          " exec " + C2FMAE_SOURCE_DIR + "/tools/launch/local.sh " +
                          args_of(dir, run_dir, 4, 30, "--set train.checkpoint_every=2") +
                          " --resume auto >" + dir + "/torchrun.log 2>&1";
  const pid_t pid = ::fork();
  if (pid == 0) {
    for (const char* name : {"RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_PORT"}) ::unsetenv(name);
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  const Ranks launcher{{pid}, dir};
  const auto log = [&] { return testing::read_text(dir + "/torchrun.log"); };
  ASSERT_TRUE(wait_for_step(run_dir, 5, std::chrono::seconds(90))) << log();
  const auto trainers = trainers_of(run_dir);
  ASSERT_EQ(trainers.size(), 2u) << log();
  ::kill(trainers[1], SIGKILL);
  EXPECT_EQ(wait_all(launcher, std::chrono::seconds(150)), std::vector<int>{0}) << log();
  EXPECT_NE(log().find("resumed from"), std::string::npos) << log();
  EXPECT_EQ(steps_logged(run_dir), 30) << log();
  EXPECT_EQ(losses(run_dir).size(), 30u) << log();  // no step logged twice
}

}  // namespace
}  // namespace c2fmae
#endif  // C2FMAE_WITH_GLOO
