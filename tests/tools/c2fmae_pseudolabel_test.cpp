// Integration tests: the real c2fmae_pseudolabel program on the models and images of
// tests/pseudolabel/reference.py (CTest fixture pseudolabel_models), and what reads its
// output: the folder loader (c2fmae_pretrain), c2fmae_pack and the shard loader.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <torch/script.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>

#include "c2fmae/data/shard_index.h"
#include "c2fmae/formats/tar.h"
#include "c2fmae/pseudolabel/segmenter.h"
#include "pretrain_fixture.h"
#include "pseudolabel/pseudolabel_fixture.h"
#include "python_tool.h"
#include "test_helpers.h"

namespace c2fmae {
namespace {
namespace fs = std::filesystem;

testing::CommandResult pseudolabel(const std::string& args) {
  return testing::run_command(std::string(C2FMAE_PSEUDOLABEL_BIN) + " " + args);
}

std::string model(const std::string& name) {
  return testing::pseudolabel_fixture() + "/" + name + ".pt";
}
std::string images() { return testing::pseudolabel_fixture() + "/images"; }

// Every file under `root` (relative path -> bytes), the records left out.
std::map<std::string, std::vector<uint8_t>> files_under(const std::string& root) {
  std::map<std::string, std::vector<uint8_t>> files;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    const auto rel = fs::relative(e.path(), root).string();
    if (!e.is_regular_file() || rel.find("pseudolabel") != std::string::npos) continue;
    files[rel] = testing::read_bytes(e.path().string());
  }
  return files;
}

// The number after "key": in the record's first split.
int64_t record_count(const std::string& out, const std::string& key,
                     const std::string& stem = "pseudolabel") {
  const auto text = testing::read_text(out + "/" + stem + ".json");
  const auto at = text.find("\"" + key + "\": ");
  EXPECT_NE(at, std::string::npos) << key << "\n" << text;
  return at == std::string::npos ? -1 : std::stoll(text.substr(at + key.size() + 4));
}

void expect_maps_match_reference(const std::string& out, const std::string& name) {
  for (const auto& key : testing::pseudolabel_keys()) {
    const auto cls = key.substr(0, key.find('/')), stem = key.substr(key.find('/') + 1);
    for (const auto& [kind, folder] : {std::pair{"sem", "semseg"}, std::pair{"ins", "instance"}}) {
      const auto expected = testing::read_label_png(testing::pseudolabel_fixture() + "/expected/" +
                                                    name + "/" + key + "." + kind + ".png");
      const auto got =
          testing::read_label_png(out + "/train/" + folder + "/" + cls + "/" + stem + ".png");
      EXPECT_EQ(got.width, expected.width) << name << " " << key;
      EXPECT_EQ(got.pixels, expected.pixels) << name << " " << key << " " << kind;
    }
  }
}

TEST(PseudolabelProgram, FolderInMatchesThePythonReferenceTrainsAndPacks) {
  const auto dir = testing::fresh_dir("c2fmae_pseudolabel_folder");
  for (const std::string name : {"m2f", "lraspp"}) {
    const auto out = dir + "/" + name;
    auto r = pseudolabel("--model " + model(name) + " --root " + images() + " --out " + out +
                         " --batch 2 --workers 2 --preview 2");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    expect_maps_match_reference(out, name);
    EXPECT_EQ(record_count(out, "written"), 7);
    EXPECT_TRUE(fs::exists(out + "/train/rgb/alpha/merge.png"));
    EXPECT_EQ(std::distance(fs::directory_iterator(out + "/preview"), fs::directory_iterator()), 2);
    const auto lines = testing::read_text(out + "/train/pseudolabel.jsonl");
    EXPECT_EQ(std::count(lines.begin(), lines.end(), '\n'), 7) << lines;
  }
  // The output is a MultiMAE folder split: pre-training reads it as it is ...
  const auto run_dir = testing::tiny_pretrain_dir("c2fmae_pseudolabel_trains");
  auto r = testing::run_command(
      std::string(C2FMAE_PRETRAIN_BIN) + " --config " + run_dir + "/tiny.yaml --output-dir " +
      run_dir + "/run --set data.source=folder --set data.root=" + dir + "/m2f" +
      " --set model.num_semantic_classes=8 --set data.batch_size=2 --set train.max_steps=3" +
      " --set data.max_bad_fraction=0");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(testing::read_text(run_dir + "/run/metrics.jsonl").find("\"step\": 3"),
            std::string::npos);
  // ... and c2fmae_pack packs it with its maps.
  r = testing::run_command(std::string(C2FMAE_PACK_BIN) + " --root " + dir + "/m2f --out " + dir +
                           "/packed");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("0 missing masks"), std::string::npos) << r.output;
  EXPECT_TRUE(data::read_shard_index(dir + "/packed", "train").has_masks());
}

