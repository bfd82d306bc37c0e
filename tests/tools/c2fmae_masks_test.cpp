// Integration tests: the real c2fmae_masks program on the tiny config.
#include <sys/wait.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <vector>

#include "c2fmae/config/pretrain_config.h"
#include "c2fmae/train/mask_preview.h"
#include "data_fixture.h"
#include "pretrain_fixture.h"
#include "test_helpers.h"

namespace c2fmae {
namespace {
namespace fs = std::filesystem;

using Run = testing::CommandResult;
using testing::run_command;

Run masks(const std::string& args) {
  return run_command(std::string(C2FMAE_MASKS_BIN) + " " + args);
}

/// An .npy file as read back: dtype code, shape and the raw C-order data.
struct Npy {
  std::string dtype;
  std::vector<int64_t> shape;
  std::string data;

  int64_t numel() const {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
  }
  /// Element i of a '|u1' or '<i8' array.
  int64_t at(int64_t i) const {
    if (dtype == "|u1") return static_cast<uint8_t>(data[i]);
    int64_t v;
    std::memcpy(&v, data.data() + 8 * i, 8);
    return v;
  }
};

/// A tiny .npy 1.0 reader (the dict as NumPy writes it); fails the test on anything else.
Npy read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string bytes = ss.str();
  Npy out;
  EXPECT_GE(bytes.size(), 10u) << path;
  if (bytes.size() < 10) return out;
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8)) << path;
  const size_t len = static_cast<uint8_t>(bytes[8]) | (static_cast<uint8_t>(bytes[9]) << 8);
  EXPECT_EQ((10 + len) % 64, 0u) << path;
  const std::string dict = bytes.substr(10, len);
  EXPECT_EQ(dict.back(), '\n');
  EXPECT_NE(dict.find("'fortran_order': False"), std::string::npos) << dict;
  const auto d = dict.find("'descr': '") + 10;
  out.dtype = dict.substr(d, dict.find('\'', d) - d);
  const auto s = dict.find("'shape': (") + 10;
  std::stringstream dims(dict.substr(s, dict.find(')', s) - s));
  std::string dim;
  while (std::getline(dims, dim, ',')) {
    if (dim.find_first_not_of(' ') != std::string::npos) out.shape.push_back(std::stoll(dim));
  }
  out.data = bytes.substr(10 + len);
  const int64_t item = out.dtype == "|u1" ? 1 : 8;
  EXPECT_EQ(static_cast<int64_t>(out.data.size()), out.numel() * item) << path;
  return out;
}

/// The generators the program has registered, from the last line of its --help
/// ("Generators: a, b, c"); this test binary registers test-only ones the program lacks.
std::vector<std::string> program_generators() {
  const auto help = masks("--help").output;
  const auto at = help.rfind("Generators: ");
  std::vector<std::string> names;
  if (at == std::string::npos) return names;
  std::stringstream list(help.substr(at + 12, help.find('\n', at) - at - 12));
  std::string name;
  while (std::getline(list, name, ',')) names.push_back(name.substr(name.find_first_not_of(' ')));
  return names;
}

config::PretrainConfig tiny_config(const std::string& dir) {
  return config::load_config<config::PretrainConfig>({dir + "/tiny.yaml"}, {});
}

