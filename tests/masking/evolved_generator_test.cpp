// The affinity hierarchy (nesting, recovery of planted blocks) and the `evolved` generator.
#include "c2fmae/masking/evolved_generator.h"

#include <functional>
#include <limits>
#include <map>
#include <set>

#include "c2fmae/core/mask.h"
#include "c2fmae/masking/affinity_hierarchy.h"
#include "c2fmae/masking/generator_registry.h"
#include "masking/mask_spec.h"
#include "test_helpers.h"

namespace c2fmae::masking {
namespace {

/// [L, L] affinity on a grid x grid patch grid: `strong` between patches of the same
/// planted block (block id from `block_of`), `weak` otherwise, plus uniform noise.
torch::Tensor planted(int64_t grid, const std::function<int64_t(int64_t, int64_t)>& block_of,
                      double strong, double weak, double noise, uint64_t seed) {
  torch::manual_seed(seed);
  const int64_t l = grid * grid;
  auto a = torch::rand({l, l}) * noise;
  auto acc = a.accessor<float, 2>();
  for (int64_t i = 0; i < l; ++i) {
    for (int64_t j = 0; j < l; ++j) {
      acc[i][j] += block_of(i / grid, i % grid) == block_of(j / grid, j % grid) ? strong : weak;
    }
  }
  return a;
}

/// Whether two partitions of the patches are the same up to relabelling.
bool same_partition(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  std::map<int64_t, int64_t> ab, ba;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ab.emplace(a[i], b[i]).first->second != b[i]) return false;
    if (ba.emplace(b[i], a[i]).first->second != a[i]) return false;
  }
  return a.size() == b.size();
}

TEST(AffinityHierarchy, RecoversPlantedBlocks) {
  // Four quadrants of a 14 x 14 grid, then nine 3 x 3 tiles of a 9 x 9 grid (unequal
  // sizes, noise of half the gap between within and across).
  auto quadrant = [](int64_t r, int64_t c) { return (r / 7) * 2 + c / 7; };
  for (uint64_t seed = 0; seed < 5; ++seed) {
    AffinityHierarchy tree(planted(14, quadrant, 1.0, 0.2, 0.4, seed), 14);
    std::vector<int64_t> truth(196);
    for (int64_t p = 0; p < 196; ++p) truth[p] = quadrant(p / 14, p % 14);
    EXPECT_TRUE(same_partition(tree.level(4), truth)) << seed;
  }
  auto uneven = [](int64_t r, int64_t c) {
    return (r < 2 ? 0 : r < 6 ? 1 : 2) * 3 + (c < 4 ? 0 : c < 5 ? 1 : 2);
  };
  AffinityHierarchy tree(planted(9, uneven, 2.0, 0.5, 1.0, 7), 9);
  std::vector<int64_t> truth(81);
  for (int64_t p = 0; p < 81; ++p) truth[p] = uneven(p / 9, p % 9);
  EXPECT_TRUE(same_partition(tree.level(9), truth));
}

TEST(AffinityHierarchy, CoarserLevelsAreUnionsOfFinerGroups) {
  torch::manual_seed(3);
  AffinityHierarchy tree(torch::rand({196, 196}), 14);
  ASSERT_EQ(tree.merges().size(), 195u);
  for (int64_t fine = 2; fine <= 196; fine += 7) {
    const auto f = tree.level(fine);
    EXPECT_EQ(std::set<int64_t>(f.begin(), f.end()).size(), static_cast<size_t>(fine));
    for (int64_t coarse = 1; coarse < fine; coarse += 5) {
      const auto c = tree.level(coarse);
      // Every fine group lies inside one coarse group.
      std::map<int64_t, int64_t> parent;
      for (size_t p = 0; p < f.size(); ++p) {
        const auto it = parent.emplace(f[p], c[p]).first;
        ASSERT_EQ(it->second, c[p]) << "fine " << fine << " coarse " << coarse;
      }
    }
  }
  // Groups are connected on the grid (merges join touching groups only).
  const auto g = tree.level(12);
  for (int64_t id = 0; id < 12; ++id) {
    std::vector<int64_t> stack, seen(196, 0);
    int64_t size = 0, reached = 0;
    for (int64_t p = 0; p < 196; ++p) size += g[p] == id;
    for (int64_t p = 0; p < 196 && stack.empty(); ++p) {
      if (g[p] == id) stack.push_back(p), seen[p] = 1;
    }
    while (!stack.empty()) {
      const int64_t p = stack.back();
      stack.pop_back();
      ++reached;
      for (const int64_t q : {p - 14, p + 14, p % 14 ? p - 1 : -1, p % 14 != 13 ? p + 1 : -1}) {
        if (q >= 0 && q < 196 && !seen[q] && g[q] == id) seen[q] = 1, stack.push_back(q);
      }
    }
    EXPECT_EQ(reached, size) << "group " << id;
  }
}