TEST(PseudolabelProgram, ShardsInGiveLabelledShardsAndARedoneShardIsByteIdentical) {
  const auto dir = testing::fresh_dir("c2fmae_pseudolabel_shards");
  data::PackOptions pack;
  pack.shard_bytes = 4096;  // several shards
  data::pack_folder(images(), "train", dir + "/in", pack);
  const auto in = data::read_shard_index(dir + "/in", "train");
  ASSERT_GE(in.shard_files.size(), 3u);
  const auto args_for = [&](const std::string& out) {
    return "--model " + model("m2f") + " --root " + dir + "/in --source shards --batch 2 --out " +
           dir + "/" + out;
  };
  const auto args = args_for("out");
  auto r = pseudolabel(args);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto out = data::read_shard_index(dir + "/out", "train");
  EXPECT_TRUE(out.has_masks());
  EXPECT_EQ(out.samples.size(), 7u);
  EXPECT_EQ(out.shard_files, in.shard_files);
  // Each sample: the image, its maps (equal to the reference's), the class, in that order.
  const auto shard = testing::read_bytes(dir + "/out/" + out.shard_files[0]);
  const auto members = formats::parse_tar_members(shard.data(), shard.size());
  ASSERT_GE(members.size(), 4u);
  EXPECT_EQ(members[0].name, "alpha/merge.png");
  EXPECT_EQ(members[1].name, "alpha/merge.sem.png");
  EXPECT_EQ(members[2].name, "alpha/merge.ins.png");
  EXPECT_EQ(members[3].name, "alpha/merge.cls");
  const auto sem = formats::decode_image(shard.data() + members[1].offset, members[1].size);
  EXPECT_EQ(sem.pixels, testing::read_label_png(testing::pseudolabel_fixture() +
                                                "/expected/m2f/alpha/merge.sem.png")
                            .pixels);
  // A rerun skips every shard; a deleted shard is made again, the same bytes.
  const auto before = files_under(dir + "/out");
  r = pseudolabel(args);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(record_count(dir + "/out", "written"), 0);
  fs::remove(dir + "/out/" + out.shard_files[1]);
  fs::remove(dir + "/out/train.index");
  r = pseudolabel(args);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_GT(record_count(dir + "/out", "written"), 0);
  EXPECT_LT(record_count(dir + "/out", "written"), 7);
  EXPECT_TRUE(files_under(dir + "/out") == before);
  // Two parts: the index comes from the part that finishes last.
  r = pseudolabel(args_for("out2") + " --shard 0/2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_FALSE(fs::exists(dir + "/out2/train.index"));
  r = pseudolabel(args_for("out2") + " --shard 1/2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(files_under(dir + "/out2") == before);
  // A repacked input (an image fewer) is noticed: its shards are redone, the index follows.
  fs::copy(images(), dir + "/fewer", fs::copy_options::recursive);
  fs::remove(dir + "/fewer/train/alpha/small.png");
  pack.overwrite = true;
  data::pack_folder(dir + "/fewer", "train", dir + "/in", pack);
  r = pseudolabel(args);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_GT(record_count(dir + "/out", "written"), 0);
  EXPECT_EQ(data::read_shard_index(dir + "/out", "train").samples.size(), 6u);
  // Into fewer shards: the ones the index no longer lists go.
  pack.shard_bytes = 1 << 20;
  data::pack_folder(dir + "/fewer", "train", dir + "/in", pack);
  ASSERT_EQ(pseudolabel(args).exit_code, 0);
  EXPECT_EQ(data::read_shard_index(dir + "/out", "train").shard_files.size(), 1u);
  EXPECT_FALSE(fs::exists(dir + "/out/" + in.shard_files[1]));
  EXPECT_FALSE(fs::exists(dir + "/out/" + in.shard_files[1] + ".spans"));
}

TEST(PseudolabelProgram, AResumeRecomputesOnlyWhatIsMissingAndTwoPartsEqualOneRun) {
  const auto dir = testing::fresh_dir("c2fmae_pseudolabel_resume");
  const auto args = "--model " + model("hand") + " --root " + images() + " --batch 2 --out ";
  ASSERT_EQ(pseudolabel(args + dir + "/one").exit_code, 0);
  const auto whole = files_under(dir + "/one");
  EXPECT_EQ(whole.size(), 21u);  // 7 images, 7 semantic and 7 instance maps
  fs::remove(dir + "/one/train/semseg/alpha/things.png");
  fs::remove(dir + "/one/train/instance/beta/wide.png");
  auto r = pseudolabel(args + dir + "/one");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(record_count(dir + "/one", "written"), 2);
  EXPECT_EQ(record_count(dir + "/one", "skipped_existing"), 5);
  EXPECT_TRUE(files_under(dir + "/one") == whole);
  // --shard 0/2 and 1/2, each with its own record, give the one run's files.
  for (const auto* part : {"0/2", "1/2"}) {
    r = pseudolabel(args + dir + "/two --shard " + part);
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  EXPECT_TRUE(files_under(dir + "/two") == whole);
  EXPECT_EQ(record_count(dir + "/two", "written", "pseudolabel-0-of-2") +
                record_count(dir + "/two", "written", "pseudolabel-1-of-2"),
            7);
  // A MultiMAE input into another folder with --write instance: its semantic maps go along
  // (links), and one it lacks is made with the instances.
  fs::remove(dir + "/one/train/semseg/alpha/small.png");
  r = pseudolabel("--model " + model("hand") + " --batch 2 --root " + dir + "/one --out " + dir +
                  "/three --write instance");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const auto& key : testing::pseudolabel_keys()) {
    EXPECT_TRUE(fs::exists(dir + "/three/train/semseg/" + key + ".png")) << key;
    EXPECT_TRUE(fs::exists(dir + "/three/train/instance/" + key + ".png")) << key;
  }
  EXPECT_TRUE(fs::equivalent(dir + "/three/train/semseg/alpha/merge.png",
                             dir + "/one/train/semseg/alpha/merge.png"));
  EXPECT_TRUE(testing::read_bytes(dir + "/three/train/semseg/alpha/small.png") ==
              whole.at("train/semseg/alpha/small.png"));
  // A folder where a map belongs is not a map: the sample is redone, and the write fails
  // naming the path.
  fs::create_directory(dir + "/one/train/semseg/alpha/small.png");
  r = pseudolabel(args + dir + "/one");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("alpha/small.png"), std::string::npos) << r.output;
  fs::remove(dir + "/one/train/semseg/alpha/small.png");
  // --write instance in place into a MultiMAE folder with released semantic maps (not made
  // here, so no model record) keeps them, and fills in the instances.
  fs::create_directories(dir + "/released/train");
  fs::copy(dir + "/one/train/rgb", dir + "/released/train/rgb", fs::copy_options::recursive);
  fs::copy(dir + "/one/train/semseg", dir + "/released/train/semseg", fs::copy_options::recursive);
  testing::write_text(dir + "/released/train/semseg/alpha/merge.png", "kept");
  r = pseudolabel("--model " + model("m2f") + " --root " + dir + "/released --out " + dir +
                  "/released --write instance");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(record_count(dir + "/released", "written"), 7);
  EXPECT_EQ(testing::read_text(dir + "/released/train/semseg/alpha/merge.png"), "kept");
  EXPECT_EQ(
      testing::read_label_png(dir + "/released/train/instance/alpha/merge.png").pixels,
      testing::read_label_png(testing::pseudolabel_fixture() + "/expected/m2f/alpha/merge.ins.png")
          .pixels);
}

TEST(PseudolabelProgram, ASignalFinishesTheImagesInFlightAndTheSameCommandCompletesTheRun) {
  const auto dir = testing::fresh_dir("c2fmae_pseudolabel_signal");
  const auto noise = images() + "/train/beta/noise.png";
  for (int i = 0; i < 60; ++i) {
    fs::create_directories(dir + "/in/train/c" + std::to_string(i % 2));
    fs::copy_file(noise,
                  dir + "/in/train/c" + std::to_string(i % 2) + "/n" + std::to_string(i) + ".png");
  }
  const auto command = std::string(C2FMAE_PSEUDOLABEL_BIN) + " --model " + model("lraspp") +
                       " --root " + dir + "/in --out " + dir + "/out --batch 2 --workers 1";
  // The program in the background; SIGTERM once its first maps exist.
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const int log = ::open((dir + "/log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(log, 1);
    ::dup2(log, 2);
    ::execl("/bin/sh", "sh", "-c", ("exec " + command).c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  for (int i = 0; i < 600 && !fs::exists(dir + "/out/train/instance"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  const auto log = testing::read_text(dir + "/log");
  ASSERT_TRUE(WIFEXITED(status)) << log;
  EXPECT_EQ(WEXITSTATUS(status), 143) << log;
  EXPECT_NE(log.find("stopped by SIGTERM"), std::string::npos) << log;
  EXPECT_NE(testing::read_text(dir + "/out/pseudolabel.json").find("\"stopped\""),
            std::string::npos);
  const auto written = record_count(dir + "/out", "written");
  EXPECT_GT(written, 0);
  EXPECT_LT(written, 60) << "the run ended before the signal";
  // Every image listed in rgb/ has both maps (the image is linked last).
  int64_t listed = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir + "/out/train/rgb")) {
    if (!e.is_regular_file()) continue;
    ++listed;
    const auto rel = fs::relative(e.path(), dir + "/out/train/rgb");
    EXPECT_TRUE(fs::exists(fs::path(dir + "/out/train/semseg") / rel)) << rel;
    EXPECT_TRUE(fs::exists(fs::path(dir + "/out/train/instance") / rel)) << rel;
  }
  EXPECT_EQ(listed, written);
  auto r = testing::run_command(command);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(record_count(dir + "/out", "written"), 60 - written);
}

TEST(PseudolabelProgramErrors, EveryBadArgumentExits2AndWritesNothing) {
  const auto dir = testing::fresh_dir("c2fmae_pseudolabel_arguments");
  const auto good = "--model " + model("m2f") + " --root " + images();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--root " + images() + " --out " + dir + "/o", "--model"},
      {good, "--out"},
      {good + " --out " + dir + "/o --batch 0", "--batch"},
      {good + " --out " + dir + "/o --workers 0", "--workers"},
      {good + " --out " + dir + "/o --shard 2/2", "--shard"},
      {good + " --out " + dir + "/o --shard 1", "--shard"},
      {good + " --out " + dir + "/o --write depth", "--write"},
      {good + " --out " + dir + "/o --source lmdb", "--source"},
      {good + " --out " + dir + "/o --device tpu", "--device"},
      {good + " --out " + dir + "/o --device cuda:0", "CUDA"},
      {good + " --out " + dir + "/o --rgb move", "--rgb"},
      {good + " --out " + dir + "/o --split ../x", "--split"},
      {good + " --out " + dir + "/o --split train --split train", "twice"},
      {good + " --out " + dir + "/o --split val", "val"},
      {good + " --out " + dir + "/o --max-bad-fraction 2", "--max-bad-fraction"},
      {good + " --out " + dir + "/o --object-threshold 1.5", "--object-threshold"},
      {good + " --out " + dir + "/o --object-threshold nan", "--object-threshold"},
      {good + " --out " + dir + "/o --max-bad-fraction nan", "--max-bad-fraction"},
      {good + " --out " + dir + "/o --max-bad-fraction ' 0.5'", "--max-bad-fraction"},
      {good + " --out " + dir + "/o --shard ' 1/2'", "--shard"},
      {good + " --out " + dir + "/o --shard 1e0/2", "--shard"},
      {good + " --out " + dir + "/o --write semseg,semseg", "--write"},
      {good + " --out " + dir + "/o --write semseg,", "--write"},
      {good + " --out " + dir + "/o --source shards", "index"},
      {"--model " + dir + "/nonesuch.pt --root " + images() + " --out " + dir + "/o", "nonesuch"},
      {"--model " + images() + "/train/beta/noise.png --root " + images() + " --out " + dir + "/o",
       "TorchScript"},
      {good + " --out " + images(), "ImageFolder"},
      {good + " --out " + images() + "/train/alpha", "inside the input split"},
  };
  for (const auto& [args, expected] : cases) {
    const auto r = pseudolabel(args);
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.output;
    EXPECT_NE(r.output.find(expected), std::string::npos) << args << "\n" << r.output;
    EXPECT_EQ(r.output.find("frame #"), std::string::npos) << r.output;
  }
  // A launcher's environment, broken.
  for (const auto& [env, expected] : std::vector<std::pair<std::string, std::string>>{
           {"RANK=1", "WORLD_SIZE is not"},
           {"RANK=5 WORLD_SIZE=2", "RANK/WORLD_SIZE"},
           {"RANK=a WORLD_SIZE=2", "RANK/WORLD_SIZE"}}) {
    const auto r = testing::run_command(env + " " + C2FMAE_PSEUDOLABEL_BIN + " " + good +
                                        " --out " + dir + "/o");
    EXPECT_EQ(r.exit_code, 2) << env << "\n" << r.output;
    EXPECT_NE(r.output.find(expected), std::string::npos) << env << "\n" << r.output;
    EXPECT_EQ(r.output.find("frame #"), std::string::npos) << r.output;
  }
  EXPECT_FALSE(fs::exists(dir + "/o/train"));
  // Two images of one class with one stem would share their mask file.
  fs::create_directories(dir + "/clash/train/a");
  fs::copy_file(images() + "/train/alpha/merge.png", dir + "/clash/train/a/x.png");
  fs::copy_file(images() + "/train/alpha/merge.png", dir + "/clash/train/a/x.jpg");
  const auto r =
      pseudolabel("--model " + model("m2f") + " --root " + dir + "/clash --out " + dir + "/o");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("x.png"), std::string::npos) << r.output;
}

// A copy of m2f.pt whose metadata has `from` replaced by `to`.
std::string edited_model(const std::string& dir, const std::string& from, const std::string& to) {
  torch::jit::ExtraFilesMap extra{{"c2fmae_segmenter.json", ""}};
  auto module = torch::jit::load(model("m2f"), torch::kCPU, extra);
  auto& json = extra["c2fmae_segmenter.json"];
  const auto at = json.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  json.replace(at, from.size(), to);
  const auto path = dir + "/edited_" + std::to_string(std::hash<std::string>()(to)) + ".pt";
  module.save(path, extra);
  return path;
}

TEST(PseudolabelProgramErrors, ModelProblemsAndASecondProcessExit2) {
  const auto dir = testing::fresh_dir("c2fmae_pseudolabel_models");
  const auto run = [&](const std::string& model_path, const std::string& out) {
    return pseudolabel("--model " + model_path + " --root " + images() + " --out " + dir + "/" +
                       out);
  };
  // A class count that is not the model's: found on the first batch.
  auto r = run(edited_model(dir,
                            "\"num_classes\": 8, \"class_names\": [\"class0\", \"class1\", "
                            "\"class2\", \"class3\", \"class4\", \"class5\", \"class6\", "
                            "\"class7\"]",
                            "\"num_classes\": 7"),
               "wrong_classes");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("num_classes"), std::string::npos) << r.output;
  r = run(edited_model(dir, "\"mask_classification\"", "\"panoptic\""), "bad_kind");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("'panoptic'"), std::string::npos) << r.output;
  r = run(edited_model(dir, "\"short_side\": 40", "\"short_side\": -1"), "bad_input");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("input.short_side"), std::string::npos) << r.output;
  // A model that fails inside forward, or returns NaN: one line, exit 2, nothing trusted.
  for (const auto& [name, expected] :
       {std::pair{"raises", "this model always fails"}, std::pair{"nan", "NaN or Inf"}}) {
    r = run(model(name), name);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find(expected), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("Traceback"), std::string::npos) << r.output;
    EXPECT_EQ(files_under(dir + "/" + name).size(), 0u) << name;  // no image, no map
  }
  // Maps of another model (or other thresholds) are not mixed into an output.
  ASSERT_EQ(run(model("m2f"), "mixed").exit_code, 0);
  r = run(model("hand"), "mixed");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("another model or other thresholds"), std::string::npos) << r.output;
  r = run(model("m2f") + " --object-threshold 0.5", "mixed");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_EQ(run(model("hand") + " --overwrite", "mixed").exit_code, 0);
  const auto lines = testing::read_text(dir + "/mixed/train/pseudolabel.jsonl");
  EXPECT_EQ(std::count(lines.begin(), lines.end(), '\n'), 7) << "the old model's lines stay";
  // Replacing the model must relabel every sample and every map it made.
  r = run(model("m2f") + " --overwrite --shard 0/2", "mixed");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--shard 0/1"), std::string::npos) << r.output;
  r = run(model("m2f") + " --overwrite --write instance", "mixed");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("semseg maps of the earlier model"), std::string::npos) << r.output;
  // A second process writing the same part of the same output is refused.
  fs::create_directories(dir + "/locked");
  const int fd = ::open((dir + "/locked/pseudolabel.lock").c_str(), O_RDWR | O_CREAT, 0644);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  r = run(model("m2f"), "locked");
  ::close(fd);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("another c2fmae_pseudolabel"), std::string::npos) << r.output;
}

