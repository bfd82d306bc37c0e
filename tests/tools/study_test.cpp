// tools/study.py, run with the set-up script's python (C2FMAE_PYTHON_BIN, which has
// matplotlib) against a fake build folder: shell-script stand-ins for c2fmae_pretrain and
// c2fmae_finetune that print a minimal `model:` section for --dump-config, write a latest.pt
// and a metrics.jsonl, print the kNN / dense-probe JSON line, and log every call. So the whole
// study runs in about a second: its table and picture, its resume (a rerun runs nothing, a
// torn last line of study.jsonl is dropped, a missing entry alone is run again), a failing
// program (reported, the rest still run, exit 1), --dry-run, and the refusal of bad arguments
// with exit 2. Only a missing python skips; a python without matplotlib fails.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "c2fmae/formats/image_codec.h"
#include "python_tool.h"
#include "test_helpers.h"

namespace c2fmae {
namespace {
namespace fs = std::filesystem;

using testing::fresh_dir;
using testing::python_present;
using testing::quoted;

/// Runs the script with `args` (already quoted where needed).
testing::CommandResult study(const std::string& args) {
  return testing::run_command(std::string(C2FMAE_PYTHON_BIN) + " " + C2FMAE_SOURCE_DIR +
                              "/tools/study.py " + args);
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream in(text);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

using testing::ink;
using testing::read_png;

// c2fmae_pretrain's stand-in: --dump-config prints a `model:` section among others; a run
// writes a checkpoint, latest.pt and a metrics.jsonl into --output-dir; a config path with
// "broken" in it fails with a message on stderr. Every call is logged to calls.log.
constexpr const char* kFakePretrain = R"SH(#!/bin/sh
here=$(dirname "$0")
echo "pretrain $*" >> "$here/calls.log"
out=""; dump=0; prev=""
for a in "$@"; do
  [ "$prev" = --output-dir ] && out="$a"
  [ "$a" = --dump-config ] && dump=1
  prev="$a"
done
case "$*" in
  *broken*) echo "loading the config" >&2; echo "boom: the recipe is broken" >&2; exit 1;;
esac
if [ $dump = 1 ]; then
  cat <<'EOF'
train:
  seed: 0
model:
  preset: tiny
  img_size: 112
  patch_size: 16
  embed_dim: 0
  depth: 0
  num_heads: 0
  mlp_ratio: 4
  modalities:
    - rgb
  decoder_mode: parallel
masking:
  num_visible: 24
EOF
  exit 0
fi
mkdir -p "$out"
echo ckpt > "$out/checkpoint-00000010.pt"
ln -sf checkpoint-00000010.pt "$out/latest.pt"
echo '{"step": 10, "epoch": 1, "loss": 0.5, "lr": 0.001}' > "$out/metrics.jsonl"
)SH";

// c2fmae_finetune's stand-in: needs the recipe's model.preset and an existing --pretrained;
// top-1 is 20 + seed for the random encoder, 50 + seed for a pre-trained one (+5 for the
// trained evaluations); the dense probe's mean class accuracy 50 and 60.
constexpr const char* kFakeFinetune = R"SH(#!/bin/sh
here=$(dirname "$0")
echo "finetune $*" >> "$here/calls.log"
mode=""; out=""; seed=0; pre=0; preset=""; prev=""
for a in "$@"; do
  case "$prev" in
    --output-dir) out="$a";;
    --pretrained) [ -f "$a" ] || { echo "no checkpoint $a" >&2; exit 1; }; pre=1;;
    --set) case "$a" in
             finetune.mode=*) mode=${a#finetune.mode=};;
             train.seed=*) seed=${a#train.seed=};;
             model.preset=*) preset=${a#model.preset=};;
           esac;;
  esac
  prev="$a"
done
[ "$preset" = tiny ] || { echo "no model.preset from the recipe" >&2; exit 3; }
top1=$((20 + 30 * pre + seed))
case "$mode" in
  knn)
    echo "a log line on stdout"
    echo "{\"val_top1\": $top1, \"val_top5\": 90, \"prior_top1\": 16.5, \"k\": 20}";;
  dense_probe)
    echo "{\"patch_acc\": 80, \"mean_class_acc\": $((50 + 10 * pre)), \"miou\": 40," \
         "\"prior_patch_acc\": 30, \"prior_mean_class_acc\": 10, \"prior_miou\": 5}";;
  linprobe|finetune)
    mkdir -p "$out"
    {
      echo '{"step": 1, "loss": 2}'
      echo "{\"step\": 2, \"epoch\": 1, \"val_top1\": $((top1 + 5)), \"val_top5\": 95}"
      echo '{"step": 3, "loss": 1}'
    } > "$out/metrics.jsonl";;
  *) echo "unknown mode $mode" >&2; exit 2;;
