// Integration tests: the real c2fmae_pretrain, c2fmae_export and c2fmae_finetune programs on
// the tiny configs: pre-train, export, fine-tune, evaluate.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <vector>

#include "data_fixture.h"
#include "pretrain_fixture.h"
#include "test_helpers.h"

namespace c2fmae {
namespace {
namespace fs = std::filesystem;

using Run = testing::CommandResult;
using testing::run_command;

Run finetune(const std::string& args) {
  return run_command(std::string(C2FMAE_FINETUNE_BIN) + " " + args);
}
Run export_weights(const std::string& args) {
  return run_command(std::string(C2FMAE_EXPORT_BIN) + " " + args);
}

/// The lines of metrics.jsonl that hold `key`.
std::vector<std::string> lines_with(const std::string& run_dir, const std::string& key) {
  std::vector<std::string> out;
  std::ifstream in(run_dir + "/metrics.jsonl");
  for (std::string line; std::getline(in, line);) {
    if (line.find("\"" + key + "\"") != std::string::npos) out.push_back(line);
  }
  return out;
}

/// The value of `key` in a metrics line, as written.
std::string field(const std::string& line, const std::string& key) {
  const auto at = line.find("\"" + key + "\": ") + key.size() + 4;
  return line.substr(at, line.find_first_of(",}", at) - at);
}

TEST(Finetune, PretrainExportFinetuneAndEvaluateThroughThePrograms) {
  const auto dir = testing::tiny_pretrain_dir("c2fmae_finetune_e2e");
  const auto ft_yaml = testing::add_tiny_finetune_yaml(dir);
  auto r = run_command(std::string(C2FMAE_PRETRAIN_BIN) + " --config " + dir +
                       "/tiny.yaml --output-dir " + dir + "/pre --set train.max_steps=10");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = export_weights("--checkpoint " + dir + "/pre/latest.pt --out " + dir + "/enc.safetensors");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("encoder"), std::string::npos) << r.output;
  // Fine-tune from the export: 2 epochs of 20 steps, evaluated after each.
  r = finetune("--config " + ft_yaml + " --output-dir " + dir + "/ft --pretrained " + dir +
               "/enc.safetensors");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("pretrained weights"), std::string::npos) << r.output;
  const auto evals = lines_with(dir + "/ft", "val_top1");
  ASSERT_EQ(evals.size(), 2u);
  EXPECT_EQ(field(evals[0], "step"), "20");
  EXPECT_EQ(field(evals[1], "step"), "40");
  EXPECT_EQ(field(evals[1], "val_images"), "50");
  EXPECT_TRUE(fs::exists(dir + "/ft/best.pt"));
  EXPECT_EQ(lines_with(dir + "/ft", "lr").size(), 40u);  // every step logged (log.every 1)
  // Evaluate-only on the best checkpoint: one JSON line, the best epoch's figures.
  r = finetune("--config " + ft_yaml + " --eval --pretrained " + dir + "/ft/best.pt");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto best = field(lines_with(dir + "/ft", "best_val_top1").back(), "best_val_top1");
  const auto json_at = r.output.find("{\"val_loss\"");
  ASSERT_NE(json_at, std::string::npos) << r.output;
  EXPECT_EQ(field(r.output.substr(json_at), "val_top1"), best) << r.output;
  // A rewind to an earlier checkpoint keeps the later history aside and a better best.pt.
  const auto best_before = testing::read_text(dir + "/ft/best.pt");
  r = finetune("--config " + ft_yaml + " --output-dir " + dir + "/ft --resume " + dir +
               "/ft/checkpoint-00000030.pt --set train.max_steps=35");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(lines_with(dir + "/ft", "lr").size(), 35u);  // steps 1-30 kept, 31-35 new
  const auto aside = testing::read_text(dir + "/ft/metrics.rewound-30.jsonl");
  EXPECT_NE(aside.find("\"step\": 40"), std::string::npos) << aside;
  EXPECT_NE(aside.find("val_top1"), std::string::npos) << aside;  // the evaluation at 40
  EXPECT_TRUE(testing::read_text(dir + "/ft/best.pt") == best_before);
  EXPECT_NE(r.output.find("keeping " + dir + "/ft/best.pt"), std::string::npos) << r.output;
  // The later checkpoint is moved aside, never replaced by this branch nor resumed by auto.
  EXPECT_FALSE(fs::exists(dir + "/ft/checkpoint-00000040.pt"));
  EXPECT_TRUE(fs::exists(dir + "/ft/checkpoint-00000040.rewound-30.pt"));
  EXPECT_NE(r.output.find("checkpoint-00000040.rewound-30.pt"), std::string::npos) << r.output;
  // Weights inside the run that --overwrite would empty: refused before anything is removed.
  r = finetune("--config " + ft_yaml + " --output-dir " + dir + "/ft --overwrite --pretrained " +
               dir + "/ft/best.pt");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--overwrite would remove"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::exists(dir + "/ft/best.pt"));
  EXPECT_EQ(lines_with(dir + "/ft", "val_top1").size(), 2u);
  // The fine-tuned classifier exports with its head, under timm's names.
  r = export_weights("--checkpoint " + dir + "/ft/best.pt --out " + dir + "/ft.safetensors");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // And starts pre-training (an encoder from timm's names).
  r = run_command(std::string(C2FMAE_PRETRAIN_BIN) + " --config " + dir +
                  "/tiny.yaml --output-dir " + dir + "/pre2 --set train.max_steps=2 --pretrained " +
                  dir + "/enc.safetensors");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("tensors loaded"), std::string::npos) << r.output;
  // The other program's checkpoint as --resume: which program wrote it, and the flag to use.
  r = finetune("--config " + ft_yaml + " --output-dir " + dir + "/ft3 --resume " + dir +
               "/pre/latest.pt");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("is a c2fmae_pretrain checkpoint"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("--pretrained"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir + "/ft3"));  // a refused start leaves no run.lock or train.log
  r = finetune("--config " + ft_yaml + " --output-dir " + dir + "/new/deeper/ft --resume " + dir +
               "/pre/latest.pt");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_FALSE(fs::exists(dir + "/new"));  // nor the folders it made above the run
  r = run_command(std::string(C2FMAE_PRETRAIN_BIN) + " --config " + dir +
                  "/tiny.yaml --output-dir " + dir + "/pre3 --resume " + dir + "/ft/best.pt");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("is a c2fmae_finetune checkpoint"), std::string::npos) << r.output;
  // A FIFO as --pretrained or --checkpoint is refused at once (open() would block for ever).
  ASSERT_EQ(::mkfifo((dir + "/fifo.pt").c_str(), 0644), 0);
  r = finetune("--config " + ft_yaml + " --output-dir " + dir + "/ft4 --pretrained " + dir +
               "/fifo.pt");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("is a FIFO"), std::string::npos) << r.output;
  r = export_weights("--checkpoint " + dir + "/fifo.pt --out " + dir + "/fifo.safetensors");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("is a FIFO"), std::string::npos) << r.output;
  // A file-size limit (SIGXFSZ is ignored): the export fails with the reason, leaving no
  // temporary file.
  r = run_command("ulimit -f 1; " + std::string(C2FMAE_EXPORT_BIN) + " --checkpoint " + dir +
                  "/ft/best.pt --out " + dir + "/limited.safetensors");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("File too large"), std::string::npos) << r.output;
  for (const auto& e : fs::directory_iterator(dir)) {
    EXPECT_EQ(e.path().filename().string().rfind("limited", 0), std::string::npos) << e.path();
  }
}