TEST(PseudolabelProgramErrors, BadImagesAreCountedAndLeftOutWithinTheBadFraction) {
  const auto dir = testing::fresh_dir("c2fmae_pseudolabel_bad_images");
  fs::copy(images(), dir + "/in", fs::copy_options::recursive);
  // A truncated JPEG, and a file that is no image at all.
  const auto rgb = torch::full({32 * 32 * 3}, 90, torch::kUInt8);
  auto jpeg = formats::encode_jpeg(rgb.data_ptr<uint8_t>(), 32, 32);
  jpeg.resize(jpeg.size() / 2);
  std::ofstream(dir + "/in/train/alpha/cut.jpg", std::ios::binary)
      .write(reinterpret_cast<const char*>(jpeg.data()), static_cast<std::streamsize>(jpeg.size()));
  testing::write_text(dir + "/in/train/beta/text.jpg", "not an image");
  // Gray images (8- and 16-bit PNG, gray JPEG) are images, not bad ones.
  const auto gray8 = torch::full({20 * 30}, 140, torch::kUInt8);
  const auto gray16 = torch::full({20 * 30}, 40000, torch::kInt).to(torch::kUInt16);
  const auto write = [](const std::string& path, const std::vector<uint8_t>& bytes) {
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
  };
  write(dir + "/in/train/beta/gray8.png", formats::encode_png_gray(gray8.data_ptr(), 30, 20, 8));
  write(dir + "/in/train/beta/gray16.png", formats::encode_png_gray(gray16.data_ptr(), 30, 20, 16));
  const auto args = "--model " + model("hand") + " --root " + dir + "/in --out " + dir + "/out";
  auto r = pseudolabel(args);
  EXPECT_EQ(r.exit_code, 2) << r.output;  // 2 of 9 is above the default 1 %
  EXPECT_NE(r.output.find("--max-bad-fraction"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("cut.jpg"), std::string::npos) << r.output;
  r = pseudolabel(args + " --max-bad-fraction 0.25 --overwrite");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("2 bad"), std::string::npos) << r.output;
  EXPECT_EQ(record_count(dir + "/out", "bad"), 2);
  EXPECT_FALSE(fs::exists(dir + "/out/train/rgb/alpha/cut.jpg"));
  EXPECT_FALSE(fs::exists(dir + "/out/train/semseg/alpha/cut.png"));
  EXPECT_TRUE(fs::exists(dir + "/out/train/semseg/beta/gray8.png"));
  EXPECT_TRUE(fs::exists(dir + "/out/train/instance/beta/gray16.png"));
  EXPECT_NE(testing::read_text(dir + "/out/pseudolabel.json").find("text.jpg"), std::string::npos);
}

