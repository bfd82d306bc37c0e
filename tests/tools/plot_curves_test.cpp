// tools/plot_curves.py, run with the set-up script's python (C2FMAE_PYTHON_BIN, which has
// matplotlib): it draws a run's metrics.jsonl as a PNG of the expected size, survives what a
// crashed and resumed run leaves in the file (a repeated step, a torn last line, a blank line,
// non-finite values) and what a hostile one holds (absurd values, a line of megabytes, JSON
// nested past Python's recursion limit, characters the font lacks) without a traceback or a
// Python warning, counts the values it drops once, and refuses a missing, empty or not
// regular input (a device, a FIFO), and an empty -o or one in a missing folder, with exit 2
// and a message. Only a missing python skips; a python without matplotlib fails.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <utility>
#include <vector>

#include "c2fmae/formats/image_codec.h"
#include "python_tool.h"
#include "test_helpers.h"

namespace c2fmae {
namespace {
namespace fs = std::filesystem;

// The script's figure: 12 inches wide and 4 per row of two panels, at 100 dpi.
constexpr int kWidth = 1200;
constexpr int kRowHeight = 400;

using testing::fresh_dir;
using testing::python_present;
using testing::quoted;

/// Runs the script with `args` (already quoted where needed).
testing::CommandResult plot_curves(const std::string& args) {
  return testing::run_command(std::string(C2FMAE_PYTHON_BIN) + " " + C2FMAE_SOURCE_DIR +
                              "/tools/plot_curves.py " + args);
}

/// As plot_curves, in 1 GB of address space: reading without end fails at once rather than
/// when the machine's memory is gone. Only for runs that stop before matplotlib, whose
/// libraries map more.
testing::CommandResult plot_curves_in_1gb(const std::string& args) {
  return testing::run_command("ulimit -v 1000000; " + std::string(C2FMAE_PYTHON_BIN) + " " +
                              C2FMAE_SOURCE_DIR + "/tools/plot_curves.py " + args);
}

using testing::ink;
using testing::read_png;

/// A pre-training step line as run_shell.cpp writes it (fields in its order).
std::string pretrain_step(int step, double loss_scale = 1.0) {
  std::ostringstream s;
  const double p = step / 16.0;
  s << "{\"step\": " << step << ", \"epoch\": " << step / 4.0
    << ", \"loss\": " << 4.5 - 2 * p * loss_scale << ", \"loss_semantic\": " << 2.1 - 0.5 * p
    << ", \"loss_instance\": " << 0.9 - 0.3 * p << ", \"loss_rgb\": " << 1.1 - 0.4 * p
    << ", \"lr\": " << 1e-4 * std::min(1.0, step / 4.0) << ", \"w_semantic\": " << p
    << ", \"w_instance\": 0, \"w_random\": " << 1 - p
    << ", \"grad_norm\": 0.8, \"data_skipped\": 0, \"data_wait_s\": 0.001, \"images_per_s\": 50,"
       " \"step_time_s\": 0.2, \"memory_gib\": 0.1, \"nonfinite_skipped\": 0}\n";
  return s.str();
}

class PlotCurves : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!python_present()) GTEST_SKIP() << "no python at " << C2FMAE_PYTHON_BIN;
  }
};