esac
)SH";

/// A fake build folder under `dir`: DIR/build/tools/{c2fmae_pretrain,c2fmae_finetune}.
std::string fake_build(const std::string& dir) {
  const auto tools = fs::path(dir) / "build" / "tools";
  fs::create_directories(tools);
  const std::vector<std::pair<std::string, std::string>> programs = {
      {"c2fmae_pretrain", kFakePretrain}, {"c2fmae_finetune", kFakeFinetune}};
  for (const auto& [name, text] : programs) {
    const auto path = (tools / name).string();
    testing::write_text(path, text);
    fs::permissions(path, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                              fs::perms::others_read | fs::perms::others_exec);
  }
  return (fs::path(dir) / "build").string();
}

/// The programs' calls so far, one a line.
std::vector<std::string> calls(const std::string& build) {
  return lines_of(testing::read_text(build + "/tools/calls.log"));
}

class Study : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!python_present()) GTEST_SKIP() << "no python at " << C2FMAE_PYTHON_BIN;
  }
};

TEST_F(Study, BadArgumentsExitTwoAndRunNothing) {
  const auto dir = fresh_dir("study_bad_arguments");
  const auto build = fake_build(dir);
  const auto out = dir + "/out";
  fs::create_directories(dir + "/empty_build");
  testing::write_text(dir + "/a_file", "not a folder\n");
  const struct {
    std::string args, says;
  } cases[] = {
      {"--recipes mae,nope", "unknown recipe 'nope'"},
      {"--recipes " + quoted(dir + "/missing.yaml"), "no such file"},
      {"--seeds 0", "--seeds must be in 1..1000"},
      {"--seeds 99999999999999999999", "--seeds must be in 1..1000"},
      {"--set data.root", "expected section.key=value"},
      {"--set data.root=/x --set nodot=1", "expected section.key=value"},
      {"--set train.seed=4", "the study sets train.seed itself"},
      {"--evals knn,bogus", "unknown evaluation 'bogus'"},
      {"--budgets 2,0", "'0' is not a whole number of epochs in 1..100000"},
      {"--budgets 1.5", "'1.5' is not a whole number of epochs in 1..100000"},
      {"--budgets 99999999999", "is not a whole number of epochs in 1..100000"},
      {"--eval-config " + quoted(dir + "/missing.yaml"), "no such file"},
      {"--linprobe-config " + quoted(dir + "/missing.yaml"),
       "--linprobe-config " + dir + "/missing.yaml: no such file"},
  };
  for (const auto& c : cases) {
    const auto r = study("--out " + quoted(out) + " --build-dir " + quoted(build) + " " + c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args << "\n" << r.output;
    EXPECT_TRUE(contains(r.output, c.says)) << c.args << "\n" << r.output;
    EXPECT_FALSE(contains(r.output, "Traceback")) << r.output;
  }
  // Programs missing from the build folder; --out a file.
  auto r = study("--out " + quoted(out) + " --build-dir " + quoted(dir + "/empty_build"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "c2fmae_pretrain is not in")) << r.output;
  r = study("--out " + quoted(dir + "/a_file") + " --build-dir " + quoted(build));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "exists and is not a folder")) << r.output;
  EXPECT_EQ(testing::read_text(dir + "/a_file"), "not a folder\n");
  EXPECT_FALSE(fs::exists(out));
  EXPECT_FALSE(fs::exists(build + "/tools/calls.log"));
  // --help says what it does.
  r = study("--help");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "study.jsonl")) << r.output;
  EXPECT_TRUE(contains(r.output, "--resume auto")) << r.output;
  EXPECT_TRUE(contains(r.output, "--linprobe-config")) << r.output;
}