TEST(Masks, EveryGeneratorWritesMasksRegionIdsAndPictures) {
  const auto dir = testing::tiny_pretrain_dir("c2fmae_masks_all");
  const auto cfg = tiny_config(dir);
  const int64_t n = 16, m = static_cast<int64_t>(cfg.model.modalities.size());
  const int64_t l = cfg.model.grid_size() * cfg.model.grid_size(), size = cfg.model.img_size;
  const auto names = program_generators();
  for (const char* built_in : {"random", "semantic", "instance"}) {
    ASSERT_NE(std::find(names.begin(), names.end(), built_in), names.end()) << built_in;
  }
  for (const auto& name : names) {
    const auto out = dir + "/" + name;
    auto r = masks("--config " + dir + "/tiny.yaml --generator " + name +
                   " --progress 0.5 --count 16 --out " + out);
    ASSERT_EQ(r.exit_code, 0) << name << ": " << r.output;
    EXPECT_NE(r.output.find("wrote 16 pictures"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find(out), std::string::npos) << r.output;

    const auto mask = read_npy(out + "/masks.npy");
    EXPECT_EQ(mask.dtype, "|u1");
    ASSERT_EQ(mask.shape, (std::vector<int64_t>{n, m, l})) << name;
    for (int64_t i = 0; i < n; ++i) {
      int64_t visible = 0;
      for (int64_t k = 0; k < m * l; ++k) {
        const auto v = mask.at(i * m * l + k);
        ASSERT_TRUE(v == 0 || v == 1) << name << " sample " << i;
        visible += v == 0;
      }
      EXPECT_EQ(visible, cfg.masking.num_visible) << name << " sample " << i;
    }
    // The same masks and region ids as the library gives for these options.
    const auto preview = train::make_mask_preview(cfg, {name, 0.5, n});
    const auto expected = preview.batch.mask.to(torch::kUInt8).contiguous();
    EXPECT_EQ(mask.data, std::string(static_cast<const char*>(expected.data_ptr()), n * m * l));
    for (const char* file : {"semantic_patches.npy", "instance_patches.npy"}) {
      const auto ids = read_npy(out + "/" + file);
      EXPECT_EQ(ids.dtype, "<i8") << file;
      EXPECT_EQ(ids.shape, (std::vector<int64_t>{n, l})) << file;
      const auto& t = std::string(file) == "semantic_patches.npy" ? preview.semantic_patches
                                                                  : preview.instance_patches;
      EXPECT_EQ(ids.data,
                std::string(static_cast<const char*>(t.contiguous().data_ptr()), n * l * 8))
          << file;
    }
    for (int64_t i = 0; i < n; ++i) {
      char png[32];
      std::snprintf(png, sizeof png, "/sample_%04lld.png", static_cast<long long>(i));
      const auto picture = testing::read_image(out + png);
      EXPECT_EQ(picture.width, (3 + m) * size) << png;
      EXPECT_EQ(picture.height, size) << png;
    }
    EXPECT_FALSE(fs::exists(out + "/sample_0016.png"));
    for (const auto& e : fs::directory_iterator(out)) {
      EXPECT_NE(e.path().extension().string(), ".tmp") << e.path();
    }
  }
}

TEST(Masks, EnabledModalitiesSetThePanelsAndTheMaskAxis) {
  const auto dir = testing::tiny_pretrain_dir("c2fmae_masks_rgb_only");
  auto r = masks("--config " + dir +
                 "/tiny.yaml --set 'model.modalities=[rgb]' --set "
                 "masking.num_visible=4 --generator random --count 2 --out " +
                 dir + "/out");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(read_npy(dir + "/out/masks.npy").shape, (std::vector<int64_t>{2, 1, 16}));
  const auto picture = testing::read_image(dir + "/out/sample_0001.png");
  EXPECT_EQ(picture.width, 4 * 64);
  EXPECT_EQ(picture.height, 64);
}

TEST(Masks, APatchTheLabelMapsDoNotFitWritesNoRegionIds) {
  // An RGB-only model may use patch 6 with a generator that reads no map; the per-patch
  // region ids need whole label pixels per patch, so they are left out (and an earlier
  // run's are removed rather than left to read as this run's).
  const auto dir = testing::tiny_pretrain_dir("c2fmae_masks_patch6");
  const auto args =
      "--config " + dir + "/tiny.yaml --generator random --count 2 --out " + dir + "/out";
  ASSERT_EQ(masks(args).exit_code, 0);
  ASSERT_TRUE(fs::exists(dir + "/out/semantic_patches.npy"));
  auto r = masks(args +
                 " --set 'model.modalities=[rgb]' --set model.patch_size=6 --set "
                 "model.img_size=60 --set masking.num_visible=25 --set "
                 "'curriculum.keyframes=[{at: 0, random: 1}]' --set model.decoder_mode=parallel");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("patch 6 does not fit the label maps"), std::string::npos) << r.output;
  EXPECT_EQ(read_npy(dir + "/out/masks.npy").shape, (std::vector<int64_t>{2, 1, 100}));
  EXPECT_TRUE(fs::exists(dir + "/out/sample_0001.png"));
  EXPECT_FALSE(fs::exists(dir + "/out/semantic_patches.npy"));
  EXPECT_FALSE(fs::exists(dir + "/out/instance_patches.npy"));
}

