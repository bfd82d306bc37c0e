// Integration tests: the real c2fmae_pretrain program on a tiny config.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>
#include <utility>
#include <vector>

#include "c2fmae/config/pretrain_config.h"
#include "c2fmae/data/shard_index.h"
#include "c2fmae/train/checkpoint.h"
#include "data_fixture.h"
#include "pretrain_fixture.h"
#include "test_helpers.h"

namespace c2fmae {
namespace {
namespace fs = std::filesystem;

using Run = testing::CommandResult;
using testing::run_command;

/// Runs c2fmae_pretrain with `args`, capturing stdout + stderr and the exit code.
Run pretrain(const std::string& args) {
  return run_command(std::string(C2FMAE_PRETRAIN_BIN) + " " + args);
}

/// metrics.jsonl as (step -> loss) with the loss as written (full precision text).
std::map<int64_t, std::string> loss_texts(const std::string& run_dir) {
  std::map<int64_t, std::string> out;
  std::ifstream in(run_dir + "/metrics.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    const auto step = std::stoll(line.substr(line.find("\"step\": ") + 8));
    const auto at = line.find("\"loss\": ") + 8;
    out[step] = line.substr(at, line.find(',', at) - at);
  }
  return out;
}

TEST(Pretrain, LossFallsAndTheRunDirectoryHasWhatIsListed) {
  const auto dir = testing::tiny_pretrain_dir("c2fmae_pretrain_falls");
  const auto run_dir = dir + "/run";
  auto r = pretrain("--config " + dir + "/tiny.yaml --output-dir " + run_dir);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto l = loss_texts(run_dir);
  ASSERT_EQ(l.size(), 80u);  // 2 epochs x 40 steps, every step logged
  double first = 0, last = 0;
  for (int64_t s = 1; s <= 5; ++s) first += std::stod(l[s]) / 5;
  for (int64_t s = 76; s <= 80; ++s) last += std::stod(l[s]) / 5;
  // Over seeds the ratio is 0.67-0.75 (the data and masks each seed draws differ).
  EXPECT_LT(last, 0.8 * first) << "first " << first << " last " << last;

  // config.yaml reloads to the same resolved config.
  auto cfg = config::load_config<config::PretrainConfig>({run_dir + "/config.yaml"}, {});
  EXPECT_NO_THROW(cfg.validate());
  EXPECT_EQ(cfg.model.depth, 2);
  EXPECT_GT(fs::file_size(run_dir + "/train.log"), 0u);
  std::ifstream metrics(run_dir + "/metrics.jsonl");
  std::string line;
  std::getline(metrics, line);
  for (const char* key :
       {"\"loss\"", "\"loss_semantic\"", "\"loss_instance\"", "\"loss_rgb\"", "\"lr\"",
        "\"w_semantic\"", "\"w_instance\"", "\"w_random\"", "\"grad_norm\"", "\"images_per_s\"",
        "\"nonfinite_skipped\"", "\"step_time_s\"", "\"memory_gib\""}) {
    EXPECT_NE(line.find(key), std::string::npos) << key << " missing in " << line;
  }
  int checkpoints = 0;
  for (const auto& e : fs::directory_iterator(run_dir)) {
    checkpoints += e.path().filename().string().rfind("checkpoint-", 0) == 0;
  }
  EXPECT_EQ(checkpoints, 2);  // keep_last
  EXPECT_EQ(fs::read_symlink(run_dir + "/latest.pt").string(), "checkpoint-00000080.pt");
  // The start-up table shows the derived values.
  for (const char* what :
       {"effective batch", "learning rate", "visible tokens", "80 (40 per epoch"}) {
    EXPECT_NE(r.output.find(what), std::string::npos) << what;
  }
}