TEST_F(Study, DryRunListsTheCommandsStillToRun) {
  const auto dir = fresh_dir("study_dry_run");
  const auto build = fake_build(dir);
  const auto out = dir + "/out";
  const auto r = study("--out " + quoted(out) + " --build-dir " + quoted(build) +
                       " --recipes mae,block --seeds 2 --evals knn,linprobe --dry-run");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // Per seed: random's 2 evaluations, and each recipe's pre-training and 2 evaluations.
  int pretrains = 0, evaluations = 0, random = 0, linprobes = 0;
  for (const auto& line : lines_of(r.output)) {
    if (line.rfind(build + "/tools/c2fmae_pretrain --config", 0) == 0) {
      ++pretrains;
      EXPECT_TRUE(contains(line, "--resume auto")) << line;
      EXPECT_TRUE(contains(line, "--set train.seed=")) << line;
      EXPECT_FALSE(contains(line, "--dump-config")) << line;
    } else if (line.rfind(build + "/tools/c2fmae_finetune --config", 0) == 0) {
      ++evaluations;
      EXPECT_TRUE(contains(line, "--set model.preset=tiny --set model.img_size=112")) << line;
      random += !contains(line, "--pretrained");
      EXPECT_EQ(contains(line, "finetune.mode=linprobe"), contains(line, "--resume auto")) << line;
      // The linear probe with --linprobe-config's config, the others with --eval-config's
      // (the defaults; the path right after --config, relative or not).
      const bool linprobe = contains(line, "finetune.mode=linprobe");
      linprobes += linprobe;
      EXPECT_EQ(contains(line, "configs/finetune/demo_synthetic_linprobe.yaml --"), linprobe)
          << line;
      EXPECT_NE(contains(line, "configs/finetune/demo_synthetic_tiny.yaml --"), linprobe) << line;
    }
  }
  EXPECT_EQ(pretrains, 4) << r.output;
  EXPECT_EQ(evaluations, 12) << r.output;
  EXPECT_EQ(random, 4) << r.output;
  EXPECT_EQ(linprobes, 6) << r.output;
  EXPECT_TRUE(contains(r.output, "16 command(s) to run")) << r.output;
  // It ran only the config dumps, once a recipe, and wrote nothing.
  const auto ran = calls(build);
  ASSERT_EQ(ran.size(), 2u) << testing::read_text(build + "/tools/calls.log");
  for (const auto& call : ran) EXPECT_TRUE(contains(call, "--dump-config")) << call;
  EXPECT_FALSE(fs::exists(out));
}