TEST_F(PlotCurves, DrawsAResumedPreTrainingRunDirectoryIntoItsPicturesFolder) {
  const auto dir = fresh_dir("plot_curves_pretrain");
  std::string text;
  for (int step = 1; step <= 12; ++step) {
    if (step == 6) {
      // A NaN loss (Python's json reads the literal; the C++ writes null): dropped, the
      // line's other fields kept.
      text +=
          "{\"step\": 6, \"epoch\": 1.5, \"loss\": NaN, \"loss_semantic\": 1.9, \"lr\": 1e-4}\n";
    } else if (step == 7) {
      text +=
          "{\"step\": 7, \"epoch\": 1.75, \"loss\": null, \"skipped\": \"non-finite loss (nan)\", "
          "\"nonfinite_skipped\": 1}\n";
    } else {
      text += pretrain_step(step);
    }
  }
  text += "\n";  // a blank line
  // Resumed from the checkpoint of step 8 after a crash: steps 9..12 again, then on.
  for (int step = 9; step <= 16; ++step) text += pretrain_step(step, 1.1);
  text += "{\"step\": 17, \"epoch\": 4.25, \"loss\": 3.";  // torn by a kill
  testing::write_text(dir + "/metrics.jsonl", text);

  const auto r = plot_curves(quoted(dir));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto png = dir + "/pictures/curves.png";
  EXPECT_NE(r.output.find("wrote " + png), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("warning:"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("1 blank, 1 undecodable"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("15 step records (4 repeated"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("1 skipped"), std::string::npos) << r.output;
  // Step 6's NaN; the skipped step 7's null loss is its mark, not a dropped value.
  EXPECT_NE(r.output.find("skipped 1 value(s) that are null, NaN, infinite or over 1e+300"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(r.output.find("Traceback"), std::string::npos) << r.output;
  ASSERT_TRUE(fs::exists(png)) << r.output;
  const auto image = read_png(png);
  // Loss, lr and the generator weights: two rows.
  EXPECT_EQ(image.width, kWidth);
  EXPECT_EQ(image.height, 2 * kRowHeight);
  EXPECT_EQ(image.channels, 3);
  EXPECT_GT(ink(image), 0.01);
  // Written through a temporary file that is gone.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir + "/pictures"), fs::directory_iterator()), 1);
}

TEST_F(PlotCurves, DrawsAFineTuningMetricsFileWithItsEvaluationsWhereToldTo) {
  const auto dir = fresh_dir("plot_curves_finetune");
  std::string text;
  for (int step = 1; step <= 10; ++step) {
    text += "{\"step\": " + std::to_string(step) + ", \"epoch\": " + std::to_string(step / 5.0) +
            ", \"loss\": " + std::to_string(1.8 - 0.05 * step) +
            ", \"lr\": " + std::to_string(1e-3 * step / 10) +
            ", \"grad_norm\": 1.5, \"data_skipped\": 0, \"data_wait_s\": 0.01}\n";
    if (step % 5 == 0) {
      // The evaluation after an epoch shares its step number with the step line.
      text += "{\"step\": " + std::to_string(step) + ", \"epoch\": " + std::to_string(step / 5) +
              ", \"val_loss\": 1.7, \"val_top1\": " + std::to_string(20 + step) +
              ", \"val_top5\": 90, \"val_images\": 100, \"best_val_top1\": 30}\n";
    }
  }
  testing::write_text(dir + "/metrics.jsonl", text);
  fs::create_directories(dir + "/elsewhere");  // -o's folder must exist
  const auto out = dir + "/elsewhere/ft.png";
  const auto r = plot_curves(quoted(dir + "/metrics.jsonl") + " -o " + quoted(out) + " --smooth 3");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("wrote " + out), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("10 step records (0 repeated"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("2 evaluations"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("warning:"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir + "/pictures"));
  const auto image = read_png(out);
  // Loss, lr and validation: two rows.
  EXPECT_EQ(image.width, kWidth);
  EXPECT_EQ(image.height, 2 * kRowHeight);
  EXPECT_GT(ink(image), 0.01);
}

TEST_F(PlotCurves, TheLastRecordOfARepeatedStepWins) {
  // The crashed run's steps 3 and 4 logged generator weights, their replay does not: were
  // the first records kept, a weights panel would add a second row.
  const auto dir = fresh_dir("plot_curves_last_wins");
  testing::write_text(
      dir + "/metrics.jsonl",
      "{\"step\": 1, \"epoch\": 0.25, \"loss\": 2.0, \"lr\": 0.001}\n"
      "{\"step\": 2, \"epoch\": 0.5, \"loss\": 1.9, \"lr\": 0.002}\n"
      "{\"step\": 3, \"epoch\": 0.75, \"loss\": 1.8, \"lr\": 0.003, \"w_random\": 1}\n"
      "{\"step\": 4, \"epoch\": 1, \"loss\": 1.7, \"lr\": 0.004, \"w_random\": 1}\n"
      "{\"step\": 3, \"epoch\": 0.75, \"loss\": 1.8, \"lr\": 0.003}\n"
      "{\"step\": 4, \"epoch\": 1, \"loss\": Infinity, \"lr\": 0.004}\n");
  const auto r = plot_curves(quoted(dir));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("4 step records (2 repeated"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("skipped 1 value(s) that are null, NaN, infinite"), std::string::npos)
      << r.output;
  const auto image = read_png(dir + "/pictures/curves.png");
  EXPECT_EQ(image.width, kWidth);
  EXPECT_EQ(image.height, kRowHeight);  // loss and lr only: one row
}

TEST_F(PlotCurves, AMissingOrEmptyInputExitsTwoWithAMessage) {
  const auto dir = fresh_dir("plot_curves_errors");
  fs::create_directories(dir + "/not_a_run");
  testing::write_text(dir + "/empty.jsonl", "");
  testing::write_text(dir + "/blank.jsonl", "\n  \n\n");
  // An evaluation, a skipped step and a torn line: no trained step to draw.
  testing::write_text(
      dir + "/no_steps.jsonl",
      "{\"step\": 5, \"epoch\": 1, \"val_loss\": 1.7, \"val_top1\": 20}\n"
      "{\"step\": 6, \"epoch\": 1.2, \"loss\": null, \"skipped\": \"non-finite loss (nan)\"}\n"
      "{\"step\": 7, \"ep");
  const struct {
    std::string arg, says;
  } cases[] = {
      {dir + "/missing_run", "does not exist"},
      {dir + "/not_a_run", "has no metrics.jsonl"},
      {dir + "/empty.jsonl", "is empty"},
      {dir + "/blank.jsonl", "is empty"},
      {dir + "/no_steps.jsonl", "has no step records"},
  };
  for (const auto& c : cases) {
    const auto r = plot_curves(quoted(c.arg));
    EXPECT_EQ(r.exit_code, 2) << c.arg << "\n" << r.output;
    EXPECT_NE(r.output.find("error: " + c.arg), std::string::npos) << r.output;
    EXPECT_NE(r.output.find(c.says), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("Traceback"), std::string::npos) << r.output;
  }
  EXPECT_FALSE(fs::exists(dir + "/pictures"));
  EXPECT_FALSE(fs::exists(dir + "/not_a_run/pictures"));
  // A bad option: argparse's usage message, exit 2.
  testing::write_text(dir + "/one.jsonl", "{\"step\": 1, \"loss\": 1, \"lr\": 0.1}\n");
  const auto r = plot_curves(quoted(dir + "/one.jsonl") + " --smooth 0");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--smooth must be at least 1"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir + "/pictures"));
  // An output that is not a new or regular .png, or is the input itself: refused, untouched.
  fs::create_directories(dir + "/folder.png");
  fs::create_symlink(dir + "/one.jsonl", dir + "/link.png");
  for (const auto& [out, says] : std::vector<std::pair<std::string, std::string>>{
           {dir + "/one.jsonl", "the picture is a PNG"},
           {dir + "/curves.txt", "the picture is a PNG"},
           {dir + "/folder.png", "is not a regular file"},
           {dir + "/link.png", "is not a regular file"},
           {"", "error: -o is empty"},
           {dir + "/no_such_folder/c.png", "error: -o " + dir +
                                               "/no_such_folder/c.png: its folder " + dir +
                                               "/no_such_folder does not exist\n"},
           {dir + "/one.jsonl/c.png", "its folder " + dir + "/one.jsonl is not a folder"}}) {
    const auto refused = plot_curves(quoted(dir + "/one.jsonl") + " -o " + quoted(out));
    EXPECT_EQ(refused.exit_code, 2) << out << "\n" << refused.output;
    EXPECT_NE(refused.output.find(says), std::string::npos) << refused.output;
  }
  EXPECT_EQ(testing::read_text(dir + "/one.jsonl"), "{\"step\": 1, \"loss\": 1, \"lr\": 0.1}\n");
  EXPECT_TRUE(fs::is_directory(dir + "/folder.png"));
  EXPECT_FALSE(fs::exists(dir + "/curves.txt"));
  // Neither the mistyped folder nor the default picture was made.
  EXPECT_FALSE(fs::exists(dir + "/no_such_folder"));
  EXPECT_FALSE(fs::exists(dir + "/pictures"));
}

TEST_F(PlotCurves, ADeviceAFifoOrAFolderAsTheMetricsFileIsRefusedUnread) {
  // The run: metrics.jsonl a link to /dev/zero, which the script read until it held
  // 21.5 GB. A FIFO nobody writes to would block open() for ever.
  const auto dir = fresh_dir("plot_curves_not_a_file");
  fs::create_directories(dir + "/zero_run");
  fs::create_symlink("/dev/zero", dir + "/zero_run/metrics.jsonl");
  ASSERT_EQ(::mkfifo((dir + "/fifo.jsonl").c_str(), 0644), 0);
  fs::create_directories(dir + "/folder_run/metrics.jsonl");
  const struct {
    std::string arg, metrics, says;
  } cases[] = {
      {dir + "/zero_run", dir + "/zero_run/metrics.jsonl", "is a device, not a file"},
      {dir + "/zero_run/metrics.jsonl", dir + "/zero_run/metrics.jsonl", "is a device, not a file"},
      {dir + "/fifo.jsonl", dir + "/fifo.jsonl", "is a FIFO, not a file"},
      {dir + "/folder_run", dir + "/folder_run/metrics.jsonl", "is a directory"},
  };
  for (const auto& c : cases) {
    const auto r = plot_curves_in_1gb(quoted(c.arg));
    EXPECT_EQ(r.exit_code, 2) << c.arg << "\n" << r.output;
    EXPECT_NE(r.output.find("error: " + c.metrics + " " + c.says), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("Traceback"), std::string::npos) << r.output;
  }
  EXPECT_FALSE(fs::exists(dir + "/zero_run/pictures"));
  EXPECT_FALSE(fs::exists(dir + "/pictures"));
}

TEST_F(PlotCurves, ALineOverOneMebibyteIsSkippedAsDamagedWithoutBeingHeld) {
  const auto dir = fresh_dir("plot_curves_long_line");
  // 8 MiB without a newline: read past in pieces, in 1 GB.
  testing::write_text(dir + "/no_newline.jsonl", std::string(8 << 20, '['));
  auto r = plot_curves_in_1gb(quoted(dir + "/no_newline.jsonl"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("skipped 1 damaged line(s) over 1 MiB long: line 1\n"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("has no step records"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("Traceback"), std::string::npos) << r.output;
  // A step line padded past 1 MiB among good ones (valid JSON, but not read): the others
  // are drawn.
  testing::write_text(dir + "/metrics.jsonl", pretrain_step(1) +
                                                  "{\"step\": 2, \"loss\": 1, \"pad\": \"" +
                                                  std::string(2 << 20, 'x') + "\"}\n" +
                                                  pretrain_step(2) + pretrain_step(3));
  r = plot_curves(quoted(dir));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("skipped 1 damaged line(s) over 1 MiB long: line 2\n"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("3 step records (0 repeated"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::exists(dir + "/pictures/curves.png"));
}

TEST_F(PlotCurves, AbsurdOrNonFiniteValuesAndStepsAreSkippedAndCounted) {
  // Python's json reads 1e308 and -1.7e308 (finite, but their difference and the axes'
  // margins overflow), NaN, Infinity, 1e400 (infinite) and integers of any size.
  const auto dir = fresh_dir("plot_curves_absurd");
  const std::string huge_int = "1" + std::string(400, '0');
  std::string text =
      "{\"step\": 1, \"epoch\": 0.25, \"loss\": 2.0, \"loss_rgb\": 1.1, \"lr\": 0.001, "
      "\"w_random\": 1}\n"
      "{\"step\": 2, \"epoch\": 0.5, \"loss\": 1e308, \"loss_rgb\": -1.7e308, "
      "\"lr\": Infinity, \"w_random\": NaN}\n";
  text += "{\"step\": 3, \"epoch\": 0.75, \"loss\": -Infinity, \"loss_rgb\": 1e400, \"lr\": " +
          huge_int + ", \"w_random\": 0.5}\n";
  // Keys matplotlib would read as mathtext, or cannot draw (a lone surrogate).
  text +=
      "{\"step\": 4, \"epoch\": 1, \"loss\": 1.7, \"loss_rgb\": 0.9, \"lr\": 0.002, "
      "\"w_random\": 0.5, \"loss_$x^{$\": 1.5, \"w_\\ud800\": 0.5}\n";
  // Steps that are no whole number in 0..2^53.
  text += "{\"step\": " + huge_int + ", \"loss\": 1}\n";
  text +=
      "{\"step\": -3, \"loss\": 1}\n"
      "{\"step\": 1e300, \"loss\": 1}\n"
      "{\"step\": 2.5, \"loss\": 1}\n";
  testing::write_text(dir + "/metrics.jsonl", text);
  const auto r = plot_curves(quoted(dir) + " --smooth 2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.find("Traceback"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("skipped 4 without a valid step line(s)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("skipped 7 value(s) that are null, NaN, infinite or over 1e+300"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("4 step records (0 repeated"), std::string::npos) << r.output;
  const auto image = read_png(dir + "/pictures/curves.png");
  // Loss, lr and the generator weights: two rows.
  EXPECT_EQ(image.width, kWidth);
  EXPECT_EQ(image.height, 2 * kRowHeight);
  EXPECT_GT(ink(image), 0.01);
}

TEST_F(PlotCurves, TheDroppedValuesAreCountedOnceWhateverTheirKind) {
  // null (how the C++ writes NaN), NaN, Infinity and an absurd value in step and evaluation
  // lines: 5 values, in one count. A skipped step's null loss is its mark, not counted.
  const auto dir = fresh_dir("plot_curves_dropped_once");
  testing::write_text(
      dir + "/metrics.jsonl",
      "{\"step\": 1, \"epoch\": 0.25, \"loss\": 2.0, \"lr\": 0.001}\n"
      "{\"step\": 2, \"epoch\": 0.5, \"loss\": null, \"lr\": NaN}\n"
      "{\"step\": 3, \"epoch\": 0.75, \"loss\": null, \"skipped\": \"non-finite loss (nan)\", "
      "\"nonfinite_skipped\": 1}\n"
      "{\"step\": 4, \"epoch\": 1, \"loss\": 1.5, \"lr\": Infinity}\n"
      "{\"step\": 4, \"epoch\": 1, \"val_loss\": null, \"val_top1\": 1e301, \"val_top5\": 90}\n");
  const auto r = plot_curves(quoted(dir));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string count = "skipped 5 value(s) that are null, NaN, infinite or over 1e+300";
  EXPECT_NE(r.output.find(count), std::string::npos) << r.output;
  // No second, different count of the same values (stdout and stderr are merged here).
  EXPECT_EQ(r.output.find(" value(s)"), r.output.rfind(" value(s)")) << r.output;
  EXPECT_EQ(r.output.find("non-finite"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("3 step records (0 repeated, the last kept), 1 skipped, 1 evaluations"),
            std::string::npos)
      << r.output;
  EXPECT_TRUE(fs::exists(dir + "/pictures/curves.png"));
}

TEST_F(PlotCurves, CharactersTheFontLacksAreDrawnWithoutAPythonWarning) {
  // CJK ideographs and a Linear B syllable (a surrogate pair in the JSON), which matplotlib's
  // DejaVu Sans lacks, in a loss term, a generator weight and the run directory's name (the
  // title): matplotlib warns of each, naming this script's line, unless the script stops it.
  const auto dir = fresh_dir("plot_curves_glyphs") + "/run_\u4f60\u597d";
  fs::create_directories(dir);
  testing::write_text(dir + "/metrics.jsonl",
                      "{\"step\": 1, \"loss\": 2.0, \"loss_\\u4f60\\u597d\": 1.2, "
                      "\"lr\": 0.001, \"w_\\ud800\\udc00\": 1}\n"
                      "{\"step\": 2, \"loss\": 1.8, \"loss_\\u4f60\\u597d\": 1.1, "
                      "\"lr\": 0.002, \"w_\\ud800\\udc00\": 1}\n");
  const auto r = plot_curves(quoted(dir));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.find("Warning"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("Glyph"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("plot_curves.py:"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("warning:"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("wrote "), std::string::npos) << r.output;
  const auto image = read_png(dir + "/pictures/curves.png");
  EXPECT_EQ(image.width, kWidth);
  EXPECT_EQ(image.height, 2 * kRowHeight);  // loss, lr and the generator weight
  EXPECT_GT(ink(image), 0.01);
}

TEST_F(PlotCurves, JsonNestedPastTheRecursionLimitIsAnUndecodableLine) {
  const auto dir = fresh_dir("plot_curves_deep");
  // 100000 deep, as a line, as a step's value and as objects.
  const std::string list = std::string(100000, '[') + std::string(100000, ']');
  std::string objects;
  for (int i = 0; i < 100000; ++i) objects += "{\"a\": ";
  objects += "1" + std::string(100000, '}');
  testing::write_text(dir + "/metrics.jsonl",
                      list + "\n{\"step\": 1, \"loss\": " + list + "}\n" + objects + "\n");
  const auto r = plot_curves_in_1gb(quoted(dir));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("skipped 3 undecodable line(s)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("has no step records"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("Traceback"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace c2fmae