TEST(Pretrain, StoppedAndResumedRunMatchesTheUninterruptedOneBitForBit) {
  const auto dir = testing::tiny_pretrain_dir("c2fmae_pretrain_resume");
  const auto base = "--config " + dir + "/tiny.yaml --set train.max_steps=30 ";
  ASSERT_EQ(pretrain(base + "--output-dir " + dir + "/whole").exit_code, 0);
  ASSERT_EQ(pretrain("--config " + dir + "/tiny.yaml --set train.max_steps=13 --output-dir " + dir +
                     "/split")
                .exit_code,
            0);
  auto resumed = pretrain(base + "--output-dir " + dir + "/split --resume auto");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("at step 13"), std::string::npos) << resumed.output;
  auto whole = loss_texts(dir + "/whole"), split = loss_texts(dir + "/split");
  ASSERT_EQ(whole.size(), 30u);
  ASSERT_EQ(split.size(), 30u);
  for (int64_t s = 14; s <= 30; ++s) EXPECT_EQ(split[s], whole[s]) << "step " << s;
}

TEST(Pretrain, SigtermFinishesTheStepAndLeavesALoadableCheckpoint) {
  const auto dir = testing::tiny_pretrain_dir("c2fmae_pretrain_sigterm");
  const auto run_dir = dir + "/run";
  const std::string log = dir + "/out.log";
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    freopen(log.c_str(), "w", stdout);
    dup2(fileno(stdout), 2);
    const std::string cfg = dir + "/tiny.yaml";
    execl(C2FMAE_PRETRAIN_BIN, C2FMAE_PRETRAIN_BIN, "--config", cfg.c_str(), "--output-dir",
          run_dir.c_str(), "--set", "train.epochs=50", "--set",
          "model.modalities=[semantic, instance, rgb]", nullptr);
    _exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (loss_texts(run_dir).size() < 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_GE(loss_texts(run_dir).size(), 3u) << "the run never logged 3 steps";
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 128 + SIGTERM);
  const auto text = testing::read_text(log);
  EXPECT_NE(text.find("--resume auto"), std::string::npos) << text;
  // The printed command can be pasted into a shell: the bracketed value is quoted.
  EXPECT_NE(text.find("--set 'model.modalities=[semantic, instance, rgb]'"), std::string::npos)
      << text;
  const auto latest = fs::canonical(run_dir + "/latest.pt").string();
  auto state = train::load_checkpoint(latest, nullptr, nullptr, torch::kCPU);
  EXPECT_GE(state.step, 3);
  EXPECT_EQ(state.step, static_cast<int64_t>(loss_texts(run_dir).size()));
  auto resumed = pretrain("--config " + dir + "/tiny.yaml --output-dir " + run_dir +
                          " --set train.epochs=50 --resume auto --set train.max_steps=" +
                          std::to_string(state.step + 2));
  EXPECT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_EQ(loss_texts(run_dir).rbegin()->first, state.step + 2);
}

TEST(Pretrain, ResumeAfterAHardKillLogsEveryStepOnce) {
  const auto dir = testing::tiny_pretrain_dir("c2fmae_pretrain_hardkill");
  const auto run_dir = dir + "/run";
  // Simulate a run killed at step 14 whose last checkpoint is at step 10.
  ASSERT_EQ(pretrain("--config " + dir + "/tiny.yaml --output-dir " + run_dir +
                     " --set train.max_steps=14")
                .exit_code,
            0);
  fs::remove(run_dir + "/checkpoint-00000014.pt");
  fs::remove(run_dir + "/latest.pt");
  auto r = pretrain("--config " + dir + "/tiny.yaml --output-dir " + run_dir +
                    " --set train.max_steps=20 --resume auto");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("dropped 4 lines"), std::string::npos) << r.output;
  std::ifstream in(run_dir + "/metrics.jsonl");
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) ++lines;
  EXPECT_EQ(lines, 20);
  EXPECT_EQ(loss_texts(run_dir).size(), 20u);
}

/// The tiny config on a fixture folder dataset of 2 classes x 14 samples, two of them bad.
std::string real_data_dir(const std::string& name, bool shards) {
  const auto dir = testing::tiny_pretrain_dir(name);
  auto s = testing::write_fixture_split(dir + "/folder", "train", 2, 14);
  fs::resize_file(s[3].rgb, fs::file_size(s[3].rgb) / 2);  // a truncated JPEG
  fs::remove(s[20].instance);                              // a missing mask
  if (shards) {
    data::PackOptions pack;
    pack.shard_bytes = 8192;
    data::pack_folder(dir + "/folder", "train", dir + "/shards", pack);
  }
  return dir;
}

