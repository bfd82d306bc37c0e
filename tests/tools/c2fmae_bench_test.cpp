// c2fmae_bench: the analytic FLOP count, and the program on the CPU (one JSON line per
// config; bad arguments exit 2).
#include <filesystem>

#include "c2fmae/config/pretrain_config.h"
#include "c2fmae/models/flop_count.h"
#include "pretrain_fixture.h"
#include "test_helpers.h"

namespace c2fmae {
namespace {

TEST(FlopCount, MaeVitBaseByHand) {
  // MAE ViT-B/16: 12 blocks of 768 on 50 tokens, patch embedding on 196 patches, 8 decoder
  // blocks of 512 on 197 tokens, the decoder embedding on 50 tokens and the head on the 147
  // masked tokens; the step is 3 forwards.
  auto cfg = config::load_config<config::PretrainConfig>(
      {std::string(C2FMAE_SOURCE_DIR) + "/configs/pretrain/mae_vit_base_1600ep.yaml"}, {});
  const auto f = models::pretrain_flops(cfg.model, cfg.masking.num_visible);
  const double d = 768, dd = 512;
  const double enc = 12 * (2 * 50 * 12 * d * d + 4 * 50.0 * 50 * d);
  const double dec =
      8 * (2 * 197 * 12 * dd * dd + 4 * 197.0 * 197 * dd) + 2 * 50 * d * dd + 2 * 147 * dd * 768;
  EXPECT_DOUBLE_EQ(f.adapters, 2 * 196 * 768 * d);
  EXPECT_DOUBLE_EQ(f.encoder, enc);
  EXPECT_DOUBLE_EQ(f.decoder, dec);
  EXPECT_NEAR(f.step(256) / 256 / 1e9, 58.6, 0.5);  // GFLOPs per image and step
  // The C2FMAE cascade costs more: 98 visible tokens and three decoder stages.
  auto c2f = config::load_config<config::PretrainConfig>(
      {std::string(C2FMAE_SOURCE_DIR) + "/configs/pretrain/c2fmae_vit_base_400ep.yaml"}, {});
  EXPECT_GT(models::pretrain_flops(c2f.model, c2f.masking.num_visible).forward(), f.forward());
}

TEST(Bench, OneJsonLinePerConfigOnTheCpuAndBadArgumentsExit2) {
  const auto bench =
      (std::filesystem::path(C2FMAE_PRETRAIN_BIN).parent_path() / "c2fmae_bench").string();
  const auto dir = testing::tiny_pretrain_dir("c2fmae_bench_cpu");
  const auto tiny = dir + "/tiny.yaml";
  auto r = testing::run_command(bench + " --config " + tiny + " --config " + tiny +
                                " --set 'model.modalities=[rgb]' --set masking.num_visible=4"
                                " --warmup 1 --windows 2 --window-steps 2 --peak-tflops 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  int64_t lines = 0;
  for (size_t at = r.output.find("{\"config\""); at != std::string::npos;
       at = r.output.find("{\"config\"", at + 1)) {
    ++lines;
    const auto line = r.output.substr(at, r.output.find('\n', at) - at);
    for (const char* key : {"\"images_per_s\": ", "\"step_ms\": ", "\"peak_memory_mib\": ",
                            "\"gflops_per_image\": ", "\"mfu\": "}) {
      const auto k = line.find(key);
      ASSERT_NE(k, std::string::npos) << key << " in " << line;
      EXPECT_GT(std::stod(line.substr(k + std::string(key).size())), 0.0) << key << line;
    }
    EXPECT_NE(line.find("\"device\": \"cpu\""), std::string::npos) << line;
  }
  EXPECT_EQ(lines, 2);
  // --profile: a Chrome trace of the profiled steps, named after the config.
  r = testing::run_command(bench + " --config " + tiny +
                           " --warmup 0 --windows 1 --window-steps 1 --profile " + dir +
                           "/profile --profile-steps 2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto trace = testing::read_text(dir + "/profile/tiny.trace.json");
  EXPECT_NE(trace.find("\"traceEvents\""), std::string::npos);
  EXPECT_NE(trace.find("aten::"), std::string::npos);  // the step's operators
  for (const auto& [args, says] : std::vector<std::pair<std::string, std::string>>{
           {"", "--config is missing"},
           {"--config " + tiny + " --windows 0", "--windows 0"},
           {"--config " + tiny + " --batch x", "--batch x"},
           {"--config " + tiny + " --peak-tflops -1", "--peak-tflops -1"},
           {"--config " + tiny + " --bogus 1", "unknown argument --bogus"},
           {"--config " + tiny + " --profile-steps 0", "--profile-steps 0"},
           {"--config " + tiny + " --set model.dpeth=2", "did you mean 'depth'"},
           {"--config " + dir + "/missing.yaml", "missing.yaml"}}) {
    auto bad = testing::run_command(bench + " " + args);
    EXPECT_EQ(bad.exit_code, 2) << args << "\n" << bad.output;
    EXPECT_NE(bad.output.find(says), std::string::npos) << args << "\n" << bad.output;
    EXPECT_EQ(bad.output.find("frame #"), std::string::npos) << bad.output;
  }
}

}  // namespace
}  // namespace c2fmae
