// detectron2's mask-classification fusion rules (Mask2Former's panoptic_inference and
// semantic_inference), each on hand-written queries over a 2 x 2 or 1 x 4 image: classes
// 0..2 plus "no object" (3); class 0 is a thing, 1 and 2 are stuff.
#include "c2fmae/pseudolabel/mask_fusion.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <map>
#include <vector>

namespace c2fmae::pseudolabel {
namespace {

constexpr double kOn = 10.0, kOff = -10.0;  // sigmoid: 0.99995 and 0.00005

/// A query's class logits: `cls` at `logit`, every other class (and "no object") at 0.
std::vector<double> query(int64_t cls, double logit = 10.0) {
  std::vector<double> row(4, 0.0);
  row[static_cast<size_t>(cls)] = logit;
  return row;
}

torch::Tensor classes(const std::vector<std::vector<double>>& rows) {
  std::vector<double> flat;
  for (const auto& r : rows) flat.insert(flat.end(), r.begin(), r.end());
  return torch::tensor(flat, torch::kDouble).view({static_cast<int64_t>(rows.size()), 4});
}

/// Mask logits [Q, 1, 4] from one row of 4 values per query.
torch::Tensor masks(const std::vector<std::vector<double>>& rows) {
  std::vector<double> flat;
  for (const auto& r : rows) flat.insert(flat.end(), r.begin(), r.end());
  return torch::tensor(flat, torch::kDouble).view({static_cast<int64_t>(rows.size()), 1, 4});
}

PanopticOptions options() {
  PanopticOptions o;
  o.thing_classes = {0};
  return o;
}

std::vector<int32_t> map_of(const PanopticMap& m) {
  const auto flat = m.segments.flatten().contiguous();
  return {flat.data_ptr<int32_t>(), flat.data_ptr<int32_t>() + flat.numel()};
}

TEST(MaskFusion, AQueryAtOrBelowTheScoreThresholdIsDropped) {
  // softmax of (1.5, 0, 0, 0): 0.6 < 0.8.
  const auto m =
      panoptic_segments(classes({query(0, 1.5), query(1)}),
                        masks({{kOn, kOn, kOn, kOn}, {kOff, kOff, kOn, kOn}}), options());
  EXPECT_EQ(map_of(m), (std::vector<int32_t>{0, 0, 1, 1}));
  ASSERT_EQ(m.segments_info.size(), 1u);
  EXPECT_EQ(m.segments_info[0].category_id, 1);
  EXPECT_FALSE(m.segments_info[0].is_thing);
  EXPECT_EQ(m.segments_info[0].area, 2);
  EXPECT_GT(m.segments_info[0].score, 0.8);
}

TEST(MaskFusion, AQueryWhoseBestClassIsNoObjectIsDropped) {
  const auto m =
      panoptic_segments(classes({query(3), query(0)}),
                        masks({{kOn, kOn, kOn, kOn}, {kOn, kOff, kOff, kOff}}), options());
  EXPECT_EQ(map_of(m), (std::vector<int32_t>{1, 0, 0, 0}));
  ASSERT_EQ(m.segments_info.size(), 1u);
  EXPECT_TRUE(m.segments_info[0].is_thing);
}

TEST(MaskFusion, AQueryThatWonLessThanTheOverlapShareOfItsMaskIsDropped) {
  // Query 0 (score 0.9999) wants all 4 pixels but query 1 (a higher score) wins 2 of them:
  // 2 / 4 < 0.8, so query 0 paints nothing and its 2 won pixels stay void.
  const auto m =
      panoptic_segments(classes({query(0, 10.0), query(1, 12.0)}),
                        masks({{kOn, kOn, kOn, kOn}, {kOn, kOn, kOff, kOff}}), options());
  EXPECT_EQ(map_of(m), (std::vector<int32_t>{1, 1, 0, 0}));
  ASSERT_EQ(m.segments_info.size(), 1u);
  EXPECT_EQ(m.segments_info[0].category_id, 1);
  // At 0.5 the same share is enough: ratio >= threshold keeps it.
  auto half = options();
  half.overlap_threshold = 0.5;
  const auto kept = panoptic_segments(classes({query(0, 10.0), query(1, 12.0)}),
                                      masks({{kOn, kOn, kOn, kOn}, {kOn, kOn, kOff, kOff}}), half);
  EXPECT_EQ(map_of(kept), (std::vector<int32_t>{2, 2, 1, 1}));
}

TEST(MaskFusion, StuffQueriesOfOneClassMergeIntoTheFirstOnesSegment) {
  const auto m = panoptic_segments(
      classes({query(2), query(0), query(2)}),
      masks({{kOn, kOff, kOff, kOff}, {kOff, kOn, kOff, kOff}, {kOff, kOff, kOn, kOn}}), options());
  EXPECT_EQ(map_of(m), (std::vector<int32_t>{1, 2, 1, 1}));
  ASSERT_EQ(m.segments_info.size(), 2u);
  EXPECT_EQ(m.segments_info[0].category_id, 2);
  EXPECT_EQ(m.segments_info[0].area, 3);  // both queries' pixels
  EXPECT_EQ(m.segments_info[1].id, 2);
}

TEST(MaskFusion, TwoThingsOfOneClassAreTwoSegments) {
  const auto m =
      panoptic_segments(classes({query(0), query(0)}),
                        masks({{kOn, kOn, kOff, kOff}, {kOff, kOff, kOn, kOn}}), options());
  EXPECT_EQ(map_of(m), (std::vector<int32_t>{1, 1, 2, 2}));
  ASSERT_EQ(m.segments_info.size(), 2u);
  EXPECT_TRUE(m.segments_info[1].is_thing);
  EXPECT_EQ(m.segments_info[1].category_id, 0);
}

TEST(MaskFusion, APixelWhoseWinnerIsBelowTheMaskThresholdIsVoid) {
  // Pixel 3: both masks are low there; query 0 still wins it (its score x sigmoid is larger)
  // but does not paint it. 3 of its 3 own pixels are won: kept.
  const auto m =
      panoptic_segments(classes({query(0, 12.0), query(1)}),
                        masks({{kOn, kOn, kOn, -1.0}, {kOff, kOff, kOff, -3.0}}), options());
  EXPECT_EQ(map_of(m), (std::vector<int32_t>{1, 1, 1, 0}));
  EXPECT_EQ(m.segments_info.size(), 1u);
}

TEST(MaskFusion, NoKeptQueryGivesAnAllVoidMap) {
  const auto m = panoptic_segments(classes({query(3), query(1, 0.5)}),
                                   masks({{kOn, kOn, kOn, kOn}, {kOn, kOn, kOn, kOn}}), options());
  EXPECT_EQ(map_of(m), (std::vector<int32_t>{0, 0, 0, 0}));
  EXPECT_TRUE(m.segments_info.empty());
  EXPECT_EQ(m.segments.scalar_type(), torch::kInt);
}

TEST(MaskFusion, SemanticScoresAreTheClassProbabilitiesWeightedByTheMasks) {
  torch::manual_seed(3);
  const auto cls = torch::randn({5, 4});
  const auto mask = torch::randn({5, 2, 3});
  const auto scores = semantic_scores(cls, mask);
  ASSERT_EQ(scores.sizes(), (std::vector<int64_t>{3, 2, 3}));
  // Written out per class and pixel: sum over queries of p(class) * sigmoid(mask).
  const auto p = torch::softmax(cls, -1);
  for (int64_t c = 0; c < 3; ++c) {
    for (int64_t y = 0; y < 2; ++y) {
      for (int64_t x = 0; x < 3; ++x) {
        double expected = 0.0;
        for (int64_t q = 0; q < 5; ++q) {
          expected += p[q][c].item<double>() * torch::sigmoid(mask[q][y][x]).item<double>();
        }
        EXPECT_NEAR(scores[c][y][x].item<double>(), expected, 1e-6);
      }
    }
  }
}

/// detectron2's loop as written in Mask2Former's panoptic_inference: each kept query in
/// turn, painting its pixels one query at a time.
std::vector<int32_t> sequential_reference(const torch::Tensor& cls, const torch::Tensor& mask,
                                          const PanopticOptions& o) {
  const int64_t k_classes = cls.size(1) - 1;
  const auto [scores, labels] = torch::softmax(cls.to(torch::kFloat), -1).max(-1);
  const auto keep = labels.ne(k_classes) & scores.gt(o.object_mask_threshold);
  auto seg = torch::zeros({mask.size(1), mask.size(2)}, torch::kInt);
  if (keep.sum().item<int64_t>() == 0) return map_of({seg, {}});
  const auto cur_scores = scores.index({keep});
  const auto cur_classes = labels.index({keep});
  const auto cur_masks = mask.to(torch::kFloat).sigmoid().index({keep});
  const auto ids = (cur_scores.view({-1, 1, 1}) * cur_masks).argmax(0);
  std::map<int64_t, int32_t> stuff;
  int32_t current = 0;
  for (int64_t k = 0; k < cur_classes.size(0); ++k) {
    const int64_t c = cur_classes[k].item<int64_t>();
    const bool thing =
        std::find(o.thing_classes.begin(), o.thing_classes.end(), c) != o.thing_classes.end();
    const int64_t mask_area = ids.eq(k).sum().item<int64_t>();
    const int64_t original_area = cur_masks[k].ge(0.5).sum().item<int64_t>();
    const auto m = ids.eq(k) & cur_masks[k].ge(0.5);
    if (mask_area > 0 && original_area > 0 && m.sum().item<int64_t>() > 0) {
      if (static_cast<double>(mask_area) / static_cast<double>(original_area) <
          o.overlap_threshold) {
        continue;
      }
      if (!thing) {
        if (stuff.count(c)) {
          seg.masked_fill_(m, stuff[c]);
          continue;
        }
        stuff[c] = current + 1;
      }
      seg.masked_fill_(m, ++current);
    }
  }
  return map_of({seg, {}});
}

TEST(MaskFusion, MatchesDetectronsSequentialLoopOnRandomQueries) {
  torch::manual_seed(11);
  size_t segments = 0, merged = 0;
  for (int trial = 0; trial < 30; ++trial) {
    // 12 queries over 5 classes (+ no object), sharp enough that many pass 0.8, each mask a
    // noisy disc of its own centre and radius, so that queries overlap and compete.
    const auto cls = torch::randn({12, 6}) * 8.0;
    const auto ys = torch::arange(9, torch::kFloat).view({1, 9, 1});
    const auto xs = torch::arange(7, torch::kFloat).view({1, 1, 7});
    const auto cy = torch::rand({12, 1, 1}) * 9, cx = torch::rand({12, 1, 1}) * 7;
    const auto radius = 1.5 + torch::rand({12, 1, 1}) * 3;
    const auto dist = ((ys - cy).pow(2) + (xs - cx).pow(2)).sqrt();
    const auto mask = (radius - dist) * 3.0 + torch::randn({12, 9, 7}) * 0.5;
    PanopticOptions o;
    o.thing_classes = {0, 2};
    o.overlap_threshold = trial % 2 ? 0.8 : 0.5;
    o.object_mask_threshold = trial % 3 ? 0.8 : 0.3;
    const auto fused = panoptic_segments(cls, mask, o);
    EXPECT_EQ(map_of(fused), sequential_reference(cls, mask, o)) << "trial " << trial;
    segments += fused.segments_info.size();
    for (const auto& seg : fused.segments_info) {
      merged += fused.segments.eq(static_cast<int32_t>(seg.id)).sum().item<int64_t>() != seg.area;
    }
  }
  EXPECT_GT(segments, 40u);  // the cases are not all void (46 with this seed)
  EXPECT_EQ(merged, 0u);     // every segment's area is what it holds in the map
}

TEST(MaskFusion, WrongShapesAreRefused) {
  EXPECT_THROW(panoptic_segments(torch::zeros({2, 4}), torch::zeros({3, 1, 4}), options()),
               c10::Error);
  EXPECT_THROW(semantic_scores(torch::zeros({2}), torch::zeros({2, 1, 4})), c10::Error);
}

}  // namespace
}  // namespace c2fmae::pseudolabel
