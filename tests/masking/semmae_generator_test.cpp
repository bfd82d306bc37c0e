// The `semmae` generator: SemMAE's intra-part -> inter-part schedule.
#include "c2fmae/masking/semmae_generator.h"

#include <map>

#include "c2fmae/core/mask.h"
#include "c2fmae/masking/generator_registry.h"
#include "c2fmae/masking/patch_majority.h"
#include "masking/mask_spec.h"
#include "test_helpers.h"

namespace c2fmae::masking {
namespace {

/// Parts of 14 x 14 patches: 7 vertical stripes of unequal widths (1..4 columns).
std::vector<int64_t> stripes() {
  const int64_t width[7] = {1, 2, 3, 4, 1, 2, 1};
  std::vector<int64_t> col_part;
  for (int64_t k = 0; k < 7; ++k) col_part.insert(col_part.end(), width[k], k);
  std::vector<int64_t> parts(196);
  for (int64_t p = 0; p < 196; ++p) parts[p] = col_part[p % 14];
  return parts;
}

/// Per part: (hidden, size).
std::map<int64_t, std::pair<int64_t, int64_t>> per_part(const std::vector<bool>& hidden,
                                                        const std::vector<int64_t>& parts) {
  std::map<int64_t, std::pair<int64_t, int64_t>> out;
  for (size_t p = 0; p < parts.size(); ++p) {
    out[parts[p]].first += hidden[p];
    out[parts[p]].second += 1;
  }
  return out;
}

TEST(SemmaeGenerator, IntraPartHidesTheSameShareOfEveryPart) {
  const auto parts = stripes();
  for (uint64_t seed = 0; seed < 20; ++seed) {
    Rng rng(seed);
    const auto hidden = semmae_hidden(rng, parts, 147, /*lambda=*/1.0);
    int64_t total = 0;
    for (const auto& [id, v] : per_part(hidden, parts)) {
      // round(0.75 n), give or take the one-patch corrections to the exact count.
      EXPECT_NEAR(v.first, 0.75 * v.second, 2.0) << "part " << id << " seed " << seed;
      total += v.first;
    }
    EXPECT_EQ(total, 147);
  }
}

TEST(SemmaeGenerator, InterPartHidesWholeParts) {
  const auto parts = stripes();
  for (uint64_t seed = 0; seed < 20; ++seed) {
    Rng rng(seed);
    const auto hidden = semmae_hidden(rng, parts, 147, /*lambda=*/0.0);
    int64_t total = 0, cut = 0;
    for (const auto& [id, v] : per_part(hidden, parts)) {
      cut += v.first > 0 && v.first < v.second;
      total += v.first;
    }
    EXPECT_EQ(total, 147);
    EXPECT_LE(cut, 1) << seed;  // whole parts in visiting order; the last one is cut
  }
}

TEST(SemmaeGenerator, SchedulesAndTheMixInBetween) {
  using S = config::SemmaeSchedule;
  EXPECT_DOUBLE_EQ(semmae_lambda(S::kQuadratic, 0.5), 0.75);  // SemMAE: 1 - t^2
  EXPECT_DOUBLE_EQ(semmae_lambda(S::kLinear, 0.25), 0.75);
  EXPECT_NEAR(semmae_lambda(S::kCosine, 0.5), 0.5, 1e-12);
  EXPECT_DOUBLE_EQ(semmae_lambda(S::kIntra, 0.9), 1.0);
  EXPECT_DOUBLE_EQ(semmae_lambda(S::kInter, 0.1), 0.0);
  // Between the two, each part's count lies between its intra and inter counts.
  const auto parts = stripes();
  Rng rng(3);
  const auto hidden = semmae_hidden(rng, parts, 147, 0.5);
  int64_t total = 0;
  for (const auto& [id, v] : per_part(hidden, parts)) total += v.first;
  EXPECT_EQ(total, 147);
}

TEST(SemmaeGenerator, SemanticPartsExactCountsAndDeterminism) {
  config::MaskingConfig cfg;
  for (const auto& [m, visible] : {std::pair<int64_t, int64_t>{1, 49}, {3, 98}}) {
    auto gen = make_generator("semmae", testing::mask_spec(m, visible), cfg);
    EXPECT_TRUE(gen->needs().label_maps);
    EXPECT_FALSE(gen->needs().affinity);
    auto batch = testing::random_maps(6, 56, 5, 2);
    batch.position = torch::arange(40, 46, torch::kLong);
    for (double t : {0.0, 0.5, 1.0}) {
      MaskInputs in(batch);
      in.progress = t;
      auto mask = gen->generate(in, 9);
      EXPECT_NO_THROW(check_mask(mask, m, 196, visible));
      EXPECT_TRUE(mask.equal(gen->generate(in, 9)));
      EXPECT_FALSE(mask.equal(gen->generate(in, 10)));
      auto one = in.select(torch::tensor({2}, torch::kLong));
      EXPECT_TRUE(gen->generate(one, 9)[0].equal(mask[2]));
    }
    // Late in training (inter-part) in MAE mode, the hidden patches are whole semantic
    // regions but for one.
    if (m == 1) {
      MaskInputs in(batch);
      in.progress = 1.0;
      auto mask = gen->generate(in, 4);
      const auto regions = patch_regions(batch.semantic, 14);
      for (int64_t i = 0; i < 6; ++i) {
        std::map<int64_t, std::pair<int64_t, int64_t>> by;
        for (int64_t p = 0; p < 196; ++p) {
          auto& v = by[regions[i][p].item<int64_t>()];
          v.first += mask[i][0][p].item<bool>(), v.second += 1;
        }
        int64_t cut = 0;
        for (const auto& [id, v] : by) cut += v.first > 0 && v.first < v.second;
        EXPECT_LE(cut, 1) << "sample " << i;
      }
    }
  }
}

TEST(SemmaeGenerator, AttentionPartsReadTheAffinity) {
  config::MaskingConfig cfg;
  cfg.semmae_parts = config::SemmaeParts::kAttention;
  auto gen = make_generator("semmae", testing::mask_spec(1, 49), cfg);
  EXPECT_TRUE(gen->needs().affinity);
  EXPECT_FALSE(gen->needs().label_maps);
  MaskInputs in;
  in.batch.label = torch::zeros({3}, torch::kLong);
  EXPECT_THROW(gen->generate(in, 0), std::invalid_argument);  // no affinity: a clear error
  torch::manual_seed(0);
  in.affinity = torch::rand({3, 196, 196});
  in.progress = 1.0;
  auto mask = gen->generate(in, 0);
  EXPECT_NO_THROW(check_mask(mask, 1, 196, 49));
}

}  // namespace
}  // namespace c2fmae::masking