TEST(Pretrain, TrainsThroughFolderAndShardsSkippingAndCountingBadSamples) {
  for (const std::string source : {"folder", "shards"}) {
    const auto dir = real_data_dir("c2fmae_pretrain_" + source, source == "shards");
    const auto run_dir = dir + "/run";
    auto r = pretrain("--config " + dir + "/tiny.yaml --output-dir " + run_dir +
                      " --set data.source=" + source + " --set data.root=" + dir + "/" + source +
                      " --set data.max_bad_fraction=0.2 --set train.epochs=3");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    // 28 samples, batch 8: 3 steps per epoch, 9 in all; each bad sample once an epoch.
    const auto metrics = testing::read_text(run_dir + "/metrics.jsonl");
    const auto last = metrics.substr(metrics.rfind("\"step\": 9"));
    const auto at = last.find("\"data_skipped\": ");
    ASSERT_NE(at, std::string::npos) << last;
    EXPECT_GE(std::stoll(last.substr(at + 16)), 4) << last;
    const auto log = testing::read_text(run_dir + "/train.log");
    for (const char* what : {"image:", "instance mask: missing"}) {
      const auto first = log.find(what);
      EXPECT_NE(first, std::string::npos) << log;
      EXPECT_EQ(log.find(what, first + 1), std::string::npos) << "logged twice:\n" << log;
    }
    EXPECT_EQ(loss_texts(run_dir).size(), 9u);
  }
}

TEST(Pretrain, AResumedShardsRunMatchesTheUninterruptedOneAndKeepsCountingBadSamples) {
  const auto dir = real_data_dir("c2fmae_pretrain_shards_resume", true);
  const auto base = "--config " + dir +
                    "/tiny.yaml --set data.source=shards --set data.root=" + dir +
                    "/shards --set data.max_bad_fraction=0.2 --set train.epochs=3 ";
  ASSERT_EQ(pretrain(base + "--output-dir " + dir + "/whole").exit_code, 0);
  ASSERT_EQ(pretrain(base + "--set train.max_steps=4 --output-dir " + dir + "/split").exit_code, 0);
  auto resumed = pretrain(base + "--output-dir " + dir + "/split --resume auto");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  auto whole = loss_texts(dir + "/whole"), split = loss_texts(dir + "/split");
  ASSERT_EQ(split.size(), 9u);
  for (int64_t s = 5; s <= 9; ++s) EXPECT_EQ(split[s], whole[s]) << "step " << s;  // mid-epoch 2
  auto skipped = [](const std::string& run_dir) {
    const auto metrics = testing::read_text(run_dir + "/metrics.jsonl");
    const auto last = metrics.substr(metrics.rfind("\"step\": 9"));
    return std::stoll(last.substr(last.find("\"data_skipped\": ") + 16));
  };
  EXPECT_EQ(skipped(dir + "/split"), skipped(dir + "/whole"));
  EXPECT_GT(skipped(dir + "/whole"), 0);
}

TEST(Pretrain, TooManyBadSamplesStopTheRunWithAClearMessage) {
  const auto dir = real_data_dir("c2fmae_pretrain_bad_fraction", false);
  auto r = pretrain("--config " + dir + "/tiny.yaml --output-dir " + dir + "/run" +
                    " --set data.source=folder --set data.root=" + dir + "/folder" +
                    " --set data.max_bad_fraction=0.01");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("data.max_bad_fraction = 0.01"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("c10::"), std::string::npos) << r.output;
}

