#include "c2fmae/formats/safetensors.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "test_helpers.h"

namespace c2fmae::formats {
namespace {

using TensorDict = torch::OrderedDict<std::string, torch::Tensor>;

/// `n` as the 8 little-endian bytes that open a safetensors file.
std::string le64(uint64_t n) {
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
  return bytes;
}

/// A safetensors file's bytes: header length, header text, data buffer.
std::string file_bytes(const std::string& header, const std::string& buffer = "") {
  return le64(header.size()) + header + buffer;
}

std::vector<std::string> keys_of(const TensorDict& tensors) {
  std::vector<std::string> keys;
  for (const auto& item : tensors) keys.push_back(item.key());
  return keys;
}

/// Each test writes in its own folder (CTest runs tests in parallel processes).
class Safetensors : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "c2fmae_safetensors_test/" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }

  std::string write(const std::string& name, const std::string& bytes) {
    const auto path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }

  /// Expects reading a file of `bytes` to throw SafetensorsError naming the file and saying
  /// each of `parts`.
  void expect_rejected(const std::string& bytes, const std::vector<std::string>& parts) {
    const auto path = write("bad" + std::to_string(count_++) + ".safetensors", bytes);
    expect_read_error(path, parts);
  }

  static void expect_read_error(const std::string& path, const std::vector<std::string>& parts) {
    try {
      read_safetensors(path);
      ADD_FAILURE() << path << " was read without an error";
    } catch (const SafetensorsError& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find(path), std::string::npos) << message;
      for (const auto& part : parts)
        EXPECT_NE(message.find(part), std::string::npos) << "no '" << part << "' in: " << message;
    }
  }

  std::string dir_;
  int count_ = 0;
};

TEST_F(Safetensors, RoundTripsEveryDtypeWithZeroDimAndEmptyTensorsAndMetadata) {
  testing::seed();
  TensorDict in;
  in.insert("f64", torch::randn({2, 3}, torch::kDouble));
  in.insert("f32", torch::randn({4}));
  in.insert("f16", torch::randn({3, 1, 2}).to(torch::kHalf));
  in.insert("bf16", torch::randn({5}).to(torch::kBFloat16));
  in.insert("i64", torch::tensor({int64_t{-1}, int64_t{1} << 40, int64_t{7}}));
  in.insert("i32", torch::randint(-100000, 100000, {2, 2}, torch::kInt));
  in.insert("i16", torch::tensor({-32768, 0, 32767}).to(torch::kShort));
  in.insert("i8", torch::tensor({-128, 0, 127}).to(torch::kChar));
  in.insert("u8", torch::tensor({0, 1, 255}).to(torch::kByte));
  in.insert("bool", torch::tensor({true, false, true}));
  in.insert("scalar", torch::tensor(3.5f));
  in.insert("empty", torch::zeros({0, 3}));
  in.insert("empty_i8", torch::zeros({2, 0}, torch::kChar));
  const std::map<std::string, std::string> metadata = {
      {"format", "pt"}, {"note", "quotes \" and \\ and\na new line, \x01, caf\xC3\xA9"}};
  const auto path = dir_ + "/all.safetensors";
  write_safetensors(path, in, metadata);
  EXPECT_FALSE(testing::has_temporary(path));

  const auto out = read_safetensors(path);
  // By decreasing element size, in the given order within a size (aligned data).
  EXPECT_EQ(keys_of(out.tensors),
            (std::vector<std::string>{"f64", "i64", "f32", "i32", "scalar", "empty", "f16", "bf16",
                                      "i16", "i8", "u8", "bool", "empty_i8"}));
  for (const auto& item : in) {
    SCOPED_TRACE(item.key());
    const auto& got = out.tensors[item.key()];
    EXPECT_EQ(got.scalar_type(), item.value().scalar_type());
    EXPECT_EQ(got.sizes(), item.value().sizes());
    EXPECT_TRUE(got.device().is_cpu());
    EXPECT_TRUE(got.is_contiguous());
    EXPECT_TRUE(torch::equal(got, item.value()));
  }
  EXPECT_EQ(out.tensors["scalar"].dim(), 0);
  EXPECT_EQ(out.metadata, metadata);
}

