#include "c2fmae/core/input_file.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "test_helpers.h"

namespace c2fmae {
namespace {
namespace fs = std::filesystem;

TEST(InputFile, NamesWhatAPathIsWithoutOpeningIt) {
  const auto dir = testing::fresh_dir("c2fmae_input_file");
  std::ofstream(dir + "/file") << "x";
  std::ofstream(dir + "/empty").close();
  ASSERT_EQ(::mkfifo((dir + "/fifo").c_str(), 0644), 0);
  fs::create_symlink("loop", dir + "/loop");
  fs::create_symlink("gone", dir + "/broken");
  fs::create_symlink("file", dir + "/link");
  EXPECT_EQ(input_file_problem(dir + "/file"), "");
  EXPECT_EQ(input_file_problem(dir + "/link"), "");
  EXPECT_EQ(input_file_problem(dir + "/empty"), "is empty");
  EXPECT_EQ(input_file_problem(dir + "/empty", /*allow_empty=*/true), "");
  EXPECT_EQ(input_file_problem(dir + "/fifo"), "is a FIFO, not a file");
  EXPECT_EQ(input_file_problem(dir + "/loop"),
            "is a link loop (too many levels of symbolic links)");
  EXPECT_EQ(input_file_problem(dir + "/broken"), "is a broken link (its target does not exist)");
  EXPECT_EQ(input_file_problem(dir + "/missing"), "does not exist");
  EXPECT_EQ(input_file_problem(dir), "is a directory");
  EXPECT_EQ(input_file_problem("/dev/zero"), "is a device, not a file");
  if (::geteuid() != 0) {  // root reads any file
    fs::permissions(dir + "/file", fs::perms::none);
    EXPECT_EQ(input_file_problem(dir + "/file"), "cannot be read: Permission denied");
  }
}

}  // namespace
}  // namespace c2fmae
