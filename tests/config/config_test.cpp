#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "c2fmae/config/pretrain_config.h"

namespace c2fmae::config {
namespace {

std::string write_temp(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + name;
  std::ofstream(path) << text;
  return path;
}

/// Returns the ConfigError message `fn` throws (fails the test if none).
template <class Fn>
std::string error_of(Fn fn) {
  try {
    fn();
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a ConfigError";
  return "";
}

TEST(Config, DefaultsValidate) {
  PretrainConfig cfg;
  EXPECT_NO_THROW(cfg.validate());
  EXPECT_EQ(cfg.model.num_patches(), 196);
}

TEST(Config, MergeOrderDefaultsFilesThenSets) {
  auto a = write_temp("a.yaml", "model:\n  preset: tiny\n  img_size: 112\ntrain:\n  epochs: 5\n");
  auto b = write_temp("b.yaml", "train:\n  epochs: 7\n  seed: 3\n");
  auto cfg = load_config<PretrainConfig>({a, b}, {"train.seed=9", "model.modalities=[rgb]"});
  EXPECT_EQ(cfg.model.preset, "tiny");
  EXPECT_EQ(cfg.model.img_size, 112);
  EXPECT_EQ(cfg.train.epochs, 7);  // later file wins
  EXPECT_EQ(cfg.train.seed, 9);    // --set wins over files
  EXPECT_EQ(cfg.model.modalities, std::vector<Modality>{Modality::kRgb});
  EXPECT_EQ(cfg.origins.at("train.epochs"), b);
  EXPECT_EQ(cfg.origins.at("train.seed"), "--set");
  EXPECT_EQ(cfg.origins.count("train.device"), 0u);  // untouched keys stay defaults
}

TEST(Config, UnknownKeyNamesFileKeyAndSuggestion) {
  auto f = write_temp("typo.yaml", "model:\n  dpeth: 4\n");
  auto msg = error_of([&] { load_config<PretrainConfig>({f}, {}); });
  EXPECT_NE(msg.find(f), std::string::npos) << msg;
  EXPECT_NE(msg.find("model.dpeth = 4"), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean 'depth'"), std::string::npos) << msg;
}

TEST(Config, ARetiredKeyIsRefusedSayingWhatBecameOfIt) {
  // loss.instance_loss had one allowed value (discriminative) and is gone.
  auto f = write_temp("removed.yaml", "loss:\n  instance_loss: discriminative\n");
  auto msg = error_of([&] { load_config<PretrainConfig>({f}, {}); });
  EXPECT_NE(msg.find("loss.instance_loss = discriminative"), std::string::npos) << msg;
  EXPECT_NE(msg.find("no longer a key"), std::string::npos) << msg;
  EXPECT_NE(msg.find("drop it"), std::string::npos) << msg;
}

TEST(Config, AnEarlierVersionsStoredConfigComparesWithoutRetiredKeysAndOldNames) {
  // A checkpoint's config.yaml from before loss.instance_loss went and keyframe loss weights
  // were renamed loss_<modality> -> weight_<modality>: the same run, nothing differs.
  auto cfg = load_config<PretrainConfig>(
      {}, {"curriculum.keyframes=[{at: 0, random: 1, weight_semantic: 2}]"});
  const std::string stored =
      "loss:\n  instance_loss: discriminative\n"
      "curriculum:\n  keyframes: [{at: 0, random: 1, loss_semantic: 2}]\n";
  const auto differ = cfg.differing_keys(stored, "checkpoint");
  EXPECT_TRUE(differ.empty()) << differ.front();
  // A real difference is still seen.
  const auto other = cfg.differing_keys(
      "curriculum:\n  keyframes: [{at: 0, random: 1, loss_semantic: 3}]\n", "checkpoint");
  ASSERT_EQ(other.size(), 1u);
  EXPECT_EQ(other[0], "curriculum.keyframes");
}

TEST(Config, AStrayLeadingCommaIsRefusedNotParsed) {
  // yaml-cpp 0.7 allocates without bound on these: refused before parsing.
  for (const char* value : {",", " ,", ",x", "\n, 1"}) {
    EXPECT_THROW(load_config<PretrainConfig>({}, {std::string("train.epochs=") + value}),
                 ConfigError)
        << value;
  }
  PretrainConfig cfg;
  EXPECT_THROW(cfg.merge_yaml(",", "test"), ConfigError);
  EXPECT_THROW(cfg.merge_yaml("  ,\n", "test"), ConfigError);
}

TEST(Config, UnknownSectionIsAnError) {
  auto msg = error_of([] { load_config<PretrainConfig>({}, {"trian.epochs=3"}); });
  EXPECT_NE(msg.find("unknown section"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'train'"), std::string::npos) << msg;
}

TEST(Config, WrongTypeNamesKeyAndValue) {
  auto f = write_temp("type.yaml", "train:\n  epochs: many\n");
  auto msg = error_of([&] { load_config<PretrainConfig>({f}, {}); });
  EXPECT_NE(msg.find("train.epochs = many"), std::string::npos) << msg;
  EXPECT_NE(msg.find("expected integer"), std::string::npos) << msg;
  msg = error_of([] { load_config<PretrainConfig>({}, {"model.modalities=rgb"}); });
  EXPECT_NE(msg.find("expected a list"), std::string::npos) << msg;
}

TEST(Config, NonFiniteNumbersAreRejected) {
  for (const char* set : {"optim.clip_grad=.inf", "optim.warmup_epochs=.nan", "optim.blr=-.inf"}) {
    auto msg = error_of([&] { load_config<PretrainConfig>({}, {set}); });
    EXPECT_NE(msg.find("expected a finite number"), std::string::npos) << set << ": " << msg;
  }
}

TEST(Config, OutOfRangeValueNamesSourceKeyValueAndHint) {
  auto f = write_temp("range.yaml", "masking:\n  num_visible: 700\n");
  auto cfg = load_config<PretrainConfig>({f}, {});
  auto msg = error_of([&] { cfg.validate(); });
  EXPECT_NE(msg.find(f + ": masking.num_visible = 700"), std::string::npos) << msg;
  EXPECT_NE(msg.find("hint:"), std::string::npos) << msg;
}

TEST(Config, MalformedSetAndMissingFile) {
  EXPECT_THROW(load_config<PretrainConfig>({}, {"epochs=3"}), ConfigError);
  EXPECT_THROW(load_config<PretrainConfig>({"/nonexistent/x.yaml"}, {}), ConfigError);
  auto bad = write_temp("bad.yaml", "model: [unclosed\n");
  EXPECT_THROW(load_config<PretrainConfig>({bad}, {}), ConfigError);
}

TEST(Config, KeyOrSectionWrittenTwiceNamesBothLines) {
  // yaml-cpp alone keeps the first and drops the second without a word.
  auto f = write_temp("config_dup_key.yaml", "model:\n  img_size: 224\n  img_size: 113\n");
  auto msg = error_of([&] { load_config<PretrainConfig>({f}, {}); });
  EXPECT_NE(msg.find(f + ": model.img_size = 113: key written twice (lines 2 and 3)"),
            std::string::npos)
      << msg;
  f = write_temp("config_dup_section.yaml",
                 "model:\n  depth: 2\ntrain:\n  epochs: 3\nmodel:\n  img_size: 113\n");
  msg = error_of([&] { load_config<PretrainConfig>({f}, {}); });
  EXPECT_NE(msg.find(f + ": model"), std::string::npos) << msg;
  EXPECT_NE(msg.find("section written twice (lines 1 and 5)"), std::string::npos) << msg;
  f = write_temp("config_dup_keyframe.yaml",
                 "curriculum:\n  keyframes:\n    - {at: 0, random: 1}\n    - {at: 0.5, at: 1, "
                 "random: 1}\n");
  msg = error_of([&] { load_config<PretrainConfig>({f}, {}); });
  EXPECT_NE(msg.find(f + ": curriculum.keyframes[1].at = 1: keyframe key written twice "
                         "(line 4, columns 8 and 17)"),
            std::string::npos)
      << msg;
  msg = error_of([] {
    load_config<PretrainConfig>({}, {"curriculum.keyframes=[{at: 0, random: 1, random: 2}]"});
  });
  EXPECT_NE(msg.find("--set: curriculum.keyframes[0].random = 2: keyframe key written twice"),
            std::string::npos)
      << msg;
}

TEST(Config, SecondYamlDocumentIsAnError) {
  auto f = write_temp("config_two_docs.yaml", "train:\n  epochs: 3\n---\ntrain:\n  epochs: 5\n");
  auto msg = error_of([&] { load_config<PretrainConfig>({f}, {}); });
  EXPECT_NE(msg.find(f + ": (yaml)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("second YAML document"), std::string::npos) << msg;
  EXPECT_NE(msg.find("lines 1 and 4"), std::string::npos) << msg;
  msg = error_of([] { load_config<PretrainConfig>({}, {"train.epochs=3\n---\n5"}); });
  EXPECT_NE(msg.find("--set: train.epochs"), std::string::npos) << msg;
  // A document marker with nothing after it holds no second document.
  f = write_temp("config_end_marker.yaml", "---\ntrain:\n  epochs: 3\n...\n---\n");
  EXPECT_EQ(load_config<PretrainConfig>({f}, {}).train.epochs, 3);
}

TEST(Config, KeysThatAreNotNamesAreConfigErrors) {
  // Each of these threw a YAML::Exception (exit 1) instead of a ConfigError (exit 2).
  const std::pair<const char*, const char*> cases[] = {
      {"? [a, b]\n: 1\n", "(top level)"},
      {"model:\n  [depth]: 4\n", "model"},
      {"model:\n  {a: 1}: 4\n", "model"},
      {"curriculum:\n  keyframes:\n    - {[at]: 0, random: 1}\n", "curriculum.keyframes[0]"},
      {"model:\n  - depth\n", "model"},
      {"- model\n", "(top level)"},
  };
  for (const auto& [text, key] : cases) {
    auto f = write_temp("config_key_shape.yaml", text);
    const auto msg = error_of([&] { load_config<PretrainConfig>({f}, {}); });
    EXPECT_NE(msg.find(f + ": " + key), std::string::npos) << text << " -> " << msg;
  }
}

TEST(Config, ConfigFilesAreReadWithABound) {
  auto msg = error_of([] { load_config<PretrainConfig>({"/dev/zero"}, {}); });
  EXPECT_NE(msg.find("/dev/zero: (file): is longer than the 1048576 bytes"), std::string::npos)
      << msg;
  const auto dir = ::testing::TempDir() + "config_a_directory";
  std::filesystem::create_directories(dir);
  msg = error_of([&] { load_config<PretrainConfig>({dir}, {}); });
  EXPECT_NE(msg.find(dir + ": (file): is a directory"), std::string::npos) << msg;
  // At the cap a file is read; one byte more and it is refused before reading.
  const std::string comment = "# " + std::string(kMaxConfigFileBytes - 3, 'x') + "\n";
  auto f = write_temp("config_at_cap.yaml", comment);
  ASSERT_EQ(std::filesystem::file_size(f), kMaxConfigFileBytes);
  EXPECT_NO_THROW(load_config<PretrainConfig>({f}, {}));
  f = write_temp("config_over_cap.yaml", comment + "\n");
  msg = error_of([&] { load_config<PretrainConfig>({f}, {}); });
  EXPECT_NE(msg.find("is 1048577 bytes, more than the 1048576 bytes"), std::string::npos) << msg;
  f = write_temp("config_binary.yaml", std::string("train:\0\n", 8));
  msg = error_of([&] { load_config<PretrainConfig>({f}, {}); });
  EXPECT_NE(msg.find("NUL byte"), std::string::npos) << msg;
  // The OS's reason comes through.
  msg = error_of([] { load_config<PretrainConfig>({"/nonexistent/x.yaml"}, {}); });
  EXPECT_NE(msg.find("No such file or directory"), std::string::npos) << msg;
  msg = error_of([&] { load_config<PretrainConfig>({f + "/x.yaml"}, {}); });
  EXPECT_NE(msg.find("Not a directory"), std::string::npos) << msg;
}

TEST(Config, UnreadableConfigFileGivesTheOsReason) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads any file";
  auto f = write_temp("config_unreadable.yaml", "train:\n  epochs: 3\n");
  std::filesystem::permissions(f, std::filesystem::perms::none);
  const auto msg = error_of([&] { load_config<PretrainConfig>({f}, {}); });
  std::filesystem::permissions(f, std::filesystem::perms::owner_all);
  EXPECT_NE(msg.find(f + ": (file): cannot open the config file: Permission denied"),
            std::string::npos)
      << msg;
}

TEST(Config, DumpRoundTrips) {
  auto cfg = load_config<PretrainConfig>(
      {}, {"optim.blr=1.5e-4", "model.preset=small",
           "curriculum.keyframes=[{at: 0, random: 1}, {at: 0.5, semantic: 1, "
           "weight_semantic: 2, weight_instance: 1, weight_rgb: 0.5}]",
           "curriculum.keyframes=[{at: 0, random: 1, weight_semantic: 1, "
           "weight_instance: 1, weight_rgb: 1}]"});
  auto path = write_temp("dump.yaml", cfg.dump_yaml());
  auto again = load_config<PretrainConfig>({path}, {});
  EXPECT_EQ(again.dump_yaml(), cfg.dump_yaml());
  EXPECT_EQ(again.optim.blr, 1.5e-4);
  EXPECT_EQ(again.curriculum.keyframes, cfg.curriculum.keyframes);
}

TEST(Config, TableShowsValuesAndSources) {
  auto cfg = load_config<PretrainConfig>({}, {"train.epochs=3"});
  auto t = cfg.table();
  EXPECT_NE(t.find("train.epochs"), std::string::npos);
  EXPECT_NE(t.find("--set"), std::string::npos);
  EXPECT_NE(t.find("default"), std::string::npos);
  EXPECT_NE(PretrainConfig().describe_keys().find("num_visible"), std::string::npos);
}

TEST(Config, CrossSectionRules) {
  auto cfg = load_config<PretrainConfig>({}, {"model.modalities=[rgb]", "loss.weight_rgb=0"});
  EXPECT_NE(error_of([&] { cfg.validate(); }).find("nothing is learned"), std::string::npos);
  cfg = load_config<PretrainConfig>({}, {"model.modalities=[rgb]", "masking.num_visible=196"});
  EXPECT_NE(error_of([&] { cfg.validate(); }).find("no masked token"), std::string::npos);
}

TEST(Config, WarmupAndMinLrFitTheRun) {
  auto cfg = load_config<PretrainConfig>({}, {"train.epochs=10", "optim.warmup_epochs=10.5"});
  auto msg = error_of([&] { cfg.validate(); });
  EXPECT_NE(msg.find("optim.warmup_epochs = 10.5: longer than the run's train.epochs = 10"),
            std::string::npos)
      << msg;
  cfg = load_config<PretrainConfig>({}, {"train.epochs=10", "optim.warmup_epochs=10"});
  EXPECT_NO_THROW(cfg.validate());
  cfg = load_config<PretrainConfig>({}, {"optim.lr=1e-3", "optim.min_lr=2e-3"});
  msg = error_of([&] { cfg.validate(); });
  EXPECT_NE(msg.find("optim.min_lr = 0.002: above optim.lr = 0.001"), std::string::npos) << msg;
  cfg = load_config<PretrainConfig>({}, {"optim.lr=1e-3", "optim.min_lr=1e-3"});
  EXPECT_NO_THROW(cfg.validate());
  cfg = load_config<PretrainConfig>({}, {"optim.min_lr=1e-3"});  // lr from blr: not ours
  EXPECT_NO_THROW(cfg.validate());
}

TEST(Config, EveryKeyframeLearnsSomething) {
  // weight_rgb falls to 0 at the second keyframe, and rgb is the only modality.
  const std::vector<std::string> rgb_only = {"model.modalities=[rgb]", "masking.num_visible=49"};
  auto sets = rgb_only;
  sets.push_back(
      "curriculum.keyframes=[{at: 0, random: 1, weight_rgb: 1}, "
      "{at: 0.5, random: 1, weight_rgb: 0}]");
  auto cfg = load_config<PretrainConfig>({}, sets);
  auto msg = error_of([&] { cfg.validate(); });
  EXPECT_NE(msg.find("curriculum.keyframes[1] = (loss weights): every enabled modality has "
                     "loss weight 0 at this keyframe"),
            std::string::npos)
      << msg;
  // A modality a keyframe leaves out keeps the loss section's weight...
  cfg = load_config<PretrainConfig>(
      {}, {"curriculum.keyframes=[{at: 0, random: 1, weight_semantic: 1}, "
           "{at: 0.5, random: 1, weight_semantic: 0}]",
           "loss.weight_instance=0", "loss.weight_rgb=0"});
  msg = error_of([&] { cfg.validate(); });
  EXPECT_NE(msg.find("curriculum.keyframes[1] = (loss weights)"), std::string::npos) << msg;
  cfg = load_config<PretrainConfig>(
      {}, {"curriculum.keyframes=[{at: 0, random: 1, weight_semantic: 1}, "
           "{at: 0.5, random: 1, weight_semantic: 0}]"});
  EXPECT_NO_THROW(cfg.validate());
  // ...and keyframes that weight every enabled modality make the loss section's unused.
  sets = rgb_only;
  sets.push_back("curriculum.keyframes=[{at: 0, random: 1, weight_rgb: 1}]");
  sets.push_back("loss.weight_rgb=0");
  cfg = load_config<PretrainConfig>({}, sets);
  EXPECT_NO_THROW(cfg.validate());
}

TEST(Config, DebugConfigValidates) {
  const auto path = std::string(C2FMAE_SOURCE_DIR) + "/configs/debug/tiny.yaml";
  PretrainConfig cfg;
  ASSERT_NO_THROW(cfg = load_config<PretrainConfig>({path}, {}));
  EXPECT_NO_THROW(cfg.validate());
}

TEST(Config, EveryShippedRecipeValidatesAndKeepsItsStatedBatch) {
  namespace fs = std::filesystem;
  int recipes = 0;
  for (const auto& e :
       fs::directory_iterator(fs::path(C2FMAE_SOURCE_DIR) / "configs" / "pretrain")) {
    if (e.path().extension() != ".yaml") continue;
    ++recipes;
    const auto name = e.path().filename().string();
    PretrainConfig cfg;
    ASSERT_NO_THROW(cfg = load_config<PretrainConfig>({e.path().string()}, {})) << name;
    EXPECT_NO_THROW(cfg.validate()) << name;
    if (name.find("vit_base") != std::string::npos) {
      // The ViT-B recipes state MAE's effective batch of 4096 (lr 2.4e-3) on one process.
      EXPECT_EQ(cfg.model.preset, "base") << name;
      EXPECT_EQ(cfg.data.batch_size * cfg.optim.accum_steps, 4096) << name;
      // MAE's blr; MultiMAE's own recipe uses its 1e-4.
      EXPECT_DOUBLE_EQ(cfg.optim.blr, name.rfind("multimae_", 0) == 0 ? 1e-4 : 1.5e-4) << name;
    }
    if (name.rfind("mae_", 0) == 0) {  // MAE mode is a config: RGB only, 49 visible, 8 x 512
      EXPECT_EQ(cfg.model.modalities, std::vector<Modality>{Modality::kRgb});
      EXPECT_EQ(cfg.masking.num_visible, 49);
      EXPECT_EQ(cfg.model.decoder_depth, 8);
      EXPECT_EQ(cfg.model.decoder_dim, 512);
    }
  }
  EXPECT_EQ(recipes, 7);  // C2FMAE x2, MAE, MultiMAE, the demo, SemMAE, EHM
}

TEST(Config, DistKeysTakeTheirValuesAndRefuseBadOnes) {
  auto cfg = load_config<PretrainConfig>(
      {}, {"dist.backend=gloo", "dist.timeout_s=30", "dist.bucket_mb=50"});
  EXPECT_NO_THROW(cfg.validate());
  EXPECT_EQ(cfg.dist.backend.name(), "gloo");
  EXPECT_EQ(cfg.dist.timeout_s, 30);
  EXPECT_EQ(cfg.dist.bucket_mb, 50);
  for (const char* set : {"dist.backend=mpi", "dist.timeout_s=0", "dist.bucket_mb=0"}) {
    // An unknown backend is refused as it is read, a number out of range by validate().
    const auto msg = error_of([&] { load_config<PretrainConfig>({}, {set}).validate(); });
    EXPECT_NE(msg.find(std::string(set).substr(0, std::string(set).find('='))), std::string::npos)
        << set << ": " << msg;
  }
}

/// A root of another program: any struct of sections gets the whole machinery.
struct ToyRoot : Root<ToyRoot> {
  ModelConfig model;
  LogConfig log;
  void visit_sections(SectionVisitor& v) override {
    v("model", model);
    v("log", log);
  }
  using ConfigRoot::visit_sections;
  void validate() const override {
    Checker c(origins);
    model.validate(c);
    log.validate(c);
  }
};

TEST(Config, AnyRootOfSectionsGetsLoadingDumpingHelpAndErrors) {
  auto cfg = load_config<ToyRoot>({}, {"log.every=5", "model.depth=3"});
  EXPECT_EQ(cfg.log.every, 5);
  EXPECT_EQ(cfg.origins.at("model.depth"), "--set");
  EXPECT_NO_THROW(cfg.validate());
  EXPECT_NE(cfg.dump_yaml().find("every: 5"), std::string::npos);
  EXPECT_EQ(cfg.dump_yaml().find("optim"), std::string::npos);  // not a section of this root
  EXPECT_NE(cfg.describe_keys().find("decoder_dim"), std::string::npos);
  EXPECT_NE(error_of([] { load_config<ToyRoot>({}, {"optim.blr=1"}); }).find("unknown section"),
            std::string::npos);
  const auto differ = cfg.differing_keys("log:\n  every: 7\n", "other");
  EXPECT_EQ(differ, (std::vector<std::string>{"model.depth", "log.every"}));
}

}  // namespace
}  // namespace c2fmae::config