TEST_F(Safetensors, NamesAreJsonEscaped) {
  const std::vector<std::string> names = {
      "a\"b", "back\\slash", "new\nline", "\x01", "", "caf\xC3\xA9 \xF0\x9F\x98\x80"};
  TensorDict in;
  for (size_t i = 0; i < names.size(); ++i)
    in.insert(names[i], torch::full({1}, static_cast<int64_t>(i)));
  const auto path = dir_ + "/names.safetensors";
  write_safetensors(path, in);
  const auto bytes = testing::read_text(path);
  for (const auto* escaped : {R"("a\"b")", R"("back\\slash")", R"("new\nline")", R"("\u0001")",
                              R"("":)", "\"caf\xC3\xA9 \xF0\x9F\x98\x80\""})
    EXPECT_NE(bytes.find(escaped), std::string::npos) << escaped;
  const auto out = read_safetensors(path);
  EXPECT_EQ(keys_of(out.tensors), names);
  for (size_t i = 0; i < names.size(); ++i)
    EXPECT_EQ(out.tensors[names[i]].item<int64_t>(), static_cast<int64_t>(i));
}

TEST_F(Safetensors, HeaderIsCompactJsonPaddedWithSpacesToEightBytes) {
  // The layouts the Python library writes for these (safetensors/src/tensor.rs tests).
  TensorDict one;
  one.insert("attn0", torch::arange(6, torch::kFloat).view({1, 1, 2, 3}));
  write_safetensors(dir_ + "/one.safetensors", one);
  const std::string header = R"({"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}})";
  const float values[6] = {0, 1, 2, 3, 4, 5};
  EXPECT_EQ(testing::read_text(dir_ + "/one.safetensors"),
            file_bytes(header + std::string(7, ' '),
                       std::string(reinterpret_cast<const char*>(values), sizeof values)));

  write_safetensors(dir_ + "/none.safetensors", TensorDict());
  EXPECT_EQ(testing::read_text(dir_ + "/none.safetensors"), file_bytes("{}      "));
  EXPECT_TRUE(read_safetensors(dir_ + "/none.safetensors").tensors.is_empty());

  write_safetensors(dir_ + "/meta.safetensors", TensorDict(), {{"framework", "pt"}});
  EXPECT_EQ(testing::read_text(dir_ + "/meta.safetensors"),
            file_bytes(R"({"__metadata__":{"framework":"pt"}})" + std::string(5, ' ')));
}

// Bytes of safetensors.torch.save_file (safetensors 0.8.0) for the tensors below with
// metadata={"format": "pt"}.
const char kPythonHeader[] =
    R"({"__metadata__":{"format":"pt"},"ids":{"dtype":"I64","shape":[3],"data_offsets":[0,24]},)"
    R"("weight":{"dtype":"F32","shape":[2,2],"data_offsets":[24,40]},)"
    R"("bias":{"dtype":"F16","shape":[2],"data_offsets":[40,44]},)"
    R"("flag":{"dtype":"BOOL","shape":[2],"data_offsets":[44,46]}}     )";
const char kPythonData[] =
    "\xff\xff\xff\xff\xff\xff\xff\xff\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"
    "\x00\x00\x00\x00\xc0\xbf\x00\x00\x00\xbf\x00\x00\x00\x3f\x00\x00\xc0\x3f\x00\x38\x00\xc0"
    "\x01\x00";

TEST_F(Safetensors, ReadsAndWritesWhatThePythonLibraryWrites) {
  const auto python = file_bytes(kPythonHeader, std::string(kPythonData, sizeof kPythonData - 1));
  const auto out = read_safetensors(write("python.safetensors", python));
  EXPECT_EQ(keys_of(out.tensors), (std::vector<std::string>{"ids", "weight", "bias", "flag"}));
  EXPECT_TRUE(
      torch::equal(out.tensors["ids"], torch::tensor({int64_t{-1}, int64_t{0}, int64_t{1} << 40})));
  EXPECT_TRUE(
      torch::equal(out.tensors["weight"], torch::arange(4, torch::kFloat).view({2, 2}) - 1.5));
  EXPECT_TRUE(torch::equal(out.tensors["bias"], torch::tensor({0.5, -2.0}).to(torch::kHalf)));
  EXPECT_TRUE(torch::equal(out.tensors["flag"], torch::tensor({true, false})));
  EXPECT_EQ(out.metadata, (std::map<std::string, std::string>{{"format", "pt"}}));

  write_safetensors(dir_ + "/again.safetensors", out.tensors, out.metadata);
  EXPECT_EQ(testing::read_text(dir_ + "/again.safetensors"), python);
}

