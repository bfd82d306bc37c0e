// The MAE-mode model and loss against golden values from the PyTorch reference
// (tests/golden/mae_reference.py, run by CTest as the golden_mae_reference fixture).
#include <torch/serialize.h>

#include <fstream>
#include <iterator>

#include "c2fmae/core/mask.h"
#include "c2fmae/losses/c2fmae_loss.h"
#include "c2fmae/models/c2fmae_model.h"
#include "test_helpers.h"

namespace c2fmae::models {
namespace {

std::map<std::string, torch::Tensor> load_golden(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "missing " << path
                         << "; run the suite through ctest (fixture golden_mae_reference)";
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::map<std::string, torch::Tensor> out;
  if (bytes.empty()) return out;
  auto dict = torch::pickle_load(bytes).toGenericDict();
  for (const auto& kv : dict) out[kv.key().toStringRef()] = kv.value().toTensor();
  return out;
}

TEST(MaeGolden, LossAndEncoderMatchPyTorch) {
  auto g = load_golden(std::string(C2FMAE_TEST_DATA_DIR) + "/mae_golden.pt");
  ASSERT_FALSE(g.empty());
  auto cfg_int = [&](const char* k) { return g.at(std::string("config.") + k).item<int64_t>(); };
  config::ModelConfig mc;
  mc.preset = "tiny";
  mc.img_size = cfg_int("img_size");
  mc.patch_size = cfg_int("patch_size");
  mc.embed_dim = cfg_int("embed_dim");
  mc.depth = cfg_int("depth");
  mc.num_heads = cfg_int("num_heads");
  mc.mlp_ratio = g.at("config.mlp_ratio").item<double>();
  mc.modalities = {Modality::kRgb};
  mc.decoder_dim = cfg_int("decoder_dim");
  mc.decoder_depth = cfg_int("decoder_depth");
  mc.decoder_heads = cfg_int("decoder_heads");
  mc.decoder_cross_blocks = 0;  // MAE's decoder
  C2fmae model(mc);
  model->eval();

  size_t loaded = 0;
  {
    torch::NoGradGuard no_grad;
    for (auto& p : model->named_parameters()) {
      auto it = g.find("param." + p.key());
      ASSERT_NE(it, g.end()) << "reference lacks " << p.key();
      ASSERT_EQ(it->second.sizes(), p.value().sizes()) << p.key();
      p.value().copy_(it->second);
      ++loaded;
    }
  }
  size_t in_file = 0;
  for (const auto& kv : g) in_file += kv.first.rfind("param.", 0) == 0;
  EXPECT_EQ(loaded, in_file) << "the reference has parameters the model does not";

  Batch batch;
  batch.rgb = g.at("input.rgb");
  batch.mask = g.at("input.mask");
  torch::NoGradGuard no_grad;
  auto out = model->forward(batch, /*all_tokens=*/true);
  config::LossConfig lc;
  losses::C2fmaeLoss loss_fn(mc, lc);
  // The loss reads the masked rows only, as the model gives them in training.
  const auto rows = masked_rows(batch.mask, 0);
  auto loss =
      loss_fn({out.predictions[0].index_select(0, rows)}, {rows}, batch, {0.0, 0.0, 1.0}).total;
  out.predictions[0] = out.predictions[0].view(g.at("output.prediction").sizes());

  auto rel = [](const torch::Tensor& a, const torch::Tensor& b) {
    return (a - b).abs().max().item<double>() / b.abs().max().item<double>();
  };
  const auto& ref_enc = g.at("output.encoded");
  ASSERT_EQ(out.encoded.sizes(), ref_enc.sizes());
  EXPECT_LE(rel(out.encoded, ref_enc), 1e-5);
  EXPECT_LE(rel(out.predictions[0], g.at("output.prediction")), 1e-5);
  const double ref_loss = g.at("output.loss").item<double>();
  std::cout << "golden: encoder rel " << rel(out.encoded, ref_enc) << ", prediction rel "
            << rel(out.predictions[0], g.at("output.prediction")) << ", loss rel "
            << std::abs(loss.item<double>() - ref_loss) / std::abs(ref_loss) << "\n";
  EXPECT_LE(std::abs(loss.item<double>() - ref_loss) / std::abs(ref_loss), 1e-5)
      << "C++ " << loss.item<double>() << " vs PyTorch " << ref_loss;
}

}  // namespace
}  // namespace c2fmae::models
