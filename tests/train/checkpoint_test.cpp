#include "c2fmae/train/checkpoint.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "test_helpers.h"

namespace c2fmae::train {
namespace {
namespace fs = std::filesystem;

struct Toy : torch::nn::Module {
  Toy() {
    w = register_parameter("w", torch::randn({3, 2}));
    b = register_buffer("b", torch::randn({2}));
  }
  torch::Tensor w, b;
};

/// A toy model and its optimizer saved by a CheckpointManager in a fresh folder.
struct ManagedToy {
  ManagedToy(const char* name, int64_t keep_last)
      : dir(testing::fresh_dir(name)), mgr(dir, keep_last) {}
  std::string save(int64_t step) {
    TrainingState st;
    st.step = step;
    return mgr.save(m, opt, st);
  }
  std::string dir;
  Toy m;
  optim::AdamW opt{{{{"w"}, {m.w}, 0.0}}, {}};
  CheckpointManager mgr;
};

TEST(Checkpoint, RoundTripsModelOptimizerStateAndRng) {
  testing::seed(40);
  auto dir = testing::fresh_dir("c2fmae_ckpt_roundtrip");
  Toy a;
  optim::AdamW opt({{{"w"}, {a.w}, 0.0}}, {});
  a.w.mutable_grad() = torch::ones_like(a.w);
  opt.step(0.1);
  TrainingState st;
  st.step = 12;
  st.nonfinite_total = 1;
  st.config_yaml = "train:\n  seed: 1\n";
  const auto path = dir + "/c.pt";
  save_checkpoint(path, a, opt, st);
  EXPECT_FALSE(testing::has_temporary(path));
  const auto draw_after_save = torch::rand({1}).item<double>();

  testing::seed(99);
  Toy b;
  optim::AdamW opt_b({{{"w"}, {b.w}, 0.0}}, {});
  auto loaded = load_checkpoint(path, &b, &opt_b, torch::kCPU);
  EXPECT_TRUE(torch::equal(a.w, b.w));
  EXPECT_TRUE(torch::equal(a.b, b.b));
  EXPECT_EQ(loaded.step, 12);
  EXPECT_EQ(loaded.nonfinite_total, 1);
  EXPECT_EQ(loaded.config_yaml, st.config_yaml);
  EXPECT_EQ(torch::rand({1}).item<double>(), draw_after_save);  // RNG restored
}

TEST(Checkpoint, ManagerKeepsLastKLinksLatestAndSkipsCorruptFiles) {
  ManagedToy toy("c2fmae_ckpt_manager", 2);
  auto& [dir, m, opt, mgr] = toy;
  for (int64_t s : {5, 10, 15}) toy.save(s);
  auto files = mgr.list();
  ASSERT_EQ(files.size(), 2u);
  EXPECT_NE(files[0].find("checkpoint-00000015.pt"), std::string::npos);
  EXPECT_EQ(fs::read_symlink(fs::path(dir) / "latest.pt").string(), "checkpoint-00000015.pt");
  // A truncated newest checkpoint (a crash mid-copy) is skipped for the previous one.
  fs::resize_file(files[0], fs::file_size(files[0]) / 2);
  auto valid = mgr.newest_valid();
  ASSERT_TRUE(valid.has_value());
  EXPECT_NE(valid->find("checkpoint-00000010.pt"), std::string::npos);
  EXPECT_THROW(load_checkpoint(files[0], &m, &opt, torch::kCPU), std::runtime_error);
}

TEST(Checkpoint, ManagerFollowsLatestWhenTheNewestFileHasALowerStep) {
  ManagedToy toy("c2fmae_ckpt_branch", 1);
  auto& mgr = toy.mgr;
  auto save = [&](int64_t step) { return toy.save(step); };
  const auto abandoned = save(20);
  // E.g. a run resumed from step 7, or a non-finite stop saving the last good step.
  const auto written = save(8);
  EXPECT_TRUE(fs::exists(written));    // never pruned by its own save
  EXPECT_TRUE(fs::exists(abandoned));  // a higher step: left alone
  EXPECT_EQ(mgr.latest(), written);
  EXPECT_EQ(mgr.newest_valid(), written);
  const auto next = save(9);
  EXPECT_FALSE(fs::exists(written));  // keep_last 1: the lower step goes
  EXPECT_TRUE(fs::exists(abandoned));
  EXPECT_EQ(mgr.newest_valid(), next);
  // latest.pt's checkpoint unreadable: the highest step that loads.
  fs::resize_file(next, fs::file_size(next) / 2);
  EXPECT_EQ(mgr.newest_valid(), abandoned);
}

// Flips `bits` bits spread over the bytes of `path` from `from` (a fraction of its size) on,
// each in another byte.
void flip_bits(const std::string& path, double from, int bits) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  const auto size = static_cast<int64_t>(fs::file_size(path));
  const auto start = static_cast<int64_t>(from * static_cast<double>(size));
  for (int i = 0; i < bits; ++i) {
    const int64_t at = start + (size - start - 1) * i / std::max(1, bits);
    f.seekg(at);
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ (1 << (i % 8)));
    f.seekp(at);
    f.write(&c, 1);
  }
}