TEST(Masks, BadArgumentsExit2WithAHintAndWriteNothing) {
  const auto dir = testing::tiny_pretrain_dir("c2fmae_masks_bad");
  const auto cfg = "--config " + dir + "/tiny.yaml ";
  const auto out = dir + "/out";
  std::ofstream(dir + "/file") << "keep";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--generator rnadom --count 4 --out " + out, "did you mean 'random'"},
      {"--generator blocky --count 4 --out " + out, "instance, random, semantic"},
      {"--generator random --progress 1.5 --out " + out, "progress 1.5 is outside [0, 1]"},
      {"--generator random --progress=-0.25 --out " + out, "outside [0, 1]"},
      {"--generator random --progress half --out " + out, "--progress half: not a number"},
      {"--generator random --count 0 --out " + out, "count 0 is below 1"},
      {"--generator random --count=-3 --out " + out, "count -3 is below 1"},
      {"--generator random --count 321 --out " + out, "more than the dataset's 320 samples"},
      {"--generator random --count 100000000 --set data.synthetic_samples=200000000 --out " + out,
       "held in memory"},
      {"--generator instance --count 4 --set model.modalities=[rgb] --set model.patch_size=2 "
       "--set model.img_size=16 --set masking.num_visible=10 "
       "--set 'curriculum.keyframes=[{at: 0, random: 1}]' --set model.decoder_mode=parallel "
       "--out " +
           out,
       "model.patch_size 2 is not a multiple of 4"},
      {"--generator random --count 4x --out " + out, "--count 4x: not a whole number"},
      {"--generator random --count 4", "--out is missing"},
      {"--count 4 --out " + out, "--generator is missing"},
      {"--generator random --count 4 --set model.dpeth=3 --out " + out, "did you mean 'depth'"},
      {"--generator random --count 4 --out " + dir + "/file", "is a file"},
      {"--generator random --count 4 --out " + dir + "/file/sub", "cannot create --out"},
      {"--generator random --count 4 --checkpoint " + dir + "/file --out " + out,
       "--checkpoint is read only by generators that read the attention affinity"},
      {"--generator evolved --count 4 --checkpoint " + dir + "/file --out " + out,
       "--checkpoint " + dir + "/file"},
      {"--generator evolved --count 4 --set 'model.modalities=[semantic]' "
       "--set masking.num_visible=12 --out " +
           out,
       "rgb"},
  };
  for (const auto& [args, message] : cases) {
    auto r = masks(cfg + args);
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.output;
    EXPECT_NE(r.output.find(message), std::string::npos) << args << "\n" << r.output;
    EXPECT_NE(r.output.find("hint: "), std::string::npos) << args << "\n" << r.output;
    EXPECT_EQ(r.output.find("frame #"), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(out)) << args;
  }
  EXPECT_EQ(testing::read_text(dir + "/file"), "keep");
}

TEST(Masks, TheEvolvedGeneratorReadsACheckpointsEmaEncoder) {
  const auto dir = testing::tiny_pretrain_dir("c2fmae_masks_evolved");
  auto r = run_command(std::string(C2FMAE_PRETRAIN_BIN) + " --config " + dir +
                       "/tiny.yaml --set train.max_steps=3 --set 'curriculum.keyframes=[{at: 0, "
                       "evolved: 1}]' --set masking.affinity_ema_decay=0 --output-dir " +
                       dir + "/run");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto args = "--config " + dir + "/tiny.yaml --generator evolved --progress 1 --count 8 ";
  auto fresh = masks(args + "--out " + dir + "/fresh");
  ASSERT_EQ(fresh.exit_code, 0) << fresh.output;
  EXPECT_NE(fresh.output.find("freshly initialised"), std::string::npos) << fresh.output;
  auto trained = masks(args + "--checkpoint " + dir + "/run/latest.pt --out " + dir + "/trained");
  ASSERT_EQ(trained.exit_code, 0) << trained.output;
  EXPECT_NE(trained.output.find("at step 3"), std::string::npos) << trained.output;
  // Other attention, other groups, other masks.
  EXPECT_NE(read_npy(dir + "/fresh/masks.npy").data, read_npy(dir + "/trained/masks.npy").data);
  // The EMA encoder of another model (here another image size) is refused, not ignored.
  auto other = masks(args + "--set model.img_size=96 --checkpoint " + dir +
                     "/run/latest.pt --out " + dir + "/other");
  EXPECT_EQ(other.exit_code, 2) << other.output;
  EXPECT_NE(other.output.find("written for another model"), std::string::npos) << other.output;
  EXPECT_FALSE(fs::exists(dir + "/other"));
}

