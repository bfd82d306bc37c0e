#include "c2fmae/train/knn_classifier.h"

#include "test_helpers.h"

namespace c2fmae::train {
namespace {

TEST(KnnClassifier, VotesWeightedByExpSimilarityOverT) {
  // Training directions at 0, 10, 20 and 90 degrees; labels 0, 1, 1, 2.
  auto at = [](double deg) {
    const double r = deg * 3.141592653589793 / 180.0;
    return std::vector<float>{static_cast<float>(std::cos(r)), static_cast<float>(std::sin(r))};
  };
  std::vector<float> bank;
  for (double d : {0.0, 10.0, 20.0, 90.0}) {
    auto v = at(d);
    bank.insert(bank.end(), v.begin(), v.end());
  }
  const auto train = torch::tensor(bank).view({4, 2}) * 3.0;  // norms do not matter
  const auto labels = torch::tensor(std::vector<int64_t>{0, 1, 1, 2});
  // A test point at 2 degrees: with k = 1 its neighbour (0 degrees) says 0; with k = 3 the
  // two class-1 neighbours outvote it; a padding row (label -1) counts nowhere.
  auto test = torch::tensor(at(2.0)).view({1, 2});
  test = torch::cat({test, test});
  const auto truth = torch::tensor(std::vector<int64_t>{0, -1});
  auto r = knn_classify(train, labels, test, truth, 1, 0.07, 3);
  EXPECT_EQ(r.tested, 1);
  EXPECT_EQ(r.k, 1);
  EXPECT_DOUBLE_EQ(r.top1, 100.0);
  r = knn_classify(train, labels, test, truth, 3, 0.07, 3);
  EXPECT_DOUBLE_EQ(r.top1, 0.0);    // exp(cos 8°/T) + exp(cos 18°/T) > exp(cos 2°/T)
  EXPECT_DOUBLE_EQ(r.top5, 100.0);  // class 0 is second
  // A high temperature flattens the votes; a tiny one leaves the nearest alone.
  r = knn_classify(train, labels, test, truth, 3, 1e-3, 3);
  EXPECT_DOUBLE_EQ(r.top1, 100.0);
  // A tiny T in float32: exp(s / T) would overflow to inf for every neighbour and tie them;
  // the votes must still go to the nearest (class 2 at 90 degrees for a point at 88).
  const auto near_two = torch::tensor(at(88.0)).view({1, 2});
  r = knn_classify(train, labels, near_two, torch::tensor(std::vector<int64_t>{2}), 3, 1e-6, 3);
  EXPECT_DOUBLE_EQ(r.top1, 100.0);
  // k beyond the bank uses the whole bank.
  EXPECT_EQ(knn_classify(train, labels, test, truth, 50, 0.07, 3).k, 4);
}

TEST(KnnClassifier, SeparatesClustersAndIsAtChanceOnNoise) {
  testing::seed(5);
  const int64_t n = 600, classes = 6;
  const auto centres = torch::randn({classes, 16}) * 4.0;
  const auto train_labels = torch::arange(n) % classes;
  const auto test_labels = (torch::arange(n) + 1) % classes;
  const auto train = centres.index({train_labels}) + torch::randn({n, 16});
  const auto test = centres.index({test_labels}) + torch::randn({n, 16});
  auto r = knn_classify(train, train_labels, test, test_labels, 20, 0.07, classes, 64);
  EXPECT_GT(r.top1, 95.0);
  r = knn_classify(torch::randn({n, 16}), train_labels, torch::randn({n, 16}), test_labels, 20,
                   0.07, classes, 64);
  EXPECT_LT(r.top1, 100.0 / classes + 8.0);
  EXPECT_GT(r.top1, 100.0 / classes - 8.0);
  EXPECT_THROW(
      knn_classify(train, train_labels, test.narrow(1, 0, 8), test_labels, 20, 0.07, classes),
      c10::Error);
}

}  // namespace
}  // namespace c2fmae::train
