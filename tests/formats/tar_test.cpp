// The tar format (formats/tar.h): the writer, the parser, and the errors of both.
#include "c2fmae/formats/tar.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>

#include "data_fixture.h"

namespace c2fmae::formats {
namespace {
namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

using TempDir = testing::ScratchDir;

using testing::read_bytes;

using testing::fake_file;
using testing::kJpegMagic;
using testing::kPngMagic;

template <typename E>
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  ADD_FAILURE() << "no exception";
  return "";
}

TEST(Tar, TarRoundTrip) {
  TempDir dir;
  const std::string path = dir / "t.tar";
  const std::string name100(100, 'n');
  const std::string long_name = std::string(150, 'p') + "/" + std::string(100, 'q');  // 251
  const std::vector<std::pair<std::string, Bytes>> members = {
      {"a/empty", {}},
      {"a/one.cls", {'7'}},
      {"a/b.jpg", fake_file(kJpegMagic, 511, 1)},
      {name100, fake_file(kJpegMagic, 512, 2)},
      {long_name, fake_file(kPngMagic, 513, 3)},
      {"big.bin", fake_file({}, (size_t{5} << 20) + 3, 4)},  // past the write buffer
  };
  TarWriter writer(path);
  for (const auto& [name, bytes] : members) writer.add(name, bytes.data(), bytes.size());
  writer.close();
  writer.close();  // a second close does nothing
  const Bytes file = read_bytes(path);
  EXPECT_EQ(writer.offset(), file.size());
  EXPECT_EQ(file.size() % 512, 0u);
  EXPECT_TRUE(std::all_of(file.end() - 1024, file.end(), [](uint8_t b) { return b == 0; }));
  const auto parsed = parse_tar_members(file.data(), file.size());
  ASSERT_EQ(parsed.size(), members.size());
  for (size_t i = 0; i < members.size(); ++i) {
    EXPECT_EQ(parsed[i].name, members[i].first);
    ASSERT_EQ(parsed[i].size, members[i].second.size());
    EXPECT_EQ(parsed[i].offset % 512, 0u);
    EXPECT_TRUE(std::equal(members[i].second.begin(), members[i].second.end(),
                           file.begin() + parsed[i].offset))
        << members[i].first;
  }
  EXPECT_THROW(writer.add("late", nullptr, 0), std::logic_error);
}

TEST(Tar, TarWriterRefusesNamesUstarCannotHold) {
  TempDir dir;
  TarWriter writer(dir / "t.tar");
  const Bytes one = {1};
  // 101 bytes without a '/', 256 bytes whose only '/' leaves 101 after it, 300 bytes.
  for (const auto& name :
       {std::string(101, 'x'), std::string(154, 'p') + "/" + std::string(101, 'q'),
        std::string(200, 'p') + "/" + std::string(99, 'q'), std::string()}) {
    const auto message = error_of<FormatError>([&] { writer.add(name, one.data(), 1); });
    EXPECT_NE(message.find("does not fit a ustar header"), std::string::npos) << message;
  }
  writer.add(std::string(155, 'p') + "/" + std::string(100, 'q'), one.data(), 1);  // 256: fits
  writer.close();
  const Bytes file = read_bytes(dir / "t.tar");
  ASSERT_EQ(parse_tar_members(file.data(), file.size()).size(), 1u);
}

TEST(Tar, TarWriterReportsOsErrorsWithPath) {
  TempDir dir;
  const std::string missing = dir / "no/such/folder/t.tar";
  auto message = error_of<FileError>([&] { TarWriter writer(missing); });
  EXPECT_NE(message.find(missing), std::string::npos) << message;
  EXPECT_NE(message.find("No such file"), std::string::npos) << message;
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "no /dev/full to fill";
  message = error_of<FileError>([&] {
    TarWriter writer("/dev/full");
    const Bytes data = fake_file(kJpegMagic, 1000, 5);
    writer.add("a.jpg", data.data(), data.size());
    writer.close();
  });
  EXPECT_NE(message.find("/dev/full"), std::string::npos) << message;
  EXPECT_NE(message.find("No space left"), std::string::npos) << message;
}

TEST(Tar, ParseRejectsBadChecksumAndMembersPastTheRange) {
  TempDir dir;
  TarWriter writer(dir / "t.tar");
  const Bytes data = fake_file(kJpegMagic, 700, 6);
  writer.add("k/a.jpg", data.data(), data.size());
  writer.add("k/a.cls", data.data(), 1);
  writer.close();
  const Bytes file = read_bytes(dir / "t.tar");
  const size_t span = 512 + 1024 + 512 + 512;  // both members with padding
  ASSERT_EQ(parse_tar_members(file.data(), span).size(), 2u);
  ASSERT_EQ(parse_tar_members(file.data(), span - 511).size(), 2u);  // ends with the data

  Bytes damaged = file;
  damaged[3] ^= 0x20;  // one letter of the first name
  auto message = error_of<FormatError>([&] { parse_tar_members(damaged.data(), span); });
  EXPECT_NE(message.find("checksum"), std::string::npos) << message;
  EXPECT_NE(message.find("byte 0"), std::string::npos) << message;

  message = error_of<FormatError>([&] { parse_tar_members(file.data(), span - 512); });
  EXPECT_NE(message.find("k/a.cls (1 bytes) runs past the end"), std::string::npos) << message;
  message = error_of<FormatError>([&] { parse_tar_members(file.data(), 512 + 600); });
  EXPECT_NE(message.find("k/a.jpg (700 bytes) runs past the end"), std::string::npos) << message;
  message = error_of<FormatError>([&] { parse_tar_members(file.data(), 1536 + 100); });
  EXPECT_NE(message.find("ends inside the header"), std::string::npos) << message;

  Bytes directory = file;  // a non-regular member: type '5'
  directory[156] = '5';
  unsigned sum = 0;
  for (size_t i = 0; i < 512; ++i) sum += (i >= 148 && i < 156) ? ' ' : directory[i];
  std::snprintf(reinterpret_cast<char*>(&directory[148]), 8, "%06o", sum);
  message = error_of<FormatError>([&] { parse_tar_members(directory.data(), span); });
  EXPECT_NE(message.find("type '5'"), std::string::npos) << message;
}

}  // namespace
}  // namespace c2fmae::formats