TEST(Checkpoint, BitRotIsACorruptCheckpointThatResumeAutoSkips) {
  ManagedToy toy("c2fmae_ckpt_bitrot", 3);
  auto& [dir, m, opt, mgr] = toy;
  toy.save(5);
  const auto newest = toy.save(10);
  // LibTorch's reader alone loads a flipped bit in a tensor's bytes: the CRCs catch it.
  const auto copy = dir + "/copy.pt";
  for (double from : {0.0, 0.3, 0.6, 0.9}) {
    fs::copy_file(newest, copy, fs::copy_options::overwrite_existing);
    flip_bits(copy, from, 1);
    try {
      load_checkpoint(copy, &m, &opt, torch::kCPU);
      ADD_FAILURE() << "a flipped bit at " << from << " of the file loaded";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("copy.pt is "), std::string::npos) << e.what();
    }
  }
  fs::copy_file(newest, copy, fs::copy_options::overwrite_existing);
  flip_bits(copy, 0.0, 8);
  EXPECT_THROW(load_checkpoint(copy, &m, &opt, torch::kCPU), std::runtime_error);
  fs::remove(copy);
  // A flip inside the tensor data: "corrupt", naming the entry; --resume auto goes back.
  std::string first_failure;
  for (int attempt = 0; attempt < 8 && first_failure.empty(); ++attempt) {
    fs::copy_file(newest, copy, fs::copy_options::overwrite_existing);
    flip_bits(copy, 0.05 * attempt, 1);
    try {
      load_checkpoint(copy, nullptr, nullptr, torch::kCPU);
    } catch (const std::runtime_error& e) {
      if (std::string(e.what()).find("corrupt: entry") != std::string::npos)
        first_failure = e.what();
    }
  }
  EXPECT_NE(first_failure.find("CRC error"), std::string::npos) << first_failure;
  fs::remove(copy);
  flip_bits(newest, 0.5, 1);
  const auto found = mgr.search();
  ASSERT_TRUE(found.path.has_value());
  EXPECT_NE(found.path->find("checkpoint-00000005.pt"), std::string::npos);
  ASSERT_EQ(found.failures.size(), 1u);
  EXPECT_FALSE(found.unreadable);
}

TEST(Checkpoint, NonFiniteWeightsAreADamagedCheckpointAndLinkLoopsAreNoCheckpoint) {
  ManagedToy toy("c2fmae_ckpt_nan", 3);
  auto& [dir, m, opt, mgr] = toy;
  toy.save(5);
  {
    torch::NoGradGuard no_grad;
    m.w[0][0] = std::nan("");
  }
  const auto bad = toy.save(10);  // valid CRCs, NaN inside
  try {
    load_checkpoint(bad, nullptr, nullptr, torch::kCPU);
    ADD_FAILURE() << "a NaN weight loaded";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("NaN or infinite values in model.w"), std::string::npos)
        << e.what();
  }
  auto found = mgr.search();  // --resume auto goes back past it
  ASSERT_TRUE(found.path.has_value());
  EXPECT_NE(found.path->find("checkpoint-00000005.pt"), std::string::npos);
  // A link loop named like a checkpoint, and latest.pt looping: skipped, never thrown.
  fs::remove(bad);
  fs::create_symlink("checkpoint-00000010.pt", dir + "/checkpoint-00000010.pt");
  fs::remove(dir + "/latest.pt");
  fs::create_symlink("latest.pt", dir + "/latest.pt");
  EXPECT_NO_THROW(found = mgr.search());
  ASSERT_TRUE(found.path.has_value());
  EXPECT_NE(found.path->find("checkpoint-00000005.pt"), std::string::npos);
}

TEST(Checkpoint, NamesWhatAnInputPathIsInsteadOfOpeningIt) {
  const auto dir = testing::fresh_dir("c2fmae_ckpt_inputs");
  ASSERT_EQ(::mkfifo((dir + "/fifo.pt").c_str(), 0644), 0);
  fs::create_symlink("loop.pt", dir + "/loop.pt");
  fs::create_symlink("gone.pt", dir + "/broken.pt");
  std::ofstream(dir + "/empty.pt").close();
  for (const auto& [path, expected] : std::vector<std::pair<std::string, std::string>>{
           {dir + "/fifo.pt", "is a FIFO"},  // open() would block for ever
           {dir + "/loop.pt", "link loop"},
           {dir + "/broken.pt", "broken link"},
           {dir + "/missing.pt", "does not exist"},
           {dir, "is a directory"},
           {"/dev/zero", "is a device"},
           {dir + "/empty.pt", "is empty"}}) {
    try {
      load_checkpoint(path, nullptr, nullptr, torch::kCPU);
      ADD_FAILURE() << path << " loaded";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace c2fmae::train
