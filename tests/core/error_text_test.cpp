#include "c2fmae/core/error_text.h"

#include <c10/util/Exception.h>
#include <torch/torch.h>

#include "test_helpers.h"

namespace c2fmae {
namespace {

TEST(ErrorText, LeavesOutLibTorchsAndGloosSourceLocations) {
  EXPECT_EQ(without_source_locations("[enforce fail at alloc_cpu.cpp:117] data. no memory"),
            "data. no memory");
  EXPECT_EQ(without_source_locations(
                "Connection closed by peer [/pytorch/third_party/gloo/gloo/transport/tcp/"
                "pair.cc:534] [127.0.0.1]:29500"),
            "Connection closed by peer [127.0.0.1]:29500");
  EXPECT_EQ(without_source_locations("a list [1, 2] and [x.txt] stay"),
            "a list [1, 2] and [x.txt] stay");
  try {
    TORCH_CHECK(false, "broken here");
  } catch (const c10::Error& e) {
    EXPECT_EQ(error_text(e), "broken here");
  }
}

TEST(ErrorText, AFailedCpuAllocationIsOutOfMemoryWithTheKeysToLower) {
  std::string text;
  try {
    auto huge = torch::empty({int64_t{1} << 50}, torch::kByte);  // a pebibyte
    ADD_FAILURE() << "a PiB was allocated";
  } catch (const std::exception& e) {
    text = error_text(e);
  }
  EXPECT_EQ(text.rfind("out of memory: ", 0), 0u) << text;
  EXPECT_NE(text.find("an allocation of 1048576.0 GiB failed"), std::string::npos) << text;
  EXPECT_EQ(text.find("err == 0"), std::string::npos) << text;
  EXPECT_NE(text.find("data.batch_size"), std::string::npos) << text;
  EXPECT_EQ(text.find("alloc_cpu.cpp"), std::string::npos) << text;
}

}  // namespace
}  // namespace c2fmae