TEST(Finetune, AResumedRunReplaysTheUninterruptedOne) {
  const auto dir = testing::tiny_pretrain_dir("c2fmae_finetune_resume");
  const auto ft_yaml = testing::add_tiny_finetune_yaml(dir);
  auto r = finetune("--config " + ft_yaml + " --output-dir " + dir + "/whole");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = finetune("--config " + ft_yaml + " --output-dir " + dir + "/split --set train.max_steps=13");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // Resumed with validation only at the end (train.eval_every 0): the same steps.
  r = finetune("--config " + ft_yaml + " --output-dir " + dir +
               "/split --resume auto --set train.eval_every=0");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto evals = lines_with(dir + "/split", "val_top1");
  ASSERT_EQ(evals.size(), 2u);
  EXPECT_EQ(field(evals[0], "step"), "13");
  EXPECT_EQ(field(evals[1], "step"), "40");
  const auto a = lines_with(dir + "/whole", "lr"), b = lines_with(dir + "/split", "lr");
  ASSERT_EQ(a.size(), 40u);
  ASSERT_EQ(b.size(), 40u);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(field(a[i], "loss"), field(b[i], "loss")) << i;
  // The final evaluation is the same too (the split run also evaluated at its stop, step 13).
  EXPECT_EQ(field(lines_with(dir + "/whole", "val_top1").back(), "val_top1"),
            field(lines_with(dir + "/split", "val_top1").back(), "val_top1"));
}