TEST_F(Study, RunsEveryEvaluationTabulatesThemAndResumesWithoutRunningThemAgain) {
  const auto dir = fresh_dir("study_end_to_end");
  const auto build = fake_build(dir);
  const auto out = dir + "/out";
  const auto args = "--out " + quoted(out) + " --build-dir " + quoted(build) +
                    " --recipes mae,block --seeds 2 --set data.synthetic_samples=64";
  auto r = study(args);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_FALSE(contains(r.output, "FAILED")) << r.output;
  EXPECT_TRUE(contains(r.output, "[28/28] finetune block seed1")) << r.output;
  // 2 config dumps, 2 x 2 pre-trainings, (2 recipes + random) x 2 seeds x 4 evaluations.
  const auto ran = calls(build);
  EXPECT_EQ(ran.size(), 30u);
  for (const auto& call : ran) {
    EXPECT_TRUE(contains(call, "--set data.synthetic_samples=64")) << call;
    // The linear probe with its own config (--linprobe-config's default).
    EXPECT_EQ(contains(call, "configs/finetune/demo_synthetic_linprobe.yaml --"),
              contains(call, "finetune.mode=linprobe"))
        << call;
  }
  const auto jsonl = testing::read_text(out + "/study.jsonl");
  EXPECT_EQ(lines_of(jsonl).size(), 28u) << jsonl;
  // The linear probe's entries record its config; the others' have none.
  int linprobe_entries = 0;
  for (const auto& line : lines_of(jsonl)) {
    const bool linprobe = contains(line, "\"eval\": \"linprobe\"");
    linprobe_entries += linprobe;
    EXPECT_EQ(contains(line, "/configs/finetune/demo_synthetic_linprobe.yaml\""), linprobe) << line;
    EXPECT_EQ(contains(line, "\"linprobe_config\": null"), !linprobe) << line;
  }
  EXPECT_EQ(linprobe_entries, 6) << jsonl;
  EXPECT_TRUE(contains(jsonl,
                       "\"recipe\": \"random\", \"budget\": null, \"seed\": 1, "
                       "\"eval\": \"knn\", \"metrics\": {\"val_top1\": 21, "))
      << jsonl;
  EXPECT_TRUE(contains(jsonl,
                       "\"eval\": \"pretrain\", \"metrics\": {\"step\": 10, \"epoch\": 1, "
                       "\"loss\": 0.5}"))
      << jsonl;

  const auto md = testing::read_text(out + "/study.md");
  EXPECT_TRUE(contains(md, "tools/study.py --out " + out)) << md;
  EXPECT_TRUE(contains(md,
                       "| row | kNN top-1 | dense mean class acc | dense mIoU | linear probe "
                       "top-1 | fine-tune top-1 |"))
      << md;
  EXPECT_TRUE(contains(md, "(the linear probe: --config ")) << md;
  EXPECT_TRUE(contains(md, "configs/finetune/demo_synthetic_linprobe.yaml)")) << md;
  // kNN top-1 20, 21 (random) and 50, 51 (pre-trained): mean and sample std.
  EXPECT_TRUE(contains(md, "| prior | 16.50 | 10.00 | 5.00 | — | — |")) << md;
  EXPECT_TRUE(contains(md,
                       "| random | 20.50 ± 0.71 (2) | 50.00 ± 0.00 (2) | 40.00 ± 0.00 (2) | "
                       "25.50 ± 0.71 (2) | 25.50 ± 0.71 (2) |"))
      << md;
  EXPECT_TRUE(contains(md,
                       "| mae | 50.50 ± 0.71 (2) | 60.00 ± 0.00 (2) | 40.00 ± 0.00 (2) | "
                       "55.50 ± 0.71 (2) | 55.50 ± 0.71 (2) |"))
      << md;
  EXPECT_TRUE(contains(md, "| block | 50.50 ± 0.71 (2) |")) << md;
  EXPECT_TRUE(contains(md, "24 of 24 evaluations done")) << md;
  const auto image = read_png(out + "/study.png");
  EXPECT_GE(image.width, 800);
  EXPECT_GE(image.height, 400);
  EXPECT_GT(ink(image), 0.01);

  // A rerun runs nothing and changes no entry.
  r = study(args);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "0 program call(s) to run; 24 evaluation(s) already done"))
      << r.output;
  EXPECT_EQ(calls(build).size(), 30u);
  EXPECT_EQ(testing::read_text(out + "/study.jsonl"), jsonl);
  EXPECT_EQ(testing::read_text(out + "/study.md"), md);

  // A last line torn by a kill: dropped with a warning, and cut from the file.
  {
    std::ofstream append(out + "/study.jsonl", std::ios::app | std::ios::binary);
    append << "{\"recipe\": \"mae\", \"budget\": \"rec";
  }
  r = study(args);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "warning:")) << r.output;
  EXPECT_TRUE(contains(r.output, "incomplete")) << r.output;
  EXPECT_EQ(calls(build).size(), 30u);
  EXPECT_EQ(testing::read_text(out + "/study.jsonl"), jsonl);

  // An entry missing (killed before it was written): that evaluation alone runs again, its
  // pre-training kept (its entry and latest.pt are there).
  std::string without;
  for (const auto& line : lines_of(jsonl)) {
    if (!contains(line,
                  "\"recipe\": \"block\", \"budget\": \"recipe\", \"seed\": 1, \"eval\": "
                  "\"knn\"")) {
      without += line + "\n";
    }
  }
  ASSERT_EQ(lines_of(without).size(), 27u);
  testing::write_text(out + "/study.jsonl", without);
  r = study(args);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "[1/1] knn block seed1")) << r.output;
  const auto rerun = calls(build);
  ASSERT_EQ(rerun.size(), 32u);
  EXPECT_TRUE(contains(rerun[30], "--dump-config")) << rerun[30];
  EXPECT_TRUE(contains(rerun[31], "finetune.mode=knn")) << rerun[31];
  EXPECT_EQ(lines_of(testing::read_text(out + "/study.jsonl")).size(), 28u);
  EXPECT_EQ(testing::read_text(out + "/study.md"), md);

  // Other settings than the entries were made with: refused, nothing run.
  r = study("--out " + quoted(out) + " --build-dir " + quoted(build) +
            " --recipes mae,block --seeds 2 --set data.synthetic_samples=128");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "other settings")) << r.output;
  EXPECT_EQ(calls(build).size(), 32u);
  // So is another linear-probe config: the linprobe entries were made with the default.
  testing::write_text(dir + "/linprobe.yaml", "finetune:\n  mode: linprobe\n");
  r = study(args + " --linprobe-config " + quoted(dir + "/linprobe.yaml"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "other settings: --linprobe-config ")) << r.output;
  EXPECT_EQ(calls(build).size(), 32u);
  // A study still running on the same --out (it holds study.lock, and is writing a line of
  // study.jsonl): refused, nothing run, its line not cut.
  const int held = ::open((out + "/study.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(held, 0);
  ASSERT_EQ(::flock(held, LOCK_EX | LOCK_NB), 0);
  ASSERT_EQ(::ftruncate(held, 0), 0);
  ASSERT_EQ(::write(held, "4242\n", 5), 5);
  const auto whole = testing::read_text(out + "/study.jsonl");
  testing::write_text(out + "/study.jsonl", whole + "{\"recipe\": \"ma");
  r = study(args);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "in use by another study (PID 4242)")) << r.output;
  EXPECT_FALSE(contains(r.output, "Traceback")) << r.output;
  EXPECT_EQ(calls(build).size(), 32u);
  EXPECT_EQ(testing::read_text(out + "/study.jsonl"), whole + "{\"recipe\": \"ma");
  // Once it is gone, the next study cuts the torn line, and has nothing left to run.
  ::close(held);
  r = study(args);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(testing::read_text(out + "/study.jsonl"), whole);
  EXPECT_EQ(calls(build).size(), 32u);
  // A study.lock that is a link is refused, its target untouched.
  fs::remove(out + "/study.lock");
  testing::write_text(dir + "/victim", "keep\n");
  fs::create_symlink(dir + "/victim", out + "/study.lock");
  r = study(args);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "cannot open " + out + "/study.lock")) << r.output;
  EXPECT_EQ(testing::read_text(dir + "/victim"), "keep\n");
}

