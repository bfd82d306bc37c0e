#include "c2fmae/masking/region_guided_generator.h"

#include <algorithm>
#include <thread>

#include "c2fmae/core/mask.h"
#include "c2fmae/core/patchify.h"
#include "c2fmae/data/synthetic_shapes.h"
#include "c2fmae/masking/instance_generator.h"
#include "c2fmae/masking/patch_majority.h"
#include "c2fmae/masking/semantic_generator.h"
#include "test_helpers.h"

namespace c2fmae::masking {
namespace {

const std::vector<Modality> kAllModalities = {Modality::kSemantic, Modality::kInstance,
                                              Modality::kRgb};

MaskSpec small_spec(int64_t visible, std::vector<Modality> modalities = kAllModalities) {
  MaskSpec s;
  s.modalities = std::move(modalities);
  s.grid = 4;
  s.patch = 4;
  s.num_visible = visible;
  return s;
}

RegionGuidedOptions options(double ratio, GuidedHideIn hide_in = GuidedHideIn::kGuideAndFiner,
                            double share = 0.5, double alpha = 1.0) {
  RegionGuidedOptions o;
  o.hide_ratio = ratio;
  o.dirichlet_alpha = alpha;
  o.max_region_share = share;
  o.hide_in = hide_in;
  return o;
}

/// 16x16 maps (4x4 patches of 4 px) split into four 8x8 quadrants labelled 0..3.
torch::Tensor quadrants(int64_t batch) {
  auto q = torch::tensor({{0, 1}, {2, 3}}, torch::kLong);
  return q.repeat_interleave(8, 0).repeat_interleave(8, 1).unsqueeze(0).repeat({batch, 1, 1});
}

/// Visible tokens of sample i inside quadrant k, in the rows `rows` (all if empty).
int64_t visible_in_quadrant(const torch::Tensor& mask, int64_t i, int64_t k,
                            std::vector<int64_t> rows = {}) {
  const int64_t m = mask.size(1);
  auto grid = mask[i].logical_not().view({m, 4, 4});
  const int64_t r = (k / 2) * 2, c = (k % 2) * 2;
  auto cells = grid.narrow(1, r, 2).narrow(2, c, 2);
  if (rows.empty()) return cells.sum().item<int64_t>();
  return cells.index_select(0, torch::tensor(rows, torch::kLong)).sum().item<int64_t>();
}

/// Rows of `modalities` in which a generator guided by `guide` hides regions.
std::vector<int64_t> hide_rows(const std::vector<Modality>& modalities, Modality guide,
                               GuidedHideIn hide_in) {
  std::vector<int64_t> rows;
  for (size_t j = 0; j < modalities.size(); ++j) {
    if (hide_in == GuidedHideIn::kAll ||
        static_cast<int64_t>(modalities[j]) >= static_cast<int64_t>(guide)) {
      rows.push_back(static_cast<int64_t>(j));
    }
  }
  return rows;
}

/// For each sample: number of regions, and whether some region patch is visible in `rows`.
struct RegionVisibility {
  std::vector<int64_t> regions;
  std::vector<bool> region_visible;
};

RegionVisibility region_visibility(const torch::Tensor& mask, const torch::Tensor& labels,
                                   const std::vector<int64_t>& rows, bool background_is_region) {
  RegionVisibility out;
  auto row_index = torch::tensor(rows, torch::kLong);
  for (int64_t i = 0; i < labels.size(0); ++i) {
    auto in_region =
        background_is_region ? torch::ones_like(labels[i], torch::kBool) : labels[i] != kNoInstance;
    auto ids = std::get<0>(at::_unique(labels[i].masked_select(in_region)));
    out.regions.push_back(ids.numel());
    auto visible = mask[i].logical_not().index_select(0, row_index).any(0);  // [L]
    out.region_visible.push_back((visible & in_region).any().item<bool>());
  }
  return out;
}

/// The hidden patches of a plan.
int64_t hidden_count(const HidingPlan& plan) {
  return std::count(plan.hidden.begin(), plan.hidden.end(), true);
}

TEST(RegionGuidedGenerator, SemanticHidesWholeRegionsInEveryModality) {
  Batch b;
  b.semantic = quadrants(8);
  for (auto hide_in : {GuidedHideIn::kAll, GuidedHideIn::kGuideAndFiner}) {
    SemanticGenerator gen(small_spec(20), options(0.5, hide_in));
    for (uint64_t seed = 0; seed < 10; ++seed) {
      auto mask = gen.generate(b, seed);
      ASSERT_NO_THROW(check_mask(mask, 3, 16, 20));
      for (int64_t i = 0; i < 8; ++i) {
        // target 8 of 16, at most max(1, 0.5 * 4) = 2 regions whole: exactly two quadrants
        // hidden in every modality; the 20 visible tokens come from the other two quadrants'
        // 24 tokens, so each of those keeps at least 8.
        int64_t empty = 0;
        for (int64_t k = 0; k < 4; ++k) {
          const auto v = visible_in_quadrant(mask, i, k);
          if (v == 0)
            ++empty;
          else
            EXPECT_GE(v, 8);
        }
        EXPECT_EQ(empty, 2);
      }
    }
  }
}

TEST(RegionGuidedGenerator, InstanceHidesInstancesNeverBackground) {
  Batch b;
  // Quadrant 3 is an instance with an arbitrary id; the rest is background.
  b.instance = torch::where(quadrants(4) == 3, 4242, 0);
  for (auto hide_in : {GuidedHideIn::kAll, GuidedHideIn::kGuideAndFiner}) {
    InstanceGenerator gen(small_spec(20), options(0.25, hide_in));
    for (uint64_t seed = 0; seed < 10; ++seed) {
      auto mask = gen.generate(b, seed);
      ASSERT_NO_THROW(check_mask(mask, 3, 16, 20));
      for (int64_t i = 0; i < 4; ++i) {
        // One region: hidden whole (it fits the target of 4), in the instance and RGB rows.
        EXPECT_EQ(visible_in_quadrant(mask, i, 3, {1, 2}), 0);
        // Background is no region: of its 12 patches only the top-up could hide some (none,
        // as the instance fills the target), so its instance and RGB rows hold the rest.
        EXPECT_GT(visible_in_quadrant(mask, i, 0, {1, 2}) +
                      visible_in_quadrant(mask, i, 1, {1, 2}) +
                      visible_in_quadrant(mask, i, 2, {1, 2}),
                  0);
      }
    }
  }
}

TEST(RegionGuidedGenerator, GuideAndFinerKeepsTheSemanticRowWhereInstancesAreHidden) {
  Batch b;
  b.instance = torch::where(quadrants(4) == 3, 4242, 0);
  InstanceGenerator finer(small_spec(20), options(0.25, GuidedHideIn::kGuideAndFiner));
  InstanceGenerator all(small_spec(20), options(0.25, GuidedHideIn::kAll));
  int64_t semantic_inside = 0;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    auto f = finer.generate(b, seed), a = all.generate(b, seed);
    for (int64_t i = 0; i < 4; ++i) {
      // The instance (quadrant 3) is always hidden whole (see above).
      semantic_inside += visible_in_quadrant(f, i, 3, {0});
      EXPECT_EQ(visible_in_quadrant(a, i, 3), 0);
    }
  }
  EXPECT_GT(semantic_inside, 0);
}

TEST(RegionGuidedGenerator, ExactCountsForEveryLayoutBudgetAndRatio) {
  const std::vector<std::vector<Modality>> layouts = {kAllModalities,
                                                      {Modality::kRgb},
                                                      {Modality::kInstance, Modality::kRgb},
                                                      {Modality::kSemantic, Modality::kRgb},
                                                      {Modality::kSemantic},
                                                      {Modality::kInstance}};
  std::vector<std::pair<std::string, Batch>> maps;
  auto add = [&](const std::string& name, torch::Tensor semantic, torch::Tensor instance) {
    Batch b;
    b.semantic = std::move(semantic);
    b.instance = std::move(instance);
    maps.emplace_back(name, std::move(b));
  };
  add("quadrants", quadrants(4), quadrants(4) * 7);
  add("one region", torch::full({4, 16, 16}, 5, torch::kLong), torch::full({4, 16, 16}, 9));
  add("all ignore / no instances", torch::full({4, 16, 16}, kIgnoreClass, torch::kLong),
      torch::zeros({4, 16, 16}, torch::kLong));
  // One region of 12 patches (> any target below 0.75) and one of 4.
  add("huge region", (quadrants(4) == 3).to(torch::kLong), (quadrants(4) != 3).to(torch::kLong));
  const auto random = testing::random_maps(4, 16, 5, 3);
  add("random", random.semantic, random.instance);
  for (const auto& modalities : layouts) {
    const int64_t m = static_cast<int64_t>(modalities.size());
    for (int64_t visible : {int64_t{1}, int64_t{7}, m * 16 / 2, m * 16 - 1, m * 16}) {
      for (double ratio : {0.0, 0.3, 0.5, 0.9, 1.0}) {
        for (auto hide_in : {GuidedHideIn::kAll, GuidedHideIn::kGuideAndFiner}) {
          for (double share : {0.5, 1.0}) {
            SemanticGenerator sem(small_spec(visible, modalities), options(ratio, hide_in, share));
            InstanceGenerator ins(small_spec(visible, modalities),
                                  options(ratio, hide_in, share, 0.1));
            for (const auto& [name, b] : maps) {
              for (uint64_t seed = 0; seed < 3; ++seed) {
                EXPECT_NO_THROW(check_mask(sem.generate(b, seed), m, 16, visible))
                    << name << " m=" << m << " v=" << visible << " r=" << ratio;
                EXPECT_NO_THROW(check_mask(ins.generate(b, seed), m, 16, visible))
                    << name << " m=" << m << " v=" << visible << " r=" << ratio;
              }
            }
          }
        }
      }
    }
  }
}

TEST(RegionGuidedGenerator, ExactCountsOnRandomMapsAtFullSize) {
  MaskSpec spec;
  spec.modalities = kAllModalities;
  spec.num_visible = 98;
  for (double ratio : {0.0, 0.5, 0.9, 1.0}) {
    for (auto hide_in : {GuidedHideIn::kAll, GuidedHideIn::kGuideAndFiner}) {
      SemanticGenerator sem(spec, options(ratio, hide_in));
      InstanceGenerator ins(spec, options(ratio, hide_in, 0.5, 0.5));
      for (uint64_t seed = 0; seed < 3; ++seed) {
        auto b = testing::random_maps(6, 224, 1 + seed * 3, seed);
        EXPECT_NO_THROW(check_mask(sem.generate(b, seed), 3, 196, 98)) << ratio;
        EXPECT_NO_THROW(check_mask(ins.generate(b, seed), 3, 196, 98)) << ratio;
      }
    }
  }
}

TEST(RegionGuidedGenerator, TwoOrMoreRegionsKeepOneVisibleInAHiddenRow) {
  // Peaked splits (alpha 0.01) often give the semantic row the whole budget: the anchor
  // then takes one token from it.
  const std::vector<std::vector<Modality>> layouts = {kAllModalities,
                                                      {Modality::kRgb},
                                                      {Modality::kInstance, Modality::kRgb},
                                                      {Modality::kSemantic, Modality::kRgb}};
  std::vector<Batch> maps;
  std::vector<torch::Tensor> semantic_regions, instance_regions;
  for (uint64_t seed = 0; seed < 2; ++seed) {
    maps.push_back(testing::random_maps(8, 224, 2 + 4 * seed, seed));
    semantic_regions.push_back(patch_regions(maps.back().semantic, 14));
    instance_regions.push_back(patch_regions(maps.back().instance, 14));
  }
  int64_t samples = 0;
  for (const auto& modalities : layouts) {
    MaskSpec spec;
    spec.modalities = modalities;
    spec.num_visible = 98 * static_cast<int64_t>(modalities.size()) / 3;
    for (double ratio : {0.5, 1.0}) {
      for (auto hide_in : {GuidedHideIn::kAll, GuidedHideIn::kGuideAndFiner}) {
        for (auto [share, alpha] : {std::pair{0.5, 0.01}, std::pair{1.0, 1.0}}) {
          SemanticGenerator sem(spec, options(ratio, hide_in, share, alpha));
          InstanceGenerator ins(spec, options(ratio, hide_in, share, alpha));
          for (size_t s = 0; s < maps.size(); ++s) {
            for (const bool semantic : {true, false}) {
              auto mask = semantic ? sem.generate(maps[s], s) : ins.generate(maps[s], s);
              const auto rows = hide_rows(
                  modalities, semantic ? Modality::kSemantic : Modality::kInstance, hide_in);
              const auto v = region_visibility(
                  mask, semantic ? semantic_regions[s] : instance_regions[s], rows, semantic);
              for (size_t i = 0; i < v.regions.size(); ++i) {
                if (v.regions[i] < 2) continue;
                ++samples;
                EXPECT_TRUE(v.region_visible[i])
                    << (semantic ? "semantic" : "instance") << " ratio " << ratio << " alpha "
                    << alpha << " sample " << i << " maps " << s;
              }
            }
          }
        }
      }
    }
  }
  EXPECT_GT(samples, 200);
}

TEST(RegionGuidedGenerator, NeverHidesARegionLargerThanTheTargetWhole) {
  // Class 0 covers 12 of 16 patches, more than the target of 8.
  Batch b;
  b.semantic = (quadrants(8) == 3).to(torch::kLong);
  for (auto hide_in : {GuidedHideIn::kAll, GuidedHideIn::kGuideAndFiner}) {
    SemanticGenerator gen(small_spec(20), options(0.5, hide_in, 1.0));
    for (uint64_t seed = 0; seed < 10; ++seed) {
      auto mask = gen.generate(b, seed);
      for (int64_t i = 0; i < 8; ++i) {
        EXPECT_GT(visible_in_quadrant(mask, i, 0) + visible_in_quadrant(mask, i, 1) +
                      visible_in_quadrant(mask, i, 2),
                  0);
      }
    }
  }
}

TEST(RegionGuidedGenerator, PlanHidesExactlyTheTargetWithoutOvershoot) {
  // Regions of sizes 4, 4, 4, 4 (labels 0..3).
  const std::vector<int64_t> labels = {0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3};
  const std::vector<bool> all(16, true);
  for (uint64_t s = 0; s < 20; ++s) {
    Rng rng(s);
    // Target 6: one region whole (a second would overshoot), then 2 random patches.
    auto p = plan_hiding(rng, labels, all, 6, 0, 0.5, true);
    EXPECT_EQ(hidden_count(p), 6);
    EXPECT_EQ(p.whole_regions, 1);
    EXPECT_EQ(p.num_regions, 4);
    ASSERT_GE(p.anchor, 0);
    EXPECT_FALSE(p.hidden[p.anchor]);
    // Target 16, cap 0.5 * 4 = 2 whole regions; all but the anchor hidden.
    Rng rng2(s);
    auto q = plan_hiding(rng2, labels, all, 16, 0, 0.5, true);
    EXPECT_EQ(q.whole_regions, 2);
    EXPECT_EQ(hidden_count(q), 15);
    EXPECT_FALSE(q.hidden[q.anchor]);
    // Share 1: still never all four regions whole.
    Rng rng3(s);
    auto r = plan_hiding(rng3, labels, all, 16, 0, 1.0, true);
    EXPECT_EQ(r.whole_regions, 3);
    // keep_min 8 leaves 8 patches unhidden.
    Rng rng4(s);
    auto k = plan_hiding(rng4, labels, all, 16, 8, 1.0, true);
    EXPECT_EQ(hidden_count(k), 8);
    EXPECT_EQ(k.whole_regions, 2);
  }
}

TEST(RegionGuidedGenerator, PlanOnOneRegionOrNone) {
  const std::vector<int64_t> labels(16, 3);
  for (uint64_t s = 0; s < 10; ++s) {
    // One region of 16 > target 8: not hidden whole, 8 random patches, no anchor.
    Rng rng(s);
    auto p = plan_hiding(rng, labels, std::vector<bool>(16, true), 8, 0, 0.5, true);
    EXPECT_EQ(p.num_regions, 1);
    EXPECT_EQ(p.whole_regions, 0);
    EXPECT_EQ(p.anchor, -1);
    EXPECT_EQ(hidden_count(p), 8);
    // One region that fits: hidden whole (no anchor below two regions).
    std::vector<bool> small(16, false);
    small[0] = small[1] = small[2] = true;
    Rng rng2(s);
    auto q = plan_hiding(rng2, labels, small, 8, 0, 0.5, true);
    EXPECT_EQ(q.whole_regions, 1);
    EXPECT_TRUE(q.hidden[0] && q.hidden[1] && q.hidden[2]);
    EXPECT_EQ(hidden_count(q), 8);
    // No region: the random top-up alone.
    Rng rng3(s);
    auto r = plan_hiding(rng3, labels, std::vector<bool>(16, false), 5, 0, 0.5, true);
    EXPECT_EQ(r.num_regions, 0);
    EXPECT_EQ(hidden_count(r), 5);
  }
}

TEST(RegionGuidedGenerator, HidesTheTargetInEveryHiddenRow) {
  // With 98 of 3 x 196 visible, `all` can hide ceil(0.5 * 196) = 98 patches: at most 98
  // patches are visible in any row.
  MaskSpec spec;
  spec.modalities = kAllModalities;
  spec.num_visible = 98;
  InstanceGenerator all(spec, options(0.5, GuidedHideIn::kAll));
  InstanceGenerator finer(spec, options(0.5, GuidedHideIn::kGuideAndFiner));
  for (uint64_t seed = 0; seed < 3; ++seed) {
    auto b = testing::random_maps(8, 224, 6, seed);
    auto a = all.generate(b, seed).logical_not();  // [B, M, L] visible
    auto f = finer.generate(b, seed).logical_not();
    EXPECT_LE(a.any(1).sum(1).max().item<int64_t>(), 98);
    EXPECT_LE(f.narrow(1, 1, 2).any(1).sum(1).max().item<int64_t>(), 98);
  }
}

TEST(RegionGuidedGenerator, QuarterResolutionMapsGiveTheSameMasks) {
  testing::seed(5);
  // Quarter-resolution maps of a 224 px image (56 x 56) and their nearest upsampling.
  auto quarter = torch::randint(0, 4, {3, 56, 56});
  auto full = quarter.repeat_interleave(4, 1).repeat_interleave(4, 2);
  MaskSpec spec;
  spec.modalities = kAllModalities;
  InstanceGenerator gen(spec, options(0.5));
  Batch q, f, u;
  q.instance = quarter, f.instance = full, u.instance = quarter.to(torch::kByte);
  for (uint64_t seed = 0; seed < 3; ++seed) {
    auto mask = gen.generate(q, seed);
    EXPECT_TRUE(mask.equal(gen.generate(f, seed)));
    EXPECT_TRUE(mask.equal(gen.generate(u, seed)));  // uint8 instance maps
  }
  Batch odd;
  odd.instance = torch::zeros({1, 60, 60}, torch::kLong);
  EXPECT_THROW(gen.generate(odd, 0), c10::Error);
  EXPECT_THROW(gen.generate(Batch{}, 0), c10::Error);
}

TEST(RegionGuidedGenerator, SameSeedSameMaskOnAnyThread) {
  MaskSpec spec;
  spec.modalities = kAllModalities;
  InstanceGenerator gen(spec, options(0.5));
  auto b = testing::random_maps(8, 224, 6, 1);
  auto reference = gen.generate(b, 11);
  EXPECT_TRUE(reference.equal(gen.generate(b, 11)));
  EXPECT_FALSE(reference.equal(gen.generate(b, 12)));
  std::vector<torch::Tensor> out(4);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < out.size(); ++t) {
    threads.emplace_back([&, t] { out[t] = gen.generate(b, 11); });
  }
  for (auto& t : threads) t.join();
  for (const auto& o : out) EXPECT_TRUE(o.equal(reference));
}

