#include "c2fmae/masking/mask_generator.h"

#include "test_helpers.h"

namespace c2fmae::masking {
namespace {

TEST(MaskGenerator, FactoryAndSpecFromConfig) {
  config::ModelConfig model;
  config::MaskingConfig masking;
  auto spec = MaskSpec::from_config(model, masking);
  EXPECT_EQ(spec.num_modalities(), 3);
  EXPECT_EQ(spec.num_patches(), 196);
  EXPECT_EQ(spec.num_visible, 98);
  for (const auto& name : mask_generator_names()) {
    EXPECT_EQ(make_mask_generator(name, spec, masking)->name(), name);
  }
  EXPECT_THROW(make_mask_generator("block", spec, masking), std::invalid_argument);
  model.modalities = {Modality::kRgb};
  model.patch_size = 14;
  EXPECT_EQ(MaskSpec::from_config(model, masking).grid, 16);
}

}  // namespace
}  // namespace c2fmae::masking