TEST(Pretrain, ADatasetThatCannotServeTheRunIsRefusedBeforeARunDirectoryExists) {
  const auto dir = testing::tiny_pretrain_dir("c2fmae_pretrain_no_dataset");
  auto r = pretrain("--config " + dir + "/tiny.yaml --output-dir " + dir + "/run" +
                    " --set data.source=folder --set data.root=" + dir + "/nonesuch");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("nonesuch"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir + "/run"));
  r = pretrain("--config " + dir + "/tiny.yaml --output-dir " + dir +
               "/run --set data.source=shards");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("data.root"), std::string::npos) << r.output;
  // An ImageFolder (no masks) for a model that reads masks; then RGB-only MAE on it trains.
  testing::write_fixture_split(dir + "/images", "train", 2, 8, /*masks=*/false);
  r = pretrain("--config " + dir + "/tiny.yaml --output-dir " + dir + "/run" +
               " --set data.source=folder --set data.root=" + dir + "/images");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("holds images only"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir + "/run"));
  r = pretrain("--config " + dir + "/tiny.yaml --output-dir " + dir + "/run" +
               " --set data.source=folder --set data.root=" + dir + "/images" +
               " --set 'model.modalities=[rgb]' --set 'curriculum.keyframes=[{at: 0, random: 1}]'" +
               " --set train.max_steps=2");
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST(Pretrain, BadConfigKeyExitsNonZeroNamingTheKey) {
  const auto dir = testing::tiny_pretrain_dir("c2fmae_pretrain_badkey");
  auto r =
      pretrain("--config " + dir + "/tiny.yaml --set model.dpeth=3 --output-dir " + dir + "/run");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("model.dpeth"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("did you mean 'depth'"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir + "/run"));  // validated before any work
  std::ofstream(dir + "/bad.yaml") << "train:\n  epochs: -4\n";
  r = pretrain("--config " + dir + "/tiny.yaml --config " + dir + "/bad.yaml");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("bad.yaml: train.epochs = -4"), std::string::npos) << r.output;
  if (!torch::cuda::is_available()) {  // a config this machine cannot run is a config problem
    r = pretrain("--config " + dir + "/tiny.yaml --set train.device=cuda --output-dir " + dir +
                 "/run");
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find("no CUDA device"), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(dir + "/run"));
  }
}

TEST(Pretrain, AMemoryBombInsideTheAcceptedRangesExits2AtOnceNamingItsKeys) {
  const auto dir = testing::tiny_pretrain_dir("c2fmae_pretrain_memory_bomb");
  for (const auto& [sets, key] : std::vector<std::pair<std::string, std::string>>{
           {"--set data.batch_size=65536 --set data.synthetic_samples=1281167", "data.batch_size"},
           {"--set data.prefetch=64 --set data.batch_size=64 --set model.img_size=1024",
            "data.prefetch"}}) {
    const auto started = std::chrono::steady_clock::now();
    const auto r = pretrain("--config " + dir + "/tiny.yaml --output-dir " + dir + "/run " + sets);
    EXPECT_EQ(r.exit_code, 2) << sets << "\n" << r.output;
    EXPECT_NE(r.output.find("the run needs about"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find(key), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("train.memory_check=false"), std::string::npos) << r.output;
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(30)) << sets;
    EXPECT_FALSE(fs::exists(dir + "/run/metrics.jsonl"));
  }
}

TEST(Pretrain, ActivationCheckpointingLogsTheSameLossesBitForBit) {
  const auto dir = testing::tiny_pretrain_dir("c2fmae_pretrain_checkpointing");
  const auto args = "--config " + dir + "/tiny.yaml --set train.max_steps=4 --output-dir " + dir;
  ASSERT_EQ(pretrain(args + "/plain").exit_code, 0);
  const auto r = pretrain(args + "/recomputed --set train.activation_checkpointing=true");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto plain = loss_texts(dir + "/plain"), recomputed = loss_texts(dir + "/recomputed");
  ASSERT_EQ(plain.size(), 4u);
  EXPECT_EQ(plain, recomputed);
}

