#include "c2fmae/train/encoder_export.h"

#include "c2fmae/core/usage_error.h"
#include "c2fmae/models/classifier.h"
#include "test_helpers.h"

namespace c2fmae::train {
namespace {

WeightsFile file_of(torch::nn::Module& m) {
  WeightsFile f;
  f.path = "test";
  f.kind = "c2fmae checkpoint (step 1)";
  for (const auto& p : m.named_parameters()) f.tensors.insert(p.key(), p.value().detach().clone());
  for (const auto& b : m.named_buffers()) f.tensors.insert(b.key(), b.value().clone());
  return f;
}

models::ClassifierOptions options(int64_t classes) {
  return models::ClassifierOptions(
      models::VisionTransformerOptions(32, 16, 24, 2, 2).learned_pos_embed(true), classes);
}

TEST(EncoderExport, TimmNamesOnlyWithTheClassTokenRowOfPositions) {
  testing::seed(21);
  models::Classifier model(options(5).global_pool(config::GlobalPool::kToken));
  const auto out = export_tensors(file_of(*model), ExportPart::kEncoder);
  for (const auto& item : out) {
    EXPECT_EQ(item.key().find("backbone."), std::string::npos) << item.key();
    EXPECT_EQ(item.key().find("head_norm"), std::string::npos) << item.key();
  }
  ASSERT_NE(out.find("pos_embed"), nullptr);
  EXPECT_EQ(out["pos_embed"].sizes(), (std::vector<int64_t>{1, 5, 24}));  // 1 + 2 x 2
  EXPECT_NE(out.find("norm.weight"), nullptr);
  EXPECT_NE(out.find("head.weight"), nullptr);
  EXPECT_NE(out.find("blocks.1.mlp.fc2.bias"), nullptr);
  const auto all = export_tensors(file_of(*model), ExportPart::kAll);
  EXPECT_NE(all.find("backbone.pos_embed"), nullptr);
}

TEST(EncoderExport, ALinearProbesBatchNormIsFoldedIntoTheHead) {
  testing::seed(22);
  models::Classifier probe(
      options(5).global_pool(config::GlobalPool::kToken).linear_probe(true).head_init_std(0.1));
  {
    torch::NoGradGuard g;
    probe->head_norm->running_mean.copy_(torch::randn({24}));
    probe->head_norm->running_var.copy_(torch::rand({24}) + 0.5);
    probe->head->bias.copy_(torch::randn({5}));
  }
  const auto out = export_tensors(file_of(*probe), ExportPart::kEncoder);
  // A plain classifier (timm's: no BatchNorm) with the exported head computes the same logits.
  models::Classifier plain(options(5).global_pool(config::GlobalPool::kToken));
  {
    torch::NoGradGuard g;
    for (auto& p : plain->named_parameters()) {
      const auto name = p.key().rfind("backbone.", 0) == 0 ? p.key().substr(9) : p.key();
      p.value().copy_(out[name]);
    }
  }
  probe->eval();
  plain->eval();
  auto x = torch::randn({3, 3, 32, 32});
  testing::expect_close(plain(x), probe(x), 1e-5, 1e-5);
}

TEST(EncoderExport, RefusesWhatHoldsNoBackboneAndUnknownParts) {
  WeightsFile f;
  f.path = "x.safetensors";
  f.tensors.insert("blocks.0.norm1.weight", torch::ones({4}));
  EXPECT_THROW(export_tensors(f, ExportPart::kEncoder), UsageError);
  EXPECT_THROW(parse_export_part("decoder"), UsageError);
  EXPECT_EQ(parse_export_part("all"), ExportPart::kAll);
}

}  // namespace
}  // namespace c2fmae::train
