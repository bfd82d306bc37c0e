// The maps of each model kind, on hand-written outputs with hand-worked answers.
#include "c2fmae/pseudolabel/label_maps.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace c2fmae::pseudolabel {
namespace {

torch::Tensor grid(std::vector<int64_t> values, int64_t h, int64_t w) {
  return torch::tensor(values, torch::kLong).view({h, w});
}

LabelOptions options(int64_t classes, std::vector<int64_t> things) {
  LabelOptions o;
  o.num_classes = classes;
  o.thing_ids = things;
  o.panoptic.thing_classes = things;
  return o;
}

TEST(LabelMaps, SemanticKindNumbersEachThingComponentInRowMajorOrder) {
  // Classes 1 and 2 are things, 0 and 3 stuff. Component order: first pixels (0,1) class 1,
  // (0,3) class 2, (2,0) class 1 (touches the first only diagonally), (3,3) class 2.
  const auto semantic = grid({0, 1, 1, 2,  //
                              0, 0, 1, 2,  //
                              1, 3, 3, 3,  //
                              1, 0, 0, 2},
                             4, 4);
  auto logits = torch::nn::functional::one_hot(semantic, 4).permute({2, 0, 1}).to(torch::kFloat);
  const auto maps = semantic_label_maps(logits, options(4, {1, 2}));
  EXPECT_TRUE(maps.semantic.equal(semantic));
  const auto expected = grid({0, 1, 1, 2,  //
                              0, 0, 1, 2,  //
                              3, 0, 0, 0,  //
                              3, 0, 0, 4},
                             4, 4);
  EXPECT_TRUE(maps.instance.to(torch::kLong).equal(expected)) << maps.instance;
  ASSERT_EQ(maps.segments.size(), 4u);
  EXPECT_EQ(maps.segments[0].area, 3);
  EXPECT_EQ(maps.segments[1].category_id, 2);
  EXPECT_EQ(maps.segments[1].area, 2);
  EXPECT_EQ(maps.segments[2].area, 2);
  EXPECT_EQ(maps.segments[3].area, 1);
}

TEST(LabelMaps, AUShapedComponentIsOneInstance) {
  // The two arms meet only in the last row: union-find joins them after both have started.
  const auto semantic = grid({1, 0, 1,  //
                              1, 0, 1,  //
                              1, 1, 1},
                             3, 3);
  const auto instance = connected_instances(semantic, {1}, nullptr);
  EXPECT_TRUE(instance.to(torch::kLong).equal(semantic)) << instance;
}

TEST(LabelMaps, InstancesKindPaintsByScoreAndDropsMostlyCoveredMasks) {
  // 1x6 image. Rows (score, class, mask): A 0.6 class 0 on pixels 0-2; B 0.9 class 1 on
  // pixels 2-3; C 0.7 class 2 on pixels 2-4, 2 of its 3 pixels painted by B and A: dropped
  // (2/3 > 0.5); D 0.4 below the score threshold; E 0.8 class 3 on pixel 5.
  const auto scores = torch::tensor({0.6, 0.9, 0.7, 0.4, 0.8}, torch::kFloat);
  const auto labels = torch::tensor({0, 1, 2, 0, 3}, torch::kLong);
  auto masks = torch::zeros({5, 1, 6});
  masks[0].narrow(1, 0, 3).fill_(0.9);
  masks[1].narrow(1, 2, 2).fill_(0.9);
  masks[2].narrow(1, 2, 3).fill_(0.9);
  masks[3].fill_(0.9);
  masks[4].narrow(1, 5, 1).fill_(0.6);
  masks[4].narrow(1, 4, 1).fill_(0.4);  // below the mask threshold
  const auto maps = instances_label_maps(scores, labels, masks, options(4, {0, 1, 3}));
  // Order B (id 1), E (id 2), C dropped, A (id 3) keeps pixels 0-1.
  EXPECT_TRUE(maps.instance.to(torch::kLong).equal(grid({3, 3, 1, 1, 0, 2}, 1, 6)))
      << maps.instance;
  EXPECT_TRUE(maps.semantic.equal(grid({0, 0, 1, 1, 255, 3}, 1, 6))) << maps.semantic;
  ASSERT_EQ(maps.segments.size(), 3u);
  EXPECT_EQ(maps.segments[2].area, 2);
  EXPECT_EQ(maps.segments[2].category_id, 0);
}

TEST(LabelMaps, MaskClassificationInstancesAreTheThingSegmentsOnly) {
  // 1x4 image, classes 0 (thing) and 1 (stuff); three confident queries: thing on pixel 0,
  // stuff on 1-2, thing on 3.
  const auto cls = torch::tensor({10.0, 0.0, 0.0, 0.0, 10.0, 0.0, 10.0, 0.0, 0.0}).view({3, 3});
  auto masks = torch::full({3, 1, 4}, -10.0);
  masks[0][0][0] = 10.0;
  masks[1][0][1] = masks[1][0][2] = 10.0;
  masks[2][0][3] = 10.0;
  const auto maps = mask_classification_label_maps(cls, masks, options(2, {0}));
  EXPECT_TRUE(maps.instance.to(torch::kLong).equal(grid({1, 0, 0, 2}, 1, 4))) << maps.instance;
  EXPECT_TRUE(maps.semantic.equal(grid({0, 1, 1, 0}, 1, 4))) << maps.semantic;
  ASSERT_EQ(maps.segments.size(), 3u);  // stuff is a segment, not an instance
  EXPECT_FALSE(maps.segments[1].is_thing);
}

}  // namespace
}  // namespace c2fmae::pseudolabel