TEST(AffinityHierarchy, RefusesAWrongShapeOrNonFiniteValues) {
  EXPECT_THROW(AffinityHierarchy(torch::rand({10, 10}), 4), std::invalid_argument);
  auto a = torch::rand({16, 16});
  a[2][3] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(AffinityHierarchy(a, 4), std::invalid_argument);
  EXPECT_EQ(scheduled_level(40, 10, 0.0, 196), 40);
  EXPECT_EQ(scheduled_level(40, 10, 1.0, 196), 10);
  EXPECT_EQ(scheduled_level(40, 10, 0.5, 196), 25);
  EXPECT_EQ(scheduled_level(40, 10, 0.0, 16), 16);  // clamped to L
}

MaskInputs inputs_with_affinity(int64_t b, int64_t grid, double progress, uint64_t seed) {
  torch::manual_seed(seed);
  MaskInputs in;
  in.batch.label = torch::zeros({b}, torch::kLong);
  in.batch.position = torch::arange(100, 100 + b, torch::kLong);
  in.affinity = torch::rand({b, grid * grid, grid * grid});
  in.progress = progress;
  return in;
}

TEST(EvolvedGenerator, ExactCountsAndDeterminismFromSamplePosition) {
  config::MaskingConfig cfg;
  for (const auto& [m, visible] : {std::pair<int64_t, int64_t>{1, 49}, {3, 98}}) {
    auto gen = make_generator("evolved", testing::mask_spec(m, visible), cfg);
    EXPECT_TRUE(gen->needs().affinity);
    for (double t : {0.0, 0.3, 1.0}) {
      auto in = inputs_with_affinity(6, 14, t, 1);
      auto mask = gen->generate(in, 11);
      EXPECT_NO_THROW(check_mask(mask, m, 196, visible));
      EXPECT_TRUE(mask.equal(gen->generate(in, 11)));
      EXPECT_FALSE(mask.equal(gen->generate(in, 12)));
      // A sample alone is masked as in its batch: keyed by its position.
      auto one = in.select(torch::tensor({4}, torch::kLong));
      EXPECT_TRUE(gen->generate(one, 11)[0].equal(mask[4]));
    }
  }
  // Without the affinity: a clear error, not a crash.
  auto gen = make_generator("evolved", testing::mask_spec(1, 49), cfg);
  MaskInputs none;
  none.batch.label = torch::zeros({2}, torch::kLong);
  EXPECT_THROW(gen->generate(none, 0), std::invalid_argument);
}

TEST(EvolvedGenerator, EarlyMasksFollowTheGridLateOnesWholeGroups) {
  // Early (alpha = 0): noise is the 2 x 2 cell pattern, so the hidden patches are whole
  // phases of it (a regular pattern). Late (alpha = 1): whole groups of the level are hidden,
  // at most one group cut.
  Rng rng(5);
  std::vector<int64_t> groups(196);
  for (int64_t p = 0; p < 196; ++p) groups[p] = (p / 14) / 4 * 4 + (p % 14) / 4;  // 16 tiles
  const auto early = evolved_hidden(rng, groups, 14, 2, 0.0, 147);
  std::map<int64_t, std::pair<int64_t, int64_t>> phase;  // phase -> (hidden, total)
  for (int64_t p = 0; p < 196; ++p) {
    auto& ph = phase[(p / 14) % 2 * 2 + p % 2];
    ph.first += early[p], ph.second += 1;
  }
  int64_t whole = 0;
  for (const auto& [k, v] : phase) whole += v.first == v.second;
  EXPECT_EQ(whole, 3);  // 147 = 3 phases of 49
  const auto late = evolved_hidden(rng, groups, 14, 2, 1.0, 147);
  std::map<int64_t, std::pair<int64_t, int64_t>> by_group;
  for (int64_t p = 0; p < 196; ++p) {
    auto& g = by_group[groups[p]];
    g.first += late[p], g.second += 1;
  }
  int64_t cut = 0;
  for (const auto& [k, v] : by_group) cut += v.first > 0 && v.first < v.second;
  EXPECT_LE(cut, 1);
}

}  // namespace
}  // namespace c2fmae::masking
