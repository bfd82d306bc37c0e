#include "c2fmae/config/choice.h"

#include <gtest/gtest.h>

#include <sstream>

#include "c2fmae/config/finetune_config.h"
#include "c2fmae/config/pretrain_config.h"

namespace c2fmae::config {
namespace {

/// The dotted keys of every choice field of a root, with their allowed names.
class ChoiceCollector : public FieldVisitor {
 public:
  std::string section;
  std::vector<std::pair<std::string, std::vector<std::string>>> choices;

  void field(const char*, int64_t&, const char*) override {}
  void field(const char*, double&, const char*) override {}
  void field(const char*, bool&, const char*) override {}
  void field(const char*, std::string&, const char*) override {}
  void field(const char* key, ChoiceField& value, const char*) override {
    choices.emplace_back(section + "." + key, value.names());
  }
  void field(const char*, std::vector<Modality>&, const char*) override {}
  void field(const char*, std::vector<Keyframe>&, const char*) override {}
};

template <class R>
std::vector<std::pair<std::string, std::vector<std::string>>> choices_of() {
  ChoiceCollector collector;
  class Sections : public SectionVisitor {
   public:
    explicit Sections(ChoiceCollector& c) : c_(c) {}
    void section(const char* name, const std::function<void(FieldVisitor&)>& fields) override {
      c_.section = name;
      fields(c_);
    }

   private:
    ChoiceCollector& c_;
  } sections(collector);
  R root;
  root.visit_sections(sections);
  return collector.choices;
}

/// The ConfigError `fn` throws (fails the test if none).
template <class Fn>
ConfigError choice_error_of(Fn fn) {
  try {
    fn();
  } catch (const ConfigError& e) {
    return e;
  }
  ADD_FAILURE() << "expected a ConfigError";
  return ConfigError("", "", "", "", "");
}

bool has_text(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(Choice, ConvertsToItsEnumAndNamesItsValue) {
  Choice<Precision> p = Precision::kBf16;
  EXPECT_EQ(p, Precision::kBf16);
  EXPECT_EQ(p.name(), "bf16");
  EXPECT_EQ(p.names(), (std::vector<std::string>{"fp32", "bf16"}));
  switch (p) {
    case Precision::kFp32:
      ADD_FAILURE() << "switch took fp32";
      break;
    case Precision::kBf16:
      break;
  }
  EXPECT_TRUE(p.set("fp32"));
  EXPECT_EQ(p, Precision::kFp32);
  EXPECT_FALSE(p.set("fp8"));
  EXPECT_EQ(p, Precision::kFp32);  // unchanged
  std::ostringstream os;
  os << p;
  EXPECT_EQ(os.str(), "fp32");
}

TEST(Choice, EveryNameOfEveryKeyRoundTripsThroughSetYamlAndTheDump) {
  const auto pretrain = choices_of<PretrainConfig>();
  const auto finetune = choices_of<FinetuneConfig>();
  EXPECT_EQ(pretrain.size(), 13u);  // all but model.global_pool and finetune.mode
  EXPECT_EQ(finetune.size(), 8u);   // those two, and the data, train, dist and log sections'

  for (const auto& [key, names] : pretrain) {
    const auto dot = key.find('.');
    for (const auto& name : names) {
      auto set = load_config<PretrainConfig>({}, {key + "=" + name});
      EXPECT_EQ(set.origins.at(key), "--set");
      const std::string line = key.substr(dot + 1) + ": \"" + name + "\"";
      const auto dump = set.dump_yaml();
      EXPECT_TRUE(has_text(dump, line)) << line << "\n" << dump;
      PretrainConfig read;
      read.merge_yaml(dump, "dump");
      EXPECT_EQ(read.dump_yaml(), dump) << key << " = " << name;
      // Unquoted in a YAML file, as the configs write it.
      PretrainConfig file;
      file.merge_yaml(key.substr(0, dot) + ":\n  " + key.substr(dot + 1) + ": " + name + "\n",
                      "file.yaml");
      EXPECT_EQ(file.dump_yaml(), dump) << key << " = " << name;
    }
  }
  for (const auto& [key, names] : finetune) {
    for (const auto& name : names) {
      const auto dump = load_config<FinetuneConfig>({}, {key + "=" + name}).dump_yaml();
      EXPECT_TRUE(has_text(dump, key.substr(key.find('.') + 1) + ": \"" + name + "\"")) << dump;
    }
  }
}

TEST(Choice, TheDefaultDumpWritesChoicesAsTheQuotedNamesOfBefore) {
  // The text strings had: configs and checkpoints' stored configs read as they did.
  const auto dump = PretrainConfig().dump_yaml();
  for (const char* line :
       {"decoder_mode: \"cascade\"", "guided_hide_in: \"guide_and_finer\"",
        "semmae_schedule: \"quadratic\"", "semmae_parts: \"semantic\"", "interpolation: \"linear\"",
        "reduction: \"pixels\"", "instance_background: \"ignore\"", "source: \"synthetic\"",
        "interpolation: \"bicubic\"", "device: \"auto\"", "precision: \"bf16\"",
        "backend: \"auto\"", "level: \"info\""}) {
    EXPECT_TRUE(has_text(dump, line)) << line << "\n" << dump;
  }
  const auto ft = FinetuneConfig().dump_yaml();
  EXPECT_TRUE(has_text(ft, "global_pool: \"avg\"")) << ft;
  EXPECT_TRUE(has_text(ft, "mode: \"finetune\"")) << ft;
}

TEST(Choice, AnUnknownNameIsRefusedWhenReadWithTheKeyTheValueAndTheNames) {
  auto e = choice_error_of([] { load_config<PretrainConfig>({}, {"model.decoder_mode=serial"}); });
  EXPECT_EQ(e.key(), "model.decoder_mode");
  const std::string msg = e.what();
  EXPECT_TRUE(has_text(msg, "--set: model.decoder_mode = serial")) << msg;
  EXPECT_TRUE(has_text(msg, "hint: known values: cascade, parallel")) << msg;
  // A near miss gets a suggestion; a file names itself as the source.
  PretrainConfig cfg;
  e = choice_error_of([&] { cfg.merge_yaml("train:\n  precision: bf61\n", "run.yaml"); });
  EXPECT_EQ(e.key(), "train.precision");
  EXPECT_TRUE(has_text(e.what(), "run.yaml: train.precision = bf61")) << e.what();
  EXPECT_TRUE(has_text(e.what(), "did you mean 'bf16'?")) << e.what();
  EXPECT_EQ(cfg.train.precision, Precision::kBf16);  // left as it was
  e = choice_error_of([] { load_config<PretrainConfig>({}, {"log.level=[info, warn]"}); });
  EXPECT_EQ(e.key(), "log.level");
  EXPECT_TRUE(has_text(e.what(), "expected one name")) << e.what();
  EXPECT_TRUE(has_text(e.what(), "debug, info, warn, error, off")) << e.what();
  e = choice_error_of([] { load_config<FinetuneConfig>({}, {"data.source=lmdb"}); });
  EXPECT_TRUE(has_text(e.what(), "synthetic, folder, shards")) << e.what();
}

TEST(Choice, HelpListsTheAllowedNames) {
  const auto help = PretrainConfig().describe_keys();
  EXPECT_TRUE(has_text(help, "(one of: cascade, parallel) [\"cascade\"]")) << help;
  EXPECT_TRUE(has_text(help, "(one of: synthetic, folder, shards)")) << help;
  EXPECT_TRUE(has_text(FinetuneConfig().describe_keys(),
                       "(one of: finetune, linprobe, eval, knn, dense_probe)"));
}

}  // namespace
}  // namespace c2fmae::config