TEST_F(Safetensors, ReadsTensorsInOffsetOrderFromAnyHeaderOrderAndLayout) {
  // Pretty-printed JSON (json.dumps(indent=2)), tensors listed out of offset order.
  const std::string header = R"({
  "b": {"dtype": "I8", "shape": [2], "data_offsets": [4, 6]},
  "__metadata__": {"k": "v"},
  "z": {"dtype": "U8", "shape": [0, 4], "data_offsets": [6, 6]},
  "a": {"shape": [], "data_offsets": [0, 4], "dtype": "F32"}
})";
  const float a = 1.5f;
  const auto path = write("order.safetensors",
                          file_bytes(header, std::string(reinterpret_cast<const char*>(&a), 4) +
                                                 std::string("\x01\xff", 2)));
  const auto out = read_safetensors(path);
  EXPECT_EQ(keys_of(out.tensors), (std::vector<std::string>{"a", "b", "z"}));
  EXPECT_EQ(out.tensors["a"].dim(), 0);
  EXPECT_EQ(out.tensors["a"].item<float>(), 1.5f);
  EXPECT_TRUE(torch::equal(out.tensors["b"], torch::tensor({1, -1}).to(torch::kChar)));
  EXPECT_EQ(out.tensors["z"].sizes(), (std::vector<int64_t>{0, 4}));
  EXPECT_EQ(out.metadata.at("k"), "v");
}

TEST_F(Safetensors, WritesNonContiguousAndBf16Tensors) {
  TensorDict in;
  in.insert("transposed", torch::arange(12, torch::kFloat).view({3, 4}).t());
  in.insert("strided", torch::arange(20, torch::kLong).slice(0, 5, 15, 2));
  in.insert("expanded", torch::tensor({7.0f}).expand({2, 3}));
  in.insert("bf16", torch::linspace(-3, 3, 12).view({3, 4}).t().to(torch::kBFloat16));
  auto param = torch::randn({2, 2}).requires_grad_();
  in.insert("param", param);
  for (const auto& item : in)
    if (item.key() != "param") {
      ASSERT_FALSE(item.value().is_contiguous()) << item.key();
    }
  write_safetensors(dir_ + "/views.safetensors", in);
  const auto out = read_safetensors(dir_ + "/views.safetensors");
  for (const auto& item : in) {
    SCOPED_TRACE(item.key());
    EXPECT_TRUE(out.tensors[item.key()].is_contiguous());
    EXPECT_TRUE(torch::equal(out.tensors[item.key()], item.value().detach()));
  }
  // bf16 values are stored as they are, not through float32: 1/3 keeps its bf16 bits.
  const auto third = torch::tensor({1.0f / 3}).to(torch::kBFloat16);
  TensorDict bf16;
  bf16.insert("third", third);
  write_safetensors(dir_ + "/bf16.safetensors", bf16);
  const auto bytes = testing::read_text(dir_ + "/bf16.safetensors");
  EXPECT_EQ(bytes.substr(bytes.size() - 2),
            std::string(static_cast<const char*>(third.data_ptr()), 2));
}

TEST_F(Safetensors, TensorsReadOwnTheirMemoryAndOutliveTheFile) {
  TensorDict in;
  in.insert("a", torch::ones({4}));
  in.insert("b", torch::zeros({4}));
  const auto path = dir_ + "/own.safetensors";
  write_safetensors(path, in);
  auto out = read_safetensors(path);
  std::filesystem::remove(path);
  auto a = out.tensors["a"], b = out.tensors["b"];
  EXPECT_EQ(a.storage().nbytes(), a.nbytes());
  a.add_(1);
  EXPECT_TRUE(torch::equal(a, torch::full({4}, 2.0f)));
  EXPECT_TRUE(torch::equal(b, torch::zeros({4})));
}