TEST(Finetune, AValSplitWithARenamedClassIsRefusedNamingBothNames) {
  const auto dir = testing::tiny_pretrain_dir("c2fmae_finetune_renamed_class");
  const auto ft_yaml = testing::add_tiny_finetune_yaml(dir);
  testing::write_fixture_split(dir + "/data", "train", 2, 2, /*masks=*/false);
  testing::write_fixture_split(dir + "/data", "val", 2, 1, /*masks=*/false);
  const auto data =
      " --set data.source=folder --set data.root=" + dir + "/data" +
      " --set finetune.val_split=val --set model.num_classes=2 --set data.batch_size=2";
  // A checkpoint of the right classes first: its head keeps their names.
  auto r = finetune("--config " + ft_yaml + " --output-dir " + dir + "/good" + data +
                    " --set train.max_steps=2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  fs::rename(dir + "/data/val/class_b", dir + "/data/val/class_z");  // same count, other class
  r = finetune("--config " + ft_yaml + " --output-dir " + dir + "/run" + data);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("label 1 is class 'class_b'"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("'class_z'"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir + "/run/metrics.jsonl"));
  // Evaluating that head on the renamed split, or resuming it there, is refused too.
  r = finetune("--config " + ft_yaml + " --eval --pretrained " + dir + "/good/latest.pt" + data);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("label 1 is class 'class_b' in the head of"), std::string::npos)
      << r.output;
  fs::rename(dir + "/data/train/class_b", dir + "/data/train/class_z");
  r = finetune("--config " + ft_yaml + " --output-dir " + dir + "/good --resume auto" + data);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("'class_z' in finetune.val_split val"), std::string::npos) << r.output;
  // Fine-tuning (not evaluating) from it on the other classes: its encoder, a fresh head.
  r = finetune("--config " + ft_yaml + " --output-dir " + dir + "/other --pretrained " + dir +
               "/good/latest.pt --set train.max_steps=1" + data);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("the head starts fresh"), std::string::npos) << r.output;
}

