// Shared test helpers: seeding and tensor comparison.
#pragma once
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <torch/torch.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace c2fmae::testing {

/// The whole content of a file, byte for byte ("" if it cannot be read).
inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

/// Writes `text` to `path` (a failed write fails the test).
inline void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  ASSERT_TRUE(out.good()) << path;
}

/// An empty directory `name` under GoogleTest's temporary directory (emptied if it exists).
/// Whether a temporary file of `path` (path.tmp, or path.tmp.<pid>.<n> of the atomic writer)
/// is left beside it.
inline bool has_temporary(const std::string& path) {
  const std::filesystem::path p(path);
  const auto prefix = p.filename().string() + ".tmp";
  std::error_code ec;
  for (std::filesystem::directory_iterator it(p.parent_path(), ec), end; !ec && it != end;
       it.increment(ec)) {
    if (it->path().filename().string().rfind(prefix, 0) == 0) return true;
  }
  return false;
}

inline std::string fresh_dir(const std::string& name) {
  const auto dir = std::filesystem::path(::testing::TempDir()) / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

/// Rows b * L + l of the true entries of a [B, L] bool mask, ascending (core/mask.h).
inline torch::Tensor rows_of(const torch::Tensor& masked) {
  return masked.flatten().nonzero().flatten();
}

/// The rows `rows` of per-token values [B, L, X] -> [N, X] (what the model predicts).
inline torch::Tensor take_rows(const torch::Tensor& x, const torch::Tensor& rows) {
  return x.reshape({-1, x.size(-1)}).index_select(0, rows);
}

/// What a shell command printed (stdout + stderr) and its exit code (-1 if it did not exit).
struct CommandResult {
  int exit_code = -1;
  std::string output;
};

/// Runs `cmd` with /bin/sh, stderr merged into stdout.
inline CommandResult run_command(const std::string& cmd) {
  CommandResult r;
  FILE* pipe = popen(("(" + cmd + ") 2>&1").c_str(), "r");
  if (!pipe) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) r.output.append(buf, n);
  const int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

/// Seeds LibTorch's generator (call at the start of every randomised test).
inline void seed(uint64_t s = 0) { torch::manual_seed(s); }

/// Largest |a - b| / max(|b|, floor) over all elements.
inline double max_rel_diff(const torch::Tensor& a, const torch::Tensor& b, double floor = 1e-6) {
  auto da = a.to(torch::kDouble), db = b.to(torch::kDouble);
  return ((da - db).abs() / db.abs().clamp_min(floor)).max().item<double>();
}

/// Expects equal shapes and |a - b| <= atol + rtol * |b| everywhere.
inline void expect_close(const torch::Tensor& a, const torch::Tensor& b, double rtol = 1e-5,
                         double atol = 1e-6) {
  ASSERT_EQ(a.sizes(), b.sizes());
  auto da = a.to(torch::kDouble), db = b.to(torch::kDouble);
  auto excess = ((da - db).abs() - (atol + rtol * db.abs())).max().item<double>();
  EXPECT_LE(excess, 0.0) << "max |a-b| = " << (da - db).abs().max().item<double>();
}

}  // namespace c2fmae::testing

#include "c2fmae/core/batch.h"
#include "c2fmae/data/instance_ids.h"

namespace c2fmae::testing {

/// A batch of random "blob" label maps: each sample is tiled by rectangles of random
/// labels in [0, num_labels) (plus ~10% kIgnoreClass pixels in semantic) so patches have
/// varied majorities; instance ids are canonical (1..n by area, as the loader gives them,
/// data/instance_ids.h) int64 with 0 as background.
inline Batch random_maps(int64_t batch, int64_t size, int64_t num_labels, uint64_t seed) {
  torch::manual_seed(seed);
  const int64_t cell = std::max<int64_t>(1, size / 4);
  auto coarse =
      torch::randint(0, num_labels, {batch, 1, (size + cell - 1) / cell, (size + cell - 1) / cell});
  auto up = [&](const torch::Tensor& t) {
    return t.repeat_interleave(cell, 2)
        .repeat_interleave(cell, 3)
        .narrow(2, 0, size)
        .narrow(3, 0, size)
        .squeeze(1)
        .contiguous();
  };
  Batch b;
  b.semantic = up(coarse);
  b.semantic.masked_fill_(torch::rand({batch, size, size}) < 0.1, 255);
  auto ids =
      torch::randint(1, 65535, {num_labels}).index({up(coarse).flatten()}).view_as(b.semantic);
  b.instance =
      data::canonical_instance_ids(torch::where(up(coarse) % 3 == 0, 0, ids), 64).to(torch::kLong);
  b.rgb = torch::randn({batch, 3, size, size});
  b.label = torch::randint(0, 10, {batch});
  return b;
}

}  // namespace c2fmae::testing