TEST_F(Safetensors, WriteRefusesUnsupportedTensorsAndTheMetadataName) {
  const auto path = dir_ + "/refused.safetensors";
  const auto refused = [&](const std::string& name, const torch::Tensor& t,
                           const std::string& part) {
    TensorDict in;
    in.insert(name, t);
    try {
      write_safetensors(path, in);
      ADD_FAILURE() << name << " was written";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("\nhint: "), std::string::npos) << e.what();
    }
  };
  refused("c", torch::zeros({2}, torch::kComplexFloat), "dtype");
  refused("u16", torch::zeros({2}, torch::kUInt16), "dtype");
  refused("sparse", torch::eye(3).to_sparse(), "not dense");
  refused("__metadata__", torch::zeros({2}), "__metadata__");
  refused("bad\xff", torch::zeros({2}), "UTF-8");
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_FALSE(testing::has_temporary(path));
}

TEST_F(Safetensors, AFailedWriteNamesThePathAndTheReason) {
  const auto path = dir_ + "/missing/sub/a.safetensors";
  TensorDict in;
  in.insert("a", torch::zeros({2}));
  try {
    write_safetensors(path, in);
    FAIL() << "expected a write error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("No such file or directory"), std::string::npos)
        << e.what();
  }
}

// --- files that are not valid safetensors files: one test per problem.

TEST_F(Safetensors, AMissingOrUnreadableFileNamesTheOsReason) {
  expect_read_error(dir_ + "/absent.safetensors", {"No such file or directory"});
  expect_read_error(dir_, {"Is a directory"});
}

TEST_F(Safetensors, AFileShorterThanTheHeaderLength) {
  expect_rejected("", {"0 bytes long", "8-byte header length", "\nhint: "});
  expect_rejected(std::string("{}\0\0\0", 5), {"5 bytes long"});
}

TEST_F(Safetensors, AHeaderLengthBeyondTheFile) {
  expect_rejected(le64(100) + "{}", {"header length 100 runs past the end of the 10-byte file"});
  expect_rejected(le64(~uint64_t{0}) + "{}",
                  {"header length 18446744073709551615 is over the limit"});
}

TEST_F(Safetensors, AHeaderOver100MB) {
  expect_rejected(le64(100'000'001) + "{}",
                  {"header length 100000001 is over the limit of 100 MB"});
  // A PyTorch checkpoint (a zip file) read as safetensors: the hint says what to do.
  expect_rejected(std::string("PK\x03\x04\x14\x00\x00\x00\x08\x00", 10),
                  {"over the limit", "hint: is it a safetensors file?", "save_file"});
}

TEST_F(Safetensors, AHeaderThatIsNotOneJsonObject) {
  expect_rejected(file_bytes("[1, 2]  "), {"does not start with '{'"});
  expect_rejected(file_bytes("        "), {"does not start with '{'"});
  expect_rejected(file_bytes(R"({"a": {"dtype": "F32")"), {"JSON object is not closed"});
  expect_rejected(file_bytes(R"({} {"a": 1})"), {"text after its JSON object, at byte 2"});
  expect_rejected(file_bytes(R"({"__metadata__": {}}, 3)"), {"text after its JSON object"});
  expect_rejected(file_bytes(R"({"a" 1})"), {"the header is not valid JSON"});
  expect_rejected(file_bytes(R"({"a": "\q"})"), {"the header is not valid JSON"});
  expect_rejected(file_bytes(R"({"a": [}])"), {"the header is not valid JSON"});
  expect_rejected(file_bytes("{\"\xff\": 1}"), {"the header is not valid UTF-8"});
  expect_rejected(file_bytes("{\"\xC0\xAF\": 1}"), {"not valid UTF-8"});  // overlong '/'
  expect_rejected(file_bytes(R"({3: {"dtype": "F32", "shape": [], "data_offsets": [0, 4]}})",
                             std::string(4, '\0')),
                  {"a key that is not a string"});
}

