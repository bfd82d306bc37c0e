#include "c2fmae/losses/c2fmae_loss.h"

#include "c2fmae/config/pretrain_config.h"
#include "test_helpers.h"

namespace c2fmae::losses {
namespace {

TEST(C2fmaeLoss, WeightedSumOfPerModalityTerms) {
  testing::seed(21);
  auto cfg = config::load_config<config::PretrainConfig>(
      {}, {"model.img_size=32", "model.num_semantic_classes=5"});
  C2fmaeLoss loss_fn(cfg.model, cfg.loss);
  auto batch = testing::random_maps(2, 32, 5, 3);
  batch.mask = torch::rand({2, 3, 4}) < 0.7;
  std::vector<torch::Tensor> rows, preds;
  for (int64_t m = 0; m < 3; ++m) rows.push_back(testing::rows_of(batch.mask.select(1, m)));
  preds = {torch::randn({rows[0].size(0), 5 * 16}), torch::randn({rows[1].size(0), 8 * 16}),
           torch::randn({rows[2].size(0), 16 * 16 * 3})};
  auto out = loss_fn(preds, rows, batch, {0.5, 2.0, 3.0});
  ASSERT_EQ(out.terms.size(), 3u);
  EXPECT_EQ(out.terms[0].first, Modality::kSemantic);
  EXPECT_EQ(out.terms[2].first, Modality::kRgb);
  auto expected = 0.5 * out.terms[0].second + 2.0 * out.terms[1].second + 3.0 * out.terms[2].second;
  EXPECT_NEAR(out.total.item<double>(), expected.item<double>(), 1e-5);
}

TEST(C2fmaeLoss, UnchangedByAnyChangeToVisibleTokenTargets) {
  testing::seed(22);
  auto cfg = config::load_config<config::PretrainConfig>(
      {}, {"model.img_size=32", "model.num_semantic_classes=5"});
  C2fmaeLoss loss_fn(cfg.model, cfg.loss);
  auto batch = testing::random_maps(2, 32, 5, 4);
  // A 2 x 2 grid of 16 px patches. A different token is visible in each modality
  // (semantic: 1, instance: 2, rgb: 3), so a loss that used another modality's mask fails.
  using torch::indexing::Slice;
  batch.mask = torch::ones({2, 3, 4}, torch::kBool);
  for (int64_t m = 0; m < 3; ++m) batch.mask.index_put_({Slice(), m, m + 1}, false);
  std::vector<torch::Tensor> rows, preds;
  for (int64_t m = 0; m < 3; ++m) rows.push_back(testing::rows_of(batch.mask.select(1, m)));
  preds = {torch::randn({rows[0].size(0), 5 * 16}), torch::randn({rows[1].size(0), 8 * 16}),
           torch::randn({rows[2].size(0), 16 * 16 * 3})};
  auto patch = [](int64_t token) {
    const int64_t r = token / 2 * 16, c = token % 2 * 16;
    return std::vector<torch::indexing::TensorIndex>{Slice(), Slice(r, r + 16), Slice(c, c + 16)};
  };
  auto rgb_patch = [](int64_t token) {
    const int64_t r = token / 2 * 16, c = token % 2 * 16;
    return std::vector<torch::indexing::TensorIndex>{Slice(), Slice(), Slice(r, r + 16),
                                                     Slice(c, c + 16)};
  };
  // Targets changed on token t of every modality: semantic 4, instance 60 (a new instance),
  // rgb 1e6.
  auto change = [&](const Batch& b, int64_t sem_token, int64_t ins_token, int64_t rgb_token) {
    Batch out = b;
    out.semantic = b.semantic.clone();
    out.semantic.index_put_(patch(sem_token), 4);
    out.instance = b.instance.clone();
    out.instance.index_put_(patch(ins_token), 60);
    out.rgb = b.rgb.clone();
    out.rgb.index_put_(rgb_patch(rgb_token), 1e6);
    return out;
  };
  auto before = loss_fn(preds, rows, batch, ModalityWeights{});
  auto after = loss_fn(preds, rows, change(batch, 1, 2, 3), ModalityWeights{});
  EXPECT_EQ(after.total.item<double>(), before.total.item<double>());
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(after.terms[i].second.item<double>(), before.terms[i].second.item<double>());
  }
  // The same change on a token masked in that modality does move each term.
  auto masked = loss_fn(preds, rows, change(batch, 2, 3, 1), ModalityWeights{});
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_NE(masked.terms[i].second.item<double>(), before.terms[i].second.item<double>()) << i;
  }
}

TEST(C2fmaeLoss, SlicesWithSummedCountsAddUpToTheWholeBatchInBothReductions) {
  // Data-parallel: each slice divides by the counts of the whole batch, so the slices'
  // terms add up to the whole batch's term (for every reduction and the instance loss).
  for (const char* reduction : {"pixels", "samples"}) {
    testing::seed(23);
    auto cfg = config::load_config<config::PretrainConfig>(
        {}, {"model.img_size=32", "model.num_semantic_classes=5",
             std::string("loss.reduction=") + reduction});
    C2fmaeLoss loss_fn(cfg.model, cfg.loss);
    auto batch = testing::random_maps(6, 32, 5, 5);
    batch.mask = torch::rand({6, 3, 4}) < 0.6;
    auto inputs = [&](const Batch& b) {
      std::vector<torch::Tensor> rows;
      for (int64_t m = 0; m < 3; ++m) rows.push_back(testing::rows_of(b.mask.select(1, m)));
      return rows;
    };
    auto rows = inputs(batch);
    torch::manual_seed(1);
    const std::vector<torch::Tensor> per_token = {torch::randn({6, 4, 5 * 16}),
                                                  torch::randn({6, 4, 8 * 16}),
                                                  torch::randn({6, 4, 16 * 16 * 3})};
    auto preds_of = [&](const std::vector<torch::Tensor>& r, int64_t first, int64_t n) {
      std::vector<torch::Tensor> out;
      for (size_t m = 0; m < 3; ++m) {
        out.push_back(testing::take_rows(per_token[m].narrow(0, first, n), r[m]));
      }
      return out;
    };
    const auto whole = loss_fn(preds_of(rows, 0, 6), rows, batch, {1.0, 1.0, 1.0});
    // Slices of 2, 1 and 3 samples; the counts of each are summed as an all-reduce would.
    const std::vector<std::pair<int64_t, int64_t>> slices = {{0, 2}, {2, 1}, {3, 3}};
    std::vector<Batch> parts;
    torch::Tensor counts;
    for (const auto& [first, n] : slices) {
      parts.push_back(batch.select(torch::arange(first, first + n)));
      loss_fn(preds_of(inputs(parts.back()), first, n), inputs(parts.back()), parts.back(),
              {1.0, 1.0, 1.0}, [&](const torch::Tensor& c) {
                counts = counts.defined() ? counts + c : c.clone();
                return c;
              });
    }
    std::vector<double> sums(3, 0.0);
    for (size_t i = 0; i < slices.size(); ++i) {
      const auto& [first, n] = slices[i];
      const auto out = loss_fn(preds_of(inputs(parts[i]), first, n), inputs(parts[i]), parts[i],
                               {1.0, 1.0, 1.0}, [&](const torch::Tensor&) { return counts; });
      for (size_t m = 0; m < 3; ++m) sums[m] += out.terms[m].second.item<double>();
    }
    for (size_t m = 0; m < 3; ++m) {
      EXPECT_NEAR(sums[m], whole.terms[m].second.item<double>(), 1e-5) << reduction << " " << m;
    }
  }
}

}  // namespace
}  // namespace c2fmae::losses