TEST(Masks, PicturesOfAnEarlierLargerRunAreRemoved) {
  const auto dir = testing::tiny_pretrain_dir("c2fmae_masks_rerun");
  const auto args = "--config " + dir + "/tiny.yaml --generator random --out " + dir + "/out";
  std::ofstream(dir + "/keep.txt") << "mine";
  ASSERT_EQ(masks(args + " --count 4").exit_code, 0);
  fs::copy_file(dir + "/keep.txt", dir + "/out/notes.txt");
  ASSERT_TRUE(fs::exists(dir + "/out/sample_0003.png"));
  // Entries that only look like ours stay: a folder, a symlink, a number no run writes.
  fs::create_directories(dir + "/out/sample_0009.png/inside");
  fs::create_symlink(dir + "/keep.txt", dir + "/out/sample_0005.png");
  fs::copy_file(dir + "/keep.txt", dir + "/out/sample_9999.png");
  auto r = masks(args + " --count 2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(fs::exists(dir + "/out/sample_0001.png"));
  EXPECT_FALSE(fs::exists(dir + "/out/sample_0002.png"));
  EXPECT_FALSE(fs::exists(dir + "/out/sample_0003.png"));
  EXPECT_TRUE(fs::exists(dir + "/out/notes.txt"));  // files not ours are left alone
  EXPECT_TRUE(fs::is_directory(dir + "/out/sample_0009.png/inside"));
  EXPECT_TRUE(fs::is_symlink(dir + "/out/sample_0005.png"));
  EXPECT_TRUE(fs::exists(dir + "/out/sample_9999.png"));
  EXPECT_EQ(testing::read_text(dir + "/keep.txt"), "mine");
}

TEST(Masks, AFailedWriteExits1NamingTheFileAndTheReasonAndChangesNothing) {
  const auto dir = testing::tiny_pretrain_dir("c2fmae_masks_full");
  const auto out = dir + "/out";
  ASSERT_EQ(
      masks("--config " + dir + "/tiny.yaml --generator semantic --count 4 --out " + out).exit_code,
      0);
  std::vector<std::string> before;
  for (const auto& e : fs::directory_iterator(out)) before.push_back(e.path().filename());
  std::sort(before.begin(), before.end());
  const auto mask_before = testing::read_text(out + "/masks.npy");
  // A 1 KiB file-size limit: the region id arrays (16 x 16 x 8 bytes) cannot be written.
  auto r =
      run_command("bash -c 'ulimit -f 1; exec " + std::string(C2FMAE_MASKS_BIN) + " --config " +
                  dir + "/tiny.yaml --generator semantic --count 16 --out " + out + "'");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("File too large"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("semantic_patches.npy"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("nothing in " + out + " was changed"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("frame #"), std::string::npos) << r.output;
  // The earlier run's pictures and arrays, whole; no staging folder or temporary left.
  std::vector<std::string> after;
  for (const auto& e : fs::directory_iterator(out)) after.push_back(e.path().filename());
  std::sort(after.begin(), after.end());
  EXPECT_EQ(after, before);
  EXPECT_EQ(testing::read_text(out + "/masks.npy"), mask_before);
}

// The instance generator's guarantee (DESIGN.md §1: "an image with two or more regions
// always keeps one region visible"): an image with at least two instances keeps a visible
// token on some instance patch.
TEST(Masks, InstanceGeneratorKeepsAVisibleInstance) {
  const auto dir = testing::tiny_pretrain_dir("c2fmae_masks_instance_visible");
  const auto out = dir + "/out";
  auto r = masks("--config " + dir +
                 "/tiny.yaml --generator instance --progress 0.5 --count 16 "
                 "--out " +
                 out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto mask = read_npy(out + "/masks.npy");
  const auto ids = read_npy(out + "/instance_patches.npy");
  ASSERT_EQ(mask.shape.size(), 3u);
  const int64_t n = mask.shape[0], m = mask.shape[1], l = mask.shape[2];
  ASSERT_EQ(ids.shape, (std::vector<int64_t>{n, l}));
  int64_t checked = 0;
  for (int64_t i = 0; i < n; ++i) {
    std::set<int64_t> instances;
    for (int64_t k = 0; k < l; ++k) {
      if (ids.at(i * l + k) != 0) instances.insert(ids.at(i * l + k));
    }
    if (instances.size() < 2) continue;
    ++checked;
    bool kept = false;
    for (int64_t j = 0; j < m && !kept; ++j) {
      for (int64_t k = 0; k < l && !kept; ++k) {
        kept = mask.at((i * m + j) * l + k) == 0 && ids.at(i * l + k) != 0;
      }
    }
    EXPECT_TRUE(kept) << "sample " << i << " has " << instances.size()
                      << " instances and no visible instance patch";
  }
  EXPECT_GT(checked, 0) << "no sample with two instances: the test checks nothing";
}

}  // namespace
}  // namespace c2fmae