TEST_F(Safetensors, AnEntryWithoutDtypeShapeOrDataOffsets) {
  expect_rejected(file_bytes(R"({"w": {"shape": [1], "data_offsets": [0, 4]}})", "1234"),
                  {"tensor 'w' has no dtype"});
  expect_rejected(file_bytes(R"({"w": {"dtype": "F32", "data_offsets": [0, 4]}})", "1234"),
                  {"tensor 'w' has no shape"});
  expect_rejected(file_bytes(R"({"w": {"dtype": "F32", "shape": [1]}})", "1234"),
                  {"tensor 'w' has no data_offsets"});
}

TEST_F(Safetensors, AnEntryWithValuesOfTheWrongType) {
  const auto rejected = [&](const std::string& entry, const std::string& part) {
    expect_rejected(file_bytes(R"({"w": )" + entry + "}", "1234"), {"tensor 'w'", part});
  };
  rejected("3", "is not a JSON object with dtype, shape and data_offsets");
  rejected(R"(["F32", [1], [0, 4]])", "is not a JSON object");
  rejected(R"({"dtype": 32, "shape": [1], "data_offsets": [0, 4]})", "dtype is not a string");
  rejected(R"({"dtype": ["F32"], "shape": [1], "data_offsets": [0, 4]})", "dtype is not a string");
  rejected(R"({"dtype": "F32", "shape": "1", "data_offsets": [0, 4]})", "shape is not a list");
  rejected(R"({"dtype": "F32", "shape": ["1"], "data_offsets": [0, 4]})", "shape is not a list");
  rejected(R"({"dtype": "F32", "shape": [1.0], "data_offsets": [0, 4]})", "shape is not a list");
  rejected(R"({"dtype": "F32", "shape": [null], "data_offsets": [0, 4]})", "shape is not a list");
  rejected(R"({"dtype": "F32", "shape": [1], "data_offsets": [0, 2, 4]})",
           "data_offsets is not a list of two integers");
  rejected(R"({"dtype": "F32", "shape": [1], "data_offsets": {"0": 4}})",
           "data_offsets is not a list of two integers");
  rejected(R"({"dtype": "F32", "shape": [1], "data_offsets": ["0", "4"]})",
           "data_offsets is not a list of two non-negative integers");
  rejected(R"({"dtype": "F32", "shape": [1], "data_offsets": [-4, 4]})",
           "data_offsets is not a list of two non-negative integers");
}

TEST_F(Safetensors, AnUnknownDtype) {
  for (const auto* dtype : {"U16", "F8_E4M3", "float32", ""})
    expect_rejected(file_bytes(std::string(R"({"w": {"dtype": ")") + dtype +
                                   R"(", "shape": [1], "data_offsets": [0, 2]}})",
                               "12"),
                    {std::string("tensor 'w' has dtype '") + dtype + "', which is not supported",
                     "hint: the dtypes read are F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL"});
}

TEST_F(Safetensors, ANegativeDimension) {
  expect_rejected(
      file_bytes(R"({"w": {"dtype": "F32", "shape": [2, -3], "data_offsets": [0, 24]}})",
                 std::string(24, '\0')),
      {"tensor 'w' has the negative dimension -3 in its shape"});
}

TEST_F(Safetensors, OffsetsOutsideTheBuffer) {
  const std::string buffer(8, '\0');
  expect_rejected(
      file_bytes(R"({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})", buffer),
      {"tensor 'w' has data_offsets [0, 16] outside the data buffer of 8 bytes", "hint: "});
  expect_rejected(file_bytes(R"({"w": {"dtype": "F32", "shape": [0],)"
                             R"( "data_offsets": [18446744073709551616, 18446744073709551616]}})",
                             buffer),
                  {"outside the data buffer of 8 bytes"});
  expect_rejected(
      file_bytes(R"({"w": {"dtype": "U8", "shape": [0], "data_offsets": [8, 4]}})", buffer),
      {"tensor 'w' has data_offsets [8, 4] that end before they begin"});
}

TEST_F(Safetensors, OverlappingOffsets) {
  expect_rejected(file_bytes(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},)"
                             R"( "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
                             std::string(12, '\0')),
                  {"tensor 'b' (bytes 4 to 12) overlaps tensor 'a', which ends at byte 8"});
  // The same data given to two names is an overlap too.
  expect_rejected(file_bytes(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},)"
                             R"( "b": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})",
                             std::string(8, '\0')),
                  {"overlaps tensor 'a'"});
}