TEST(ExportSegmenter, WritesAModelTheProgramReadsAndRefusesBadRequests) {
  if (!testing::python_present()) GTEST_SKIP() << "no python with torch: " << C2FMAE_PYTHON_BIN;
  const auto dir = testing::fresh_dir("c2fmae_export_segmenter");
  const auto exporter =
      std::string(C2FMAE_PYTHON_BIN) + " " + C2FMAE_SOURCE_DIR + "/tools/export_segmenter.py ";
  const auto out = dir + "/seg.pt";
  const auto args =
      "--source random:lraspp --num-classes 3 --format torchscript --short-side 32 "
      "--out " +
      out;
  auto r = testing::run_command(exporter + args);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("max |diff|"), std::string::npos) << r.output;  // checked vs eager
  const auto model = pseudolabel::Segmenter::load(out, torch::kCPU);
  EXPECT_EQ(model.info().kind, pseudolabel::SegmenterKind::kSemantic);
  EXPECT_EQ(model.info().num_classes, 3);
  EXPECT_EQ(model.info().input.short_side, 32);
  r = pseudolabel("--model " + out + " --root " + images() + " --out " + dir + "/maps");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // An existing file is kept; a bad source or an AOTInductor export without its fixed input
  // size is a usage error.
  const auto size = fs::file_size(out);
  for (const auto& bad : {args, "--source nonesuch:x --format torchscript --out " + dir + "/x.pt",
                          "--source random:lraspp --format aoti --out " + dir + "/x.pt2"}) {
    r = testing::run_command(exporter + bad);
    EXPECT_EQ(r.exit_code, 2) << bad << "\n" << r.output;
    EXPECT_NE(r.output.find("export_segmenter: "), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("Traceback"), std::string::npos) << r.output;
  }
  EXPECT_EQ(fs::file_size(out), size);
  EXPECT_FALSE(fs::exists(dir + "/x.pt"));
}

}  // namespace
}  // namespace c2fmae