TEST_F(Study, AFailingProgramIsReportedAndTheOtherRunsGoOn) {
  const auto dir = fresh_dir("study_failure");
  const auto build = fake_build(dir);
  const auto out = dir + "/out";
  testing::write_text(dir + "/broken.yaml", "model:\n  preset: tiny\n");
  const auto r = study("--out " + quoted(out) + " --build-dir " + quoted(build) + " --recipes " +
                       quoted(dir + "/broken.yaml") + ",mae --seeds 1 --evals knn");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "FAILED (exit 1): " + build + "/tools/c2fmae_pretrain --config " +
                                     dir + "/broken.yaml"))
      << r.output;
  EXPECT_TRUE(contains(r.output, "boom: the recipe is broken")) << r.output;
  EXPECT_FALSE(contains(r.output, "Traceback")) << r.output;
  // Random's and mae's entries are there, broken's row is empty.
  EXPECT_EQ(lines_of(testing::read_text(out + "/study.jsonl")).size(), 3u);
  const auto md = testing::read_text(out + "/study.md");
  EXPECT_TRUE(contains(md, "| broken | — |")) << md;
  EXPECT_TRUE(contains(md, "| mae | 50.00 ± 0 (1) |")) << md;
  EXPECT_TRUE(contains(md, "| random | 20.00 ± 0 (1) |")) << md;
  EXPECT_TRUE(fs::exists(out + "/study.png"));
}

}  // namespace
}  // namespace c2fmae
