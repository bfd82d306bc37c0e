#include "c2fmae/train/dense_probe.h"

#include "test_helpers.h"

namespace c2fmae::train {
namespace {

TEST(DenseProbe, ALinearlySeparableCodeIsReadAndThePriorIsReported) {
  testing::seed(6);
  const int64_t n = 900, classes = 5;
  const auto code = torch::randn({classes, 12}) * 3.0;
  // Class 0 (the background) is half of the patches; -1 marks patches without a class.
  auto make = [&](int64_t count) {
    auto y = torch::randint(1, classes, {count});
    y.masked_fill_(torch::rand({count}) < 0.5, 0);
    y.narrow(0, 0, 10).fill_(-1);
    const auto x = code.index({y.clamp_min(0)}) + 0.3 * torch::randn({count, 12});
    return std::make_pair(x, y);
  };
  const auto [x, y] = make(n);
  const auto [xt, yt] = make(n);
  DenseProbeOptions options;
  options.background = {0};
  const auto r = dense_probe(x, y, xt, yt, classes, options);
  EXPECT_EQ(r.train_patches, n - 10);
  EXPECT_EQ(r.test_patches, n - 10);
  EXPECT_EQ(r.classes, classes);
  EXPECT_GT(r.patch_acc, 99.0);
  EXPECT_GT(r.mean_class_acc, 99.0);
  EXPECT_GT(r.miou, 98.0);
  // Always class 0: its share of the patches, no object class right, IoU only for class 0.
  const double share = 100.0 * yt.eq(0).sum().item<double>() / (n - 10);
  EXPECT_NEAR(r.prior_patch_acc, share, 1e-9);
  EXPECT_DOUBLE_EQ(r.prior_mean_class_acc, 0.0);
  EXPECT_NEAR(r.prior_miou, share / classes, 1e-9);
  EXPECT_GT(r.class_entropy, 1.0);
}

TEST(DenseProbe, NoiseIsNotReadAndBadInputIsRefused) {
  testing::seed(7);
  const auto y = torch::randint(0, 4, {800});
  const auto r = dense_probe(torch::randn({800, 8}), y, torch::randn({800, 8}),
                             torch::randint(0, 4, {800}), 4, {});
  EXPECT_LT(r.mean_class_acc, 40.0);
  EXPECT_THROW(dense_probe(torch::randn({8, 4}), torch::full({8}, -1, torch::kLong),
                           torch::randn({8, 4}), torch::zeros({8}, torch::kLong), 4, {}),
               c10::Error);
  EXPECT_THROW(dense_probe(torch::randn({8, 4}), torch::full({8}, 7, torch::kLong),
                           torch::randn({8, 4}), torch::zeros({8}, torch::kLong), 4, {}),
               c10::Error);
}

TEST(DenseProbe, ClassListsParse) {
  EXPECT_EQ(parse_class_list(""), std::vector<int64_t>{});
  EXPECT_EQ(parse_class_list(" 0-3, 7,2 "), (std::vector<int64_t>{0, 1, 2, 3, 7}));
  EXPECT_EQ(parse_class_list("255"), std::vector<int64_t>{255});
  for (const char* bad : {"a", "3-1", "-1", "1,,2", "1-", "70000", "1.5", "0-3x"}) {
    EXPECT_THROW(parse_class_list(bad), std::invalid_argument) << bad;
  }
}

}  // namespace
}  // namespace c2fmae::train