TEST(Pretrain, AKeyframeNamingAnUnknownGeneratorExits2NamingItAndTheKnownOnes) {
  const auto dir = testing::tiny_pretrain_dir("c2fmae_pretrain_unknown_generator");
  auto r = pretrain("--config " + dir + "/tiny.yaml --output-dir " + dir +
                    "/run --set 'curriculum.keyframes=[{at: 0, blocky: 0.5, random: 0.5}]'");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("curriculum.keyframes[0].blocky"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("unknown mask generator 'blocky'"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("instance, random, semantic"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir + "/run"));  // refused before any run directory exists
}

TEST(Pretrain, MetricsCarryTheWeightOfEveryGeneratorTheCurriculumNames) {
  const auto dir = testing::tiny_pretrain_dir("c2fmae_pretrain_generator_weights");
  auto r = pretrain("--config " + dir + "/tiny.yaml --output-dir " + dir +
                    "/run --set train.max_steps=1 --set "
                    "'curriculum.keyframes=[{at: 0, instance: 0.7, random: 0.3}]'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto line = testing::read_text(dir + "/run/metrics.jsonl");
  EXPECT_NE(line.find("\"w_instance\": 0.7,"), std::string::npos) << line;
  EXPECT_NE(line.find("\"w_random\": 0.3,"), std::string::npos) << line;
  EXPECT_EQ(line.find("w_semantic"), std::string::npos) << line;  // not in this curriculum
}

TEST(Pretrain, AnExistingRunDirectoryIsNotOverwritten) {
  const auto dir = testing::tiny_pretrain_dir("c2fmae_pretrain_nooverwrite");
  const auto args =
      "--config " + dir + "/tiny.yaml --output-dir " + dir + "/run --set train.max_steps=2";
  ASSERT_EQ(pretrain(args).exit_code, 0);
  const auto before = fs::last_write_time(dir + "/run/metrics.jsonl");
  auto again = pretrain(args);
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.output.find("already holds a run"), std::string::npos) << again.output;
  EXPECT_EQ(fs::last_write_time(dir + "/run/metrics.jsonl"), before);
  EXPECT_EQ(loss_texts(dir + "/run").size(), 2u);
  EXPECT_EQ(pretrain(args + " --overwrite").exit_code, 0);  // told to
}

TEST(Pretrain, AnInconsistentLaunchExits2AndPeersThatNeverComeFailInBoundedTime) {
  const auto dir = testing::tiny_pretrain_dir("c2fmae_pretrain_world");
  const auto args = " " + std::string(C2FMAE_PRETRAIN_BIN) + " --config " + dir +
                    "/tiny.yaml --output-dir " + dir + "/run --set dist.timeout_s=3";
  auto r = run_command("env WORLD_SIZE=2 RANK=5" + args);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("rank 5 is not below the world size 2"), std::string::npos) << r.output;
  r = run_command("env -u RANK WORLD_SIZE=2" + args);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("WORLD_SIZE = 2 without RANK"), std::string::npos) << r.output;
  // torchrun's variables and Slurm's, with no other process to meet: exit 1 after the
  // timeout, naming the rank and the store.
  const auto start = std::chrono::steady_clock::now();
  r = run_command(
      "env RANK=0 WORLD_SIZE=2 MASTER_PORT=" + std::to_string(29700 + ::getpid() % 200) + args);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("rendezvous at the store failed on rank 0 of 2"), std::string::npos)
      << r.output;
  r = run_command(
      "env -u WORLD_SIZE -u RANK SLURM_PROCID=1 SLURM_NTASKS=4 SLURM_LOCALID=1 "
      "SLURM_NTASKS_PER_NODE=2 SLURM_JOB_NODELIST='n[1-2]'" +
      args);
  EXPECT_EQ(r.exit_code, 2) << r.output;  // n1 does not resolve here: named at once
  EXPECT_NE(r.output.find("MASTER_ADDR=n1 does not resolve"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("rank 1 of 4 (local 1 of 2, slurm), store n1:29500"), std::string::npos)
      << r.output;
  EXPECT_EQ(r.output.find("c10::"), std::string::npos) << r.output;
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 60.0);
  EXPECT_FALSE(fs::exists(dir + "/run"));
}