TEST_F(Safetensors, AGapBetweenTensors) {
  expect_rejected(file_bytes(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},)"
                             R"( "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}})",
                             std::string(12, '\0')),
                  {"bytes 4 to 8 of the data buffer, before tensor 'b', belong to no tensor"});
  expect_rejected(file_bytes(R"({"b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})",
                             std::string(8, '\0')),
                  {"bytes 0 to 4 of the data buffer, before tensor 'b', belong to no tensor"});
}

TEST_F(Safetensors, ABufferNotFullyCovered) {
  expect_rejected(file_bytes(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})",
                             std::string(8, '\0')),
                  {"the tensors end at byte 4 of the 8-byte data buffer", "hint: "});
  expect_rejected(file_bytes("{}      ", "x"), {"end at byte 0 of the 1-byte data buffer"});
}

TEST_F(Safetensors, AByteSizeThatDoesNotMatchDtypeAndShape) {
  expect_rejected(
      file_bytes(R"({"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 12]}})",
                 std::string(12, '\0')),
      {"tensor 'w' (F32, shape [2, 2]) needs 16 bytes but its data_offsets [0, 12] hold 12"});
  expect_rejected(file_bytes(R"({"w": {"dtype": "BF16", "shape": [], "data_offsets": [0, 4]}})",
                             std::string(4, '\0')),
                  {"(BF16, shape []) needs 2 bytes"});
}

TEST_F(Safetensors, AByteSizeThatOverflows64Bits) {
  // 2^62 elements of 4 bytes, and 2^32 x 2^32 elements: sizes past 64 bits, never allocated.
  expect_rejected(file_bytes(R"({"w": {"dtype": "F32", "shape": [4611686018427387904],)"
                             R"( "data_offsets": [0, 0]}})"),
                  {"tensor 'w' (F32, shape [4611686018427387904]) has more bytes than fit in a "
                   "64-bit size"});
  expect_rejected(file_bytes(R"({"w": {"dtype": "U8", "shape": [4294967296, 4294967296],)"
                             R"( "data_offsets": [0, 0]}})"),
                  {"more bytes than fit in a 64-bit size"});
  expect_rejected(file_bytes(R"({"w": {"dtype": "U8", "shape": [99999999999999999999999],)"
                             R"( "data_offsets": [0, 0]}})"),
                  {"more bytes than fit in a 64-bit size"});
}

TEST_F(Safetensors, ADuplicateName) {
  expect_rejected(file_bytes(R"({"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]},)"
                             R"( "a": {"dtype": "U8", "shape": [1], "data_offsets": [1, 2]}})",
                             "xy"),
                  {"the header names 'a' twice"});
  expect_rejected(file_bytes(R"({"__metadata__": {}, "__metadata__": {}})"),
                  {"names '__metadata__' twice"});
  expect_rejected(
      file_bytes(R"({"a": {"dtype": "U8", "dtype": "I8", "shape": [1], "data_offsets": [0, 1]}})",
                 "x"),
      {"tensor 'a' has dtype twice"});
  expect_rejected(file_bytes(R"({"__metadata__": {"k": "1", "k": "2"}})"),
                  {"__metadata__ has the key 'k' twice"});
}

TEST_F(Safetensors, MetadataThatIsNotStrings) {
  expect_rejected(file_bytes(R"({"__metadata__": {"epoch": 3}})"),
                  {"__metadata__ value of 'epoch' is not a string", "hint: "});
  expect_rejected(file_bytes(R"({"__metadata__": {"ok": null}})"),
                  {"value of 'ok' is not a string"});
  expect_rejected(file_bytes(R"({"__metadata__": {"list": ["a"]}})"),
                  {"value of 'list' is not a string"});
  expect_rejected(file_bytes(R"({"__metadata__": ["a", "b"]})"),
                  {"__metadata__ is not a JSON object of strings"});
  expect_rejected(file_bytes(R"({"__metadata__": "pt"})"), {"__metadata__ is not a JSON object"});
}

}  // namespace
}  // namespace c2fmae::formats
