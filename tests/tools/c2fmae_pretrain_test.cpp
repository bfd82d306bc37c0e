// Integration tests: the real c2fmae_pretrain program on a tiny config.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "c2fmae/config/pretrain_config.h"
#include "c2fmae/train/checkpoint.h"
#include "pretrain_fixture.h"
#include "test_helpers.h"

namespace c2fmae {
namespace {
namespace fs = std::filesystem;

struct Run {
  int exit_code;
  std::string output;
};

/// Runs c2fmae_pretrain with `args`, capturing stdout + stderr and the exit code.
Run pretrain(const std::string& args) {
  const std::string cmd = std::string(C2FMAE_PRETRAIN_BIN) + " " + args + " 2>&1";
  Run r{-1, ""};
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) r.output.append(buf, n);
  const int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

/// metrics.jsonl as (step -> loss) with the loss as written (full precision text).
std::map<int64_t, std::string> losses(const std::string& run_dir) {
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
  auto l = losses(run_dir);
  ASSERT_EQ(l.size(), 80u);  // 2 epochs x 40 steps, every step logged
  double first = 0, last = 0;
  for (int64_t s = 1; s <= 5; ++s) first += std::stod(l[s]) / 5;
  for (int64_t s = 76; s <= 80; ++s) last += std::stod(l[s]) / 5;
  EXPECT_LT(last, 0.7 * first) << "first " << first << " last " << last;

  // config.yaml reloads to the same resolved config.
  auto cfg = config::load_config<config::PretrainConfig>({run_dir + "/config.yaml"}, {});
  EXPECT_NO_THROW(cfg.validate());
  EXPECT_EQ(cfg.model.depth, 2);
  EXPECT_GT(fs::file_size(run_dir + "/train.log"), 0u);
  std::ifstream metrics(run_dir + "/metrics.jsonl");
  std::string line;
  std::getline(metrics, line);
  for (const char* key : {"\"loss\"", "\"loss_semantic\"", "\"loss_instance\"", "\"loss_rgb\"",
                          "\"lr\"", "\"w_semantic\"", "\"w_instance\"", "\"w_random\"",
                          "\"grad_norm\"", "\"images_per_s\"", "\"nonfinite_skipped\"",
                          "\"step_time_s\"", "\"memory_gib\""}) {
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
  auto whole = losses(dir + "/whole"), split = losses(dir + "/split");
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
  while (losses(run_dir).size() < 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_GE(losses(run_dir).size(), 3u) << "the run never logged 3 steps";
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
  EXPECT_EQ(state.step, static_cast<int64_t>(losses(run_dir).size()));
  auto resumed = pretrain("--config " + dir + "/tiny.yaml --output-dir " + run_dir +
                          " --set train.epochs=50 --resume auto --set train.max_steps=" +
                          std::to_string(state.step + 2));
  EXPECT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_EQ(losses(run_dir).rbegin()->first, state.step + 2);
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
  EXPECT_EQ(losses(run_dir).size(), 20u);
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
  EXPECT_EQ(losses(dir + "/run").size(), 2u);
  EXPECT_EQ(pretrain(args + " --overwrite").exit_code, 0);  // told to
}

TEST(Pretrain, RefusesAMultiProcessLaunchItCannotServe) {
  const auto dir = testing::tiny_pretrain_dir("c2fmae_pretrain_world");
  struct WorldSize {  // set for this test only, whatever fails
    WorldSize() { ::setenv("WORLD_SIZE", "2", 1); }
    ~WorldSize() { ::unsetenv("WORLD_SIZE"); }
  };
  const auto r = [&] {
    WorldSize world;
    return pretrain("--config " + dir + "/tiny.yaml --output-dir " + dir + "/run");
  }();
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("WORLD_SIZE=2"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir + "/run"));
}

TEST(Pretrain, DumpConfigAndHelp) {
  auto dump = pretrain("--set train.epochs=3 --dump-config");
  EXPECT_EQ(dump.exit_code, 0);
  EXPECT_NE(dump.output.find("epochs: 3"), std::string::npos);
  auto help = pretrain("--help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.output.find("curriculum:"), std::string::npos);
  EXPECT_NE(help.output.find("num_visible"), std::string::npos);
}

}  // namespace
}  // namespace c2fmae