TEST(Finetune, BadArgumentsExit2AndWriteNothing) {
  const auto dir = testing::tiny_pretrain_dir("c2fmae_finetune_bad");
  const auto ft_yaml = testing::add_tiny_finetune_yaml(dir);
  const auto run = " --output-dir " + dir + "/run";
  for (const std::string& args :
       {"--config " + ft_yaml + run + " --pretrained " + dir + "/missing.pt",
        "--config " + ft_yaml + run + " --pretrained " + dir, "--config " + ft_yaml + " --eval",
        "--config " + ft_yaml + " --eval --pretrained " + dir + "/tiny.yaml",
        "--config " + ft_yaml + run + " --resume auto --overwrite",
        "--config " + ft_yaml + run + " --set finetune.mode=probe",
        "--config " + ft_yaml + run + " --set finetune.rand_augment=rand-q3",
        "--config " + ft_yaml + run + " --set model.global_pool=max",
        "--config " + ft_yaml + run + " --set model.drop_path=1.5",
        "--config " + ft_yaml + run + " --set finetune.layer_decay=0",
        "--config " + ft_yaml + run + " --set model.preset=gigantic",
        "--config " + ft_yaml + run + " --set data.batch_size=9",
        "--config " + ft_yaml + run + " --set finetune.dpeth=3",
        "--config " + ft_yaml + run + " --set finetune.rand_augment=rand-m9-n100000000000",
        "--config " + ft_yaml + " --eval --pretrained " + ft_yaml + " --output-dir " + dir +
            "/x"}) {
    const auto r = finetune(args);
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.output;
    EXPECT_EQ(r.output.find("Exception raised from"), std::string::npos) << r.output;
  }
  EXPECT_FALSE(fs::exists(dir + "/run/metrics.jsonl"));
  // c2fmae_export: a missing or foreign checkpoint, an unknown part, an --out folder.
  for (const std::string& args :
       {"--checkpoint " + dir + "/missing.pt --out " + dir + "/x.safetensors",
        "--checkpoint " + ft_yaml + " --out " + dir + "/x.safetensors",
        "--checkpoint " + ft_yaml + " --out " + dir + "/x.safetensors --part decoder",
        "--checkpoint " + ft_yaml + " --out " + dir, "--out " + dir + "/x.safetensors"}) {
    const auto r = export_weights(args);
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.output;
  }
  EXPECT_FALSE(fs::exists(dir + "/x.safetensors"));
  // An --out the export could never write is an argument problem, named before any work.
  for (const auto& [out, says] : std::vector<std::pair<std::string, std::string>>{
           {dir + "/missing/x.safetensors", "does not exist"},
           {dir + "/tiny.yaml/x.safetensors", "is not a folder"},
           {dir + "/" + std::string(256, 'x'), "longer than 255 bytes"}}) {
    const auto r = export_weights("--checkpoint " + dir + "/missing.pt --out " + out);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find(says), std::string::npos) << r.output;
  }
}

TEST(Finetune, ExportNeverWritesOverItsCheckpointALinkADeviceOrAnotherFileUnasked) {
  const auto dir = testing::tiny_pretrain_dir("c2fmae_export_out");
  auto r = run_command(std::string(C2FMAE_PRETRAIN_BIN) + " --config " + dir +
                       "/tiny.yaml --output-dir " + dir + "/pre --set train.max_steps=1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto ckpt = dir + "/pre/checkpoint-00000001.pt";
  const auto size = fs::file_size(ckpt);
  ASSERT_EQ(::mkfifo((dir + "/fifo").c_str(), 0644), 0);
  { std::ofstream(dir + "/existing.safetensors") << "keep me"; }
  for (const std::string& out :
       {ckpt, dir + "/pre/latest.pt", dir + "/fifo", dir + "/existing.safetensors"}) {
    r = export_weights("--checkpoint " + ckpt + " --out " + out);
    EXPECT_EQ(r.exit_code, 2) << out << "\n" << r.output;
  }
  EXPECT_EQ(fs::file_size(ckpt), size);
  EXPECT_TRUE(fs::is_symlink(dir + "/pre/latest.pt"));
  EXPECT_EQ(testing::read_text(dir + "/existing.safetensors"), "keep me");
  r = export_weights("--checkpoint " + ckpt + " --out " + dir +
                     "/existing.safetensors --overwrite");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  // Evaluating a pre-training checkpoint would score a random head: refused.
  r = finetune("--config " + testing::add_tiny_finetune_yaml(dir) + " --eval --pretrained " + ckpt);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("random head"), std::string::npos) << r.output;
}

