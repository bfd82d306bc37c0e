#include "c2fmae/masking/generator_registry.h"

#include <algorithm>

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
  for (const auto& name : generator_names()) {
    EXPECT_EQ(make_generator(name, spec, masking)->name(), name);
  }
  EXPECT_THROW(make_generator("nonesuch", spec, masking), std::invalid_argument);
  model.modalities = {Modality::kRgb};
  model.patch_size = 14;
  EXPECT_EQ(MaskSpec::from_config(model, masking).grid, 16);
}

TEST(GeneratorRegistry, NamesAreRegisteredOnceAndUsableAsKeyframeKeys) {
  const auto names = generator_names();
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  for (const char* n : {"instance", "random", "semantic"}) EXPECT_TRUE(is_registered_generator(n));
  auto factory = [](const MaskSpec& spec, const config::MaskingConfig& c) {
    return make_generator("random", spec, c);
  };
  EXPECT_THROW(register_generator("random", factory), std::invalid_argument);  // taken
  for (const char* bad : {"", "at", "weight_rgb", "Two Words"}) {
    EXPECT_THROW(register_generator(bad, factory), std::invalid_argument) << bad;
  }
  try {
    make_generator("blocky", MaskSpec{}, config::MaskingConfig{});
    ADD_FAILURE();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("instance, random, semantic"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace c2fmae::masking
