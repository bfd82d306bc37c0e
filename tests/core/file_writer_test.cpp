#include "c2fmae/core/file_writer.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

namespace c2fmae {
namespace {
namespace fs = std::filesystem;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const FileError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no FileError";
  return "";
}

std::string scratch(const std::string& name) {
  const auto dir =
      fs::temp_directory_path() / ("c2fmae_file_writer_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return (dir / name).string();
}

TEST(FileWriter, WritesEveryByteAndTruncates) {
  const std::string path = scratch("a.bin");
  std::string big(3 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7 + 1);
  {
    FileWriter out(path);
    out.write("header", 6);
    out.write(big.data(), big.size());
    out.write(nullptr, 0);
    out.sync();
    out.close();
    out.close();  // a second close does nothing
    EXPECT_FALSE(out.is_open());
  }
  std::ifstream in(path, std::ios::binary);
  const std::string got((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(got, "header" + big);
  {
    FileWriter out(path);  // truncates
    out.write("x", 1);
    out.close();
  }
  EXPECT_EQ(fs::file_size(path), 1u);
  {
    FileWriter out(path, 0644, FileWriter::Existing::kAppend);  // after the end
    out.write("yz", 2);
    out.close();
  }
  std::ifstream again(path, std::ios::binary);
  EXPECT_EQ(std::string((std::istreambuf_iterator<char>(again)), {}), "xyz");
  fs::remove_all(fs::path(path).parent_path());
}

TEST(FileWriter, RegularFileOrNoneRefusesWhatWouldBlockOrNeverEnd) {
  const std::string dir = fs::path(scratch("x")).parent_path().string();
  auto refused = [](const std::string& path, bool devices) {
    try {
      regular_file_or_none(path, devices);
    } catch (const FileError& e) {
      return std::string(e.what()).find("not a regular file") != std::string::npos;
    }
    return false;
  };
  EXPECT_FALSE(regular_file_or_none(dir + "/missing"));
  std::ofstream(dir + "/plain") << "x";
  EXPECT_TRUE(regular_file_or_none(dir + "/plain"));
  ASSERT_EQ(::mkfifo((dir + "/fifo").c_str(), 0644), 0);
  EXPECT_TRUE(refused(dir + "/fifo", true));
  EXPECT_TRUE(refused(dir, false));
  EXPECT_TRUE(refused("/dev/zero", false));
  EXPECT_TRUE(regular_file_or_none("/dev/null", /*devices=*/true));
  fs::remove_all(dir);
}

TEST(FileWriter, FailuresNameThePathAndTheReason) {
  const std::string missing = scratch("no/such/folder/a.bin");
  auto message = error_of([&] { FileWriter out(missing); });
  EXPECT_EQ(message, "cannot create " + missing + ": No such file or directory");
  fs::remove_all(fs::path(scratch("x")).parent_path());
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "no /dev/full to fill";
  message = error_of([&] {
    FileWriter out("/dev/full");
    out.write("abc", 3);
  });
  EXPECT_EQ(message, "cannot write /dev/full: No space left on device");
}

TEST(FileWriter, TryWriteRecordsTheFirstFailureAndCloseRaisesIt) {
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "no /dev/full to fill";
  FileWriter out("/dev/full");
  EXPECT_EQ(out.error(), 0);
  EXPECT_FALSE(out.try_write("abc", 3));
  EXPECT_EQ(out.error(), ENOSPC);
  EXPECT_FALSE(out.try_write("abc", 3));  // writes nothing more
  EXPECT_EQ(error_of([&] { out.close(); }), "cannot write /dev/full: No space left on device");
  EXPECT_FALSE(out.is_open());
}

}  // namespace
}  // namespace c2fmae