TEST(RegionGuidedGenerator, OptionsFromConfigAndOutOfRange) {
  config::MaskingConfig cfg;
  auto o = RegionGuidedOptions::from_config(cfg, 0.25);
  EXPECT_EQ(o.hide_ratio, 0.25);
  EXPECT_EQ(o.hide_in, GuidedHideIn::kGuideAndFiner);
  EXPECT_EQ(o.max_region_share, 0.5);
  cfg.guided_hide_in = GuidedHideIn::kAll;
  EXPECT_EQ(RegionGuidedOptions::from_config(cfg, 0.5).hide_in, GuidedHideIn::kAll);
  EXPECT_THROW(InstanceGenerator(small_spec(20), options(0.5, GuidedHideIn::kAll, 0.0)),
               std::invalid_argument);
  EXPECT_THROW(SemanticGenerator(small_spec(20), options(1.5)), std::invalid_argument);
}

/// The synthetic shapes at 224 px, their instance maps at full and 1/4 resolution.
Batch synthetic_instances(int64_t n) {
  data::SyntheticShapes dataset(n, 0);
  std::vector<torch::Tensor> maps;
  for (int64_t i = 0; i < n; ++i)
    maps.push_back(dataset.get(i, data::Augmentation{}, 224).instance);
  Batch b;
  b.instance = torch::stack(maps);
  return b;
}