TEST(Finetune, EvaluatingALinearProbesCheckpointAppliesItsBatchNorm) {
  const auto dir = testing::tiny_pretrain_dir("c2fmae_finetune_probe_eval");
  const auto yaml = testing::add_tiny_finetune_yaml(dir);
  const std::string probe =
      " --set finetune.mode=linprobe --set model.global_pool=token --set finetune.mixup=0"
      " --set finetune.cutmix=0 --set finetune.rand_augment=none --set optim.lr=0.02";
  auto r = finetune("--config " + yaml + " --output-dir " + dir + "/lp" + probe);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto last = lines_with(dir + "/lp", "val_top1").back();
  // The checkpoint of the last step holds the weights of the last evaluation.
  r = finetune("--config " + yaml + " --set model.global_pool=token --eval --pretrained " + dir +
               "/lp/latest.pt");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto json = r.output.substr(r.output.find("{\"val_loss\""));
  EXPECT_EQ(field(json, "val_top1"), field(last, "val_top1")) << r.output;
  EXPECT_NEAR(std::stod(field(json, "val_loss")), std::stod(field(last, "val_loss")), 1e-5);
}

TEST(Finetune, KnnAndDenseProbeMeasureAFrozenEncoderAndWriteNoRun) {
  const auto dir = testing::tiny_pretrain_dir("c2fmae_finetune_probes");
  const auto yaml = testing::add_tiny_finetune_yaml(dir);
  auto r = run_command(std::string(C2FMAE_PRETRAIN_BIN) + " --config " + dir +
                       "/tiny.yaml --output-dir " + dir + "/pre --set train.max_steps=4");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto before = std::distance(fs::directory_iterator(dir), fs::directory_iterator());
  for (const std::string weights : {" --pretrained " + dir + "/pre/latest.pt", std::string()}) {
    SCOPED_TRACE(weights.empty() ? "random encoder" : "pre-trained encoder");
    r = finetune("--config " + yaml + weights + " --set finetune.mode=knn");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    auto json = r.output.substr(r.output.rfind("{\"val_top1\""));
    for (const char* key : {"val_top1", "val_top5", "prior_top1", "label_entropy", "k"}) {
      EXPECT_NE(json.find(std::string("\"") + key + "\": "), std::string::npos) << key << json;
    }
    EXPECT_EQ(field(json, "k"), "20");
    EXPECT_GE(std::stod(field(json, "prior_top1")), 100.0 / 6);
    EXPECT_NE(r.output.find("majority class"), std::string::npos) << r.output;
    r = finetune("--config " + yaml + weights + " --set finetune.mode=dense_probe" +
                 " --set finetune.dense_background=0-3 --set finetune.dense_iterations=20");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    json = r.output.substr(r.output.rfind("{\"patch_acc\""));
    for (const char* key : {"patch_acc", "mean_class_acc", "miou", "prior_patch_acc",
                            "prior_mean_class_acc", "prior_miou", "class_entropy"}) {
      EXPECT_NE(json.find(std::string("\"") + key + "\": "), std::string::npos) << key << json;
    }
    // 50 scenes of 4 x 4 patches, every patch with a class.
    EXPECT_EQ(field(json, "val_patches"), "800");
    EXPECT_GT(std::stod(field(json, "patch_acc")), std::stod(field(json, "prior_patch_acc")));
  }
  // Nothing written: no run directory, no file.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), before);
  // A run's arguments and bad values exit 2, naming what is wrong.
  r = finetune("--config " + yaml + " --set finetune.mode=knn --output-dir " + dir + "/x");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("writes no run"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir + "/x"));
  for (const std::string bad : {"finetune.dense_background=0-x", "finetune.knn_k=0",
                                "finetune.knn_temperature=0", "finetune.mode=probe"}) {
    r = finetune("--config " + yaml + " --set finetune.mode=knn --set " + bad);
    EXPECT_EQ(r.exit_code, 2) << bad << r.output;
    EXPECT_NE(r.output.find(bad.substr(0, bad.find('='))), std::string::npos) << r.output;
  }
  // Background that covers every class leaves mean_class_acc nothing to average: refused.
  r = finetune("--config " + yaml + " --set finetune.mode=dense_probe" +
               " --set finetune.dense_background=0-255 --set finetune.dense_iterations=2");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("covers every class"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace c2fmae