TEST(Pretrain, DumpConfigAndHelp) {
  auto dump = pretrain("--set train.epochs=300 --dump-config");
  EXPECT_EQ(dump.exit_code, 0) << dump.output;
  EXPECT_NE(dump.output.find("epochs: 300"), std::string::npos);
  auto help = pretrain("--help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.output.find("curriculum:"), std::string::npos);
  EXPECT_NE(help.output.find("num_visible"), std::string::npos);
}

/// Starts c2fmae_pretrain in the background with `args`, its output in `log`.
pid_t start_pretrain(const std::vector<std::string>& args, const std::string& log) {
  const pid_t pid = fork();
  if (pid == 0) {
    freopen(log.c_str(), "w", stdout);
    dup2(fileno(stdout), 2);
    std::vector<char*> argv = {const_cast<char*>(C2FMAE_PRETRAIN_BIN)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(C2FMAE_PRETRAIN_BIN, argv.data());
    _exit(127);
  }
  return pid;
}

/// Waits until `run_dir` has logged `steps` steps (false after two minutes).
bool wait_for_steps(const std::string& run_dir, size_t steps) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (loss_texts(run_dir).size() < steps && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return loss_texts(run_dir).size() >= steps;
}

/// The exit status of a child, or -1 if it did not exit normally.
int exit_code_of(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(Pretrain, EveryStopSignalCheckpointsAndExitsWith128PlusIt) {
  const auto dir = testing::tiny_pretrain_dir("c2fmae_pretrain_stop_signals");
  for (const auto& [signo, name] : std::vector<std::pair<int, std::string>>{
           {SIGHUP, "SIGHUP"}, {SIGUSR1, "SIGUSR1"}, {SIGUSR2, "SIGUSR2"}, {SIGQUIT, "SIGQUIT"}}) {
    const auto run_dir = dir + "/run_" + name;
    const pid_t pid = start_pretrain({"--config", dir + "/tiny.yaml", "--output-dir", run_dir,
                                      "--set", "train.epochs=50", "--set", "log.level=error"},
                                     dir + "/out.log");
    ASSERT_TRUE(wait_for_steps(run_dir, 2)) << name;
    kill(pid, signo);
    EXPECT_EQ(exit_code_of(pid), 128 + signo) << name;
    const auto log = testing::read_text(run_dir + "/train.log");
    // Logged even at log.level=error, with the command that resumes the run.
    EXPECT_NE(log.find("stopped by " + name), std::string::npos) << log;
    EXPECT_NE(log.find("--resume auto"), std::string::npos) << log;
    auto state = train::load_checkpoint(fs::canonical(run_dir + "/latest.pt").string(), nullptr,
                                        nullptr, torch::kCPU);
    EXPECT_EQ(state.step, static_cast<int64_t>(loss_texts(run_dir).size())) << name;
  }
}

TEST(Pretrain, ASecondProcessOnTheSameRunDirectoryIsRefusedAndTouchesNothing) {
  const auto dir = testing::tiny_pretrain_dir("c2fmae_pretrain_second_process");
  const auto run_dir = dir + "/run";
  const pid_t first = start_pretrain(
      {"--config", dir + "/tiny.yaml", "--output-dir", run_dir, "--set", "train.epochs=50"},
      dir + "/first.log");
  ASSERT_TRUE(wait_for_steps(run_dir, 1));
  const auto config_before = testing::read_text(run_dir + "/config.yaml");
  for (const char* extra : {" --resume auto", " --overwrite", ""}) {
    auto second = pretrain("--config " + dir + "/tiny.yaml --output-dir " + run_dir +
                           " --set train.epochs=50 --set train.seed=7" + extra);
    EXPECT_EQ(second.exit_code, 2) << extra << ": " << second.output;
    EXPECT_NE(second.output.find("in use by another process (PID " + std::to_string(first) + ")"),
              std::string::npos)
        << second.output;
  }
  EXPECT_EQ(testing::read_text(run_dir + "/config.yaml"), config_before);
  kill(first, SIGTERM);
  EXPECT_EQ(exit_code_of(first), 128 + SIGTERM);
  // Every step was logged once, by the first process alone.
  std::ifstream in(run_dir + "/metrics.jsonl");
  std::string line;
  int64_t lines = 0;
  while (std::getline(in, line)) ++lines;
  EXPECT_EQ(lines, static_cast<int64_t>(loss_texts(run_dir).size()));
  // Once it is gone, the directory is free again.
  EXPECT_EQ(pretrain("--config " + dir + "/tiny.yaml --output-dir " + run_dir +
                     " --set train.epochs=50 --resume auto --set train.max_steps=" +
                     std::to_string(lines + 1))
                .exit_code,
            0);
}

TEST(Pretrain, AFailedCheckpointWriteStopsWithTheReasonAndLeavesNoTemporaryFile) {
  const auto dir = testing::tiny_pretrain_dir("c2fmae_pretrain_write_failure");
  const auto run_dir = dir + "/run";
  // A 1 MiB file-size limit: the logs fit, a 4 MB checkpoint does not (as on a full disk).
  const std::string cmd = "bash -c 'ulimit -f 1024; exec " + std::string(C2FMAE_PRETRAIN_BIN) +
                          " --config " + dir + "/tiny.yaml --output-dir " + run_dir +
                          " --set train.max_steps=12' 2>&1";
  const auto r = run_command(cmd);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("checkpoint-00000010.pt"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("File too large"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("frame #"), std::string::npos) << r.output;
  EXPECT_NE(testing::read_text(run_dir + "/train.log").find("File too large"), std::string::npos);
  for (const auto& e : fs::directory_iterator(run_dir)) {
    EXPECT_NE(e.path().extension(), ".tmp") << e.path();
  }
  // With room again, the run resumes.
  auto resumed = pretrain("--config " + dir + "/tiny.yaml --output-dir " + run_dir +
                          " --set train.max_steps=12 --resume auto");
  EXPECT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_EQ(loss_texts(run_dir).rbegin()->first, 12);
}

TEST(Pretrain, ResumeAutoRefusesToStartOverWhenNoCheckpointLoads) {
  const auto dir = testing::tiny_pretrain_dir("c2fmae_pretrain_unloadable");
  const auto run_dir = dir + "/run";
  const auto args = "--config " + dir + "/tiny.yaml --output-dir " + run_dir;
  ASSERT_EQ(pretrain(args + " --set train.max_steps=12").exit_code, 0);
  std::vector<std::string> checkpoints;
  std::map<std::string, uintmax_t> sizes;
  for (const auto& e : fs::directory_iterator(run_dir)) {
    const auto name = e.path().filename().string();
    if (name.rfind("checkpoint-", 0) == 0) {
      checkpoints.push_back(e.path().string());
      fs::resize_file(e.path(), fs::file_size(e.path()) / 3);  // truncated
      sizes[e.path().string()] = fs::file_size(e.path());
    }
  }
  ASSERT_EQ(checkpoints.size(), 2u);
  const auto metrics_before = testing::read_text(run_dir + "/metrics.jsonl");
  std::ofstream(run_dir + "/metrics.jsonl", std::ios::app) << "garbage line\n";
  auto r = pretrain(args + " --resume auto --set log.level=off");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  for (const auto& c : checkpoints) {
    EXPECT_NE(r.output.find(c), std::string::npos) << c << " not listed in " << r.output;
    EXPECT_EQ(fs::file_size(c), sizes[c]) << c;  // left alone
  }
  EXPECT_NE(r.output.find("nothing was changed"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("frame #"), std::string::npos) << r.output;
  EXPECT_EQ(testing::read_text(run_dir + "/metrics.jsonl"), metrics_before + "garbage line\n");
}

TEST(Pretrain, ResumeAutoNeverSkipsANewerCheckpointItMayNotRead) {
  // Permissions only bind a user other than root: run as nobody where we may switch to it.
  if (::geteuid() != 0 || std::system("command -v setpriv >/dev/null") != 0) {
    GTEST_SKIP() << "needs root and setpriv to act as another user";
  }
  const std::string as_nobody = "setpriv --reuid=65534 --regid=65534 --clear-groups ";
  if (std::system((as_nobody + C2FMAE_PRETRAIN_BIN + " --help >/dev/null 2>&1").c_str()) != 0) {
    GTEST_SKIP() << "user nobody cannot run the program from this checkout (e.g. a 0700 folder)";
  }
  const auto dir = testing::tiny_pretrain_dir("c2fmae_pretrain_unreadable_newer");
  const auto run_dir = dir + "/run";
  const auto args = "--config " + dir + "/tiny.yaml --output-dir " + run_dir;
  ASSERT_EQ(pretrain(args + " --set train.max_steps=12").exit_code, 0);
  ASSERT_EQ(std::system(("chmod -R a+rwX " + dir + " && chown -R 65534:65534 " + dir).c_str()), 0);
  const auto newest = run_dir + "/checkpoint-00000012.pt";
  fs::permissions(newest, fs::perms::none);
  const auto before = fs::file_size(newest);
  auto r = run_command(as_nobody + C2FMAE_PRETRAIN_BIN + " " + args +
                       " --set train.max_steps=14 --resume auto 2>&1");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("checkpoint " + newest + " cannot be read: Permission denied"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("nothing was changed"), std::string::npos) << r.output;
  EXPECT_EQ(fs::file_size(newest), before);
  EXPECT_EQ(loss_texts(run_dir).size(), 12u);
}

TEST(Pretrain, ContradictingEmptyOrMissingArgumentsExit2) {
  const auto dir = testing::tiny_pretrain_dir("c2fmae_pretrain_bad_arguments");
  const auto base = "--config " + dir + "/tiny.yaml --output-dir " + dir + "/run";
  for (const std::string& bad :
       {base + " --resume auto --overwrite", "--config " + dir + "/tiny.yaml --output-dir ''",
        base + " --resume " + dir + "/nonexistent.pt", base + " --resume ''",
        base + " --resume " + dir, base + " --config " + dir, base + " --config /dev/zero",
        // No recipe: the defaults alone are a full-size run, not started unasked.
        "--output-dir " + dir + "/run --set train.max_steps=1"}) {
    auto r = pretrain(bad);
    EXPECT_EQ(r.exit_code, 2) << bad << "\n" << r.output;
    EXPECT_NE(r.output.find("hint:"), std::string::npos) << r.output;
  }
  EXPECT_FALSE(fs::exists(dir + "/run"));
}

TEST(Pretrain, AnUnreadableResumeFileSaysWhatIsWrongWithoutABacktrace) {
  const auto dir = testing::tiny_pretrain_dir("c2fmae_pretrain_foreign_resume");
  const auto base = "--config " + dir + "/tiny.yaml --output-dir " + dir + "/run --resume ";
  std::ofstream(dir + "/empty.pt");
  std::ofstream(dir + "/foreign.pt") << "this is not a checkpoint\n";
  for (const auto& [file, says] : std::vector<std::pair<std::string, std::string>>{
           {"empty.pt", "is empty"}, {"foreign.pt", "not a readable archive"}}) {
    auto r = pretrain(base + dir + "/" + file);
    EXPECT_EQ(r.exit_code, 2) << r.output;  // the argument names a file that is no checkpoint
    EXPECT_NE(r.output.find(dir + "/" + file), std::string::npos) << r.output;
    EXPECT_NE(r.output.find(says), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("hint:"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("internal miniz error"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("frame #"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("Exception raised from"), std::string::npos) << r.output;
  }
}

TEST(Pretrain, AClosedOutputPipeDoesNotKillTheRun) {
  const auto dir = testing::tiny_pretrain_dir("c2fmae_pretrain_head");
  const auto run_dir = dir + "/run";
  auto r = run_command("bash -c '" + std::string(C2FMAE_PRETRAIN_BIN) + " --config " + dir +
                       "/tiny.yaml --output-dir " + run_dir +
                       " --set train.max_steps=5 2>&1 | head -1; exit ${PIPESTATUS[0]}'");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(loss_texts(run_dir).size(), 5u);
  EXPECT_NE(testing::read_text(run_dir + "/train.log").find("stopped at train.max_steps"),
            std::string::npos);
}

}  // namespace
}  // namespace c2fmae