TEST(RegionGuidedGenerator, SyntheticImagesWithTwoInstancesKeepOneVisible) {
  // Before guided_hide_in and the anchor, 99.3% of these images lost every instance in every
  // modality. Now each image whose instance map has two or more instances (as regions: the
  // majority of at least one patch) keeps a visible patch of one in a row where instances
  // are hidden (instance or RGB; any row with `all`), at full and 1/4 resolution.
  const auto full = synthetic_instances(128);
  Batch quarter;
  quarter.instance = downsample_labels(full.instance, kLabelDownsample);
  MaskSpec spec;
  spec.modalities = kAllModalities;
  spec.num_visible = 98;
  config::MaskingConfig cfg;
  for (const auto hide_in : {GuidedHideIn::kGuideAndFiner, GuidedHideIn::kAll}) {
    cfg.guided_hide_in = hide_in;
    InstanceGenerator gen(spec, cfg);
    const auto rows = hide_rows(spec.modalities, Modality::kInstance, hide_in);
    for (const Batch* b : std::vector<const Batch*>{&full, &quarter}) {
      const auto labels = patch_regions(b->instance, 14);
      int64_t multi = 0, kept = 0;
      for (uint64_t seed = 0; seed < 3; ++seed) {
        const auto v = region_visibility(gen.generate(*b, seed), labels, rows, false);
        for (size_t i = 0; i < v.regions.size(); ++i) {
          if (v.regions[i] < 2) continue;
          ++multi;
          kept += v.region_visible[i];
        }
      }
      EXPECT_GT(multi, 3 * 32) << "too few synthetic images with two instances to judge";
      EXPECT_EQ(kept, multi) << enum_name(hide_in);
    }
  }
}

}  // namespace
}  // namespace c2fmae::masking
