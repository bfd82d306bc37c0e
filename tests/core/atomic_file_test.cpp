// The atomic writer: readers see the old file or the new one, and it writes nothing but its
// own temporary file and the target.
#include "c2fmae/core/atomic_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "test_helpers.h"

namespace c2fmae {
namespace {
namespace fs = std::filesystem;

TEST(AtomicFile, NeitherAUsersTmpFileNorALinkPlantedThereIsWrittenThrough) {
  const auto dir = testing::fresh_dir("atomic_file_tmp");
  testing::write_text(dir + "/target.tmp", "the user's own file");
  testing::write_text(dir + "/elsewhere", "must stay");
  ASSERT_EQ(::symlink((dir + "/elsewhere").c_str(), (dir + "/other.tmp").c_str()), 0);
  write_text_atomically(dir + "/target", "new");
  write_text_atomically(dir + "/other", "new");
  EXPECT_EQ(testing::read_text(dir + "/target"), "new");
  EXPECT_EQ(testing::read_text(dir + "/target.tmp"), "the user's own file");
  EXPECT_EQ(testing::read_text(dir + "/elsewhere"), "must stay");
  EXPECT_TRUE(fs::is_symlink(dir + "/other.tmp"));
  // Each write has a temporary name of its own, gone after the rename.
  EXPECT_NE(unique_temporary_path(dir + "/a"), unique_temporary_path(dir + "/a"));
  for (const auto& e : fs::directory_iterator(dir)) {
    EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos) << e.path();
  }
}

TEST(AtomicFile, ANameAtTheLengthLimitStillGetsATemporaryName) {
  const auto dir = testing::fresh_dir("atomic_file_long");
  const std::string name(250, 'n');  // NAME_MAX is 255: name + ".tmp" would not fit
  write_text_atomically(dir + "/" + name, "long");
  EXPECT_EQ(testing::read_text(dir + "/" + name), "long");
  EXPECT_LE(fs::path(unique_temporary_path(dir + "/" + name)).filename().string().size(), 255u);
  // A write that fails leaves no temporary file.
  EXPECT_THROW(write_file_atomically(dir + "/failed",
                                     [](const std::string&) { throw std::runtime_error("no"); }),
               std::runtime_error);
  EXPECT_FALSE(testing::has_temporary(dir + "/failed"));
}

}  // namespace
}  // namespace c2fmae
