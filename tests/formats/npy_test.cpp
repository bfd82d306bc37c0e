#include "c2fmae/formats/npy.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "test_helpers.h"

namespace c2fmae::formats {
namespace {

/// What NumPy writes before the header dict: magic, version 1.0, header length (LE uint16).
std::string preamble(uint16_t header_len) {
  return std::string("\x93NUMPY\x01\x00", 8) + static_cast<char>(header_len & 0xFF) +
         static_cast<char>(header_len >> 8);
}

TEST(Npy, HeaderIsVersion1WithTheDictPaddedTo64Bytes) {
  const std::string dict = "{'descr': '|u1', 'fortran_order': False, 'shape': (16, 3, 16), }";
  EXPECT_EQ(npy_header("|u1", {16, 3, 16}), preamble(118) + dict + std::string(53, ' ') + "\n");
}

TEST(Npy, OneAndZeroDimensionalShapesAreWrittenAsPythonTuples) {
  EXPECT_EQ(npy_header("<i8", {5}),
            preamble(118) + "{'descr': '<i8', 'fortran_order': False, 'shape': (5,), }" +
                std::string(60, ' ') + "\n");
  EXPECT_EQ(npy_header("<f4", {}), preamble(118) +
                                       "{'descr': '<f4', 'fortran_order': False, 'shape': (), }" +
                                       std::string(62, ' ') + "\n");
  // A long shape still ends on a 64-byte boundary.
  const auto long_shape = npy_header("<i8", {123456789, 987654321, 5, 6, 7, 8, 9});
  EXPECT_EQ(long_shape.size() % 64, 0u);
  EXPECT_EQ(long_shape.back(), '\n');
  EXPECT_NE(long_shape.find("(123456789, 987654321, 5, 6, 7, 8, 9)"), std::string::npos);
}

TEST(Npy, DtypesAreLittleEndianNumPyCodes) {
  EXPECT_EQ(npy_dtype(torch::kUInt8), "|u1");
  EXPECT_EQ(npy_dtype(torch::kLong), "<i8");
  EXPECT_EQ(npy_dtype(torch::kFloat), "<f4");
  EXPECT_THROW(npy_dtype(torch::kInt), std::invalid_argument);
  EXPECT_THROW(npy_dtype(torch::kBool), std::invalid_argument);
}

TEST(Npy, WritesHeaderThenTheDataInCOrder) {
  const auto dir = ::testing::TempDir() + "c2fmae_npy";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  // A transposed (non-contiguous) tensor is written in the C order of its logical shape.
  auto values =
      torch::tensor(std::vector<int64_t>{-1, 2, 300, 4, 5, int64_t{1} << 40}).view({3, 2}).t();
  write_npy(dir + "/a.npy", values);
  const auto bytes = testing::read_text(dir + "/a.npy");
  const auto header = npy_header("<i8", {2, 3});
  ASSERT_EQ(bytes.size(), header.size() + 6 * 8);
  EXPECT_EQ(bytes.substr(0, header.size()), header);
  const int64_t expected[6] = {-1, 300, 5, 2, 4, int64_t{1} << 40};
  EXPECT_EQ(std::memcmp(bytes.data() + header.size(), expected, sizeof expected), 0);
  EXPECT_EQ(static_cast<uint8_t>(bytes[header.size()]), 0xFF);  // little-endian -1
  EXPECT_FALSE(testing::has_temporary(dir + "/a.npy"));

  write_npy(dir + "/b.npy", torch::tensor({0, 1, 255}, torch::kUInt8));
  const auto u8 = testing::read_text(dir + "/b.npy");
  EXPECT_EQ(u8, npy_header("|u1", {3}) + std::string("\x00\x01\xFF", 3));

  write_npy(dir + "/c.npy", torch::tensor({1.5f, -2.0f}));
  const auto f32 = testing::read_text(dir + "/c.npy");
  const float floats[2] = {1.5f, -2.0f};
  EXPECT_EQ(f32, npy_header("<f4", {2}) + std::string(reinterpret_cast<const char*>(floats), 8));
}

TEST(Npy, AFailedWriteNamesThePathAndTheReason) {
  const auto path = ::testing::TempDir() + "c2fmae_npy_missing/sub/a.npy";
  try {
    write_npy(path, torch::zeros({2}, torch::kUInt8));
    FAIL() << "expected a write error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("No such file or directory"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(write_npy(::testing::TempDir() + "x.npy", torch::zeros({2}, torch::kInt)),
               std::invalid_argument);
}

}  // namespace
}  // namespace c2fmae::formats
