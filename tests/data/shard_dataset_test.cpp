#include "c2fmae/data/shard_dataset.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "c2fmae/data/batch_loader.h"
#include "c2fmae/data/folder_dataset.h"
#include "data_fixture.h"

namespace c2fmae::data {
namespace {
namespace fs = std::filesystem;

LoaderOptions loader(bool masks) {
  LoaderOptions o;
  o.batch_size = 4;
  o.img_size = 32;
  o.num_workers = 2;
  o.seed = 5;
  o.masks = masks;
  o.max_instances = masks ? 8 : 0;
  o.num_semantic_classes = masks ? 10 : 0;
  return o;
}

TEST(ShardDataset, ShardsReadExactlyAsTheFolderTheyWerePackedFrom) {
  const auto dir = testing::fresh_dir("shard_dataset_round_trip");
  testing::write_fixture_split(dir + "/folder", "train", 3, 5);
  PackOptions pack;
  pack.shard_bytes = 4096;  // several shards
  const auto report = pack_folder(dir + "/folder", "train", dir + "/shards", pack);
  EXPECT_EQ(report.samples, 15);
  EXPECT_GE(report.shards, 3);
  auto folder = std::make_shared<FolderDataset>(dir + "/folder", "train");
  auto shards = std::make_shared<ShardDataset>(dir + "/shards", "train");
  ASSERT_EQ(shards->size(), folder->size());
  EXPECT_EQ(shards->num_classes(), 3);
  EXPECT_EQ(shards->index().classes, folder->index().classes);
  EXPECT_TRUE(shards->has_masks());
  for (const bool masks : {true, false}) {
    BatchLoader a(folder, loader(masks)), b(shards, loader(masks));
    for (int64_t step = 0; step < 4; ++step) {  // past an epoch (3 steps)
      auto x = a.batch(step), y = b.batch(step);
      EXPECT_TRUE(x.rgb.equal(y.rgb)) << step;
      EXPECT_TRUE(x.label.equal(y.label)) << step;
      if (masks) {
        EXPECT_TRUE(x.semantic.equal(y.semantic)) << step;
        EXPECT_TRUE(x.instance.equal(y.instance)) << step;
      }
      EXPECT_EQ(y.data_skipped, 0);
    }
  }
}

TEST(ShardDataset, BadSamplesInShardsAreSkippedAndCounted) {
  const auto dir = testing::fresh_dir("shard_dataset_bad");
  auto s = testing::write_fixture_split(dir + "/folder", "train", 1, 8);
  fs::resize_file(s[2].rgb, fs::file_size(s[2].rgb) / 2);  // truncated JPEG
  fs::remove(s[5].semantic);                               // missing mask
  const auto report = pack_folder(dir + "/folder", "train", dir + "/shards", PackOptions{});
  EXPECT_EQ(report.missing_masks, 1);
  auto shards = std::make_shared<ShardDataset>(dir + "/shards", "train");
  auto o = loader(true);
  o.batch_size = 8;
  BatchLoader l(shards, o);
  int64_t skipped = 0;
  for (int64_t step = 0; step < 3; ++step) skipped += l.batch(step).data_skipped;
  EXPECT_GE(skipped, 6);  // both bad samples, once per epoch
  EXPECT_NE(shards->describe(2).find("train-000000.tar"), std::string::npos) << shards->describe(2);
}

TEST(ShardDataset, PackingKeepsGoingPastFilesItCannotReadAndOnePackAtATime) {
  const auto dir = testing::fresh_dir("shard_dataset_pack_special");
  auto s = testing::write_fixture_split(dir + "/folder", "train", 1, 4);
  fs::remove(s[0].semantic);
  ASSERT_EQ(::mkfifo(s[0].semantic.c_str(), 0644), 0);  // would block a plain open()
  fs::remove(s[1].instance);
  fs::create_directory(s[1].instance);
  const auto report = pack_folder(dir + "/folder", "train", dir + "/shards", PackOptions{});
  EXPECT_EQ(report.samples, 4);
  EXPECT_EQ(report.missing_masks, 2);
  auto shards = std::make_shared<ShardDataset>(dir + "/shards", "train");
  EXPECT_EQ(shards->size(), 4);
  // A second pack into the same folder while one runs is refused.
  const int fd = ::open((dir + "/shards").c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX), 0);
  PackOptions again;
  again.overwrite = true;
  try {
    pack_folder(dir + "/folder", "train", dir + "/shards", again);
    ADD_FAILURE() << "no error";
  } catch (const DatasetError& e) {
    EXPECT_NE(std::string(e.what()).find("another c2fmae_pack"), std::string::npos) << e.what();
  }
  ::close(fd);
  EXPECT_NO_THROW(pack_folder(dir + "/folder", "train", dir + "/shards", again));
}

TEST(ShardDataset, AnIndexWithCrLfLinesOrNoSamplesIsRefusedSayingSo) {
  const auto dir = testing::fresh_dir("shard_dataset_index_text");
  testing::write_fixture_split(dir + "/folder", "train", 1, 2);
  pack_folder(dir + "/folder", "train", dir + "/shards", PackOptions{});
  const auto path = shard_index_path(dir + "/shards", "train");
  std::string text;
  {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  auto expect_refused = [&](const std::string& content, const std::string& says) {
    std::ofstream(path, std::ios::trunc) << content;
    try {
      ShardDataset ds(dir + "/shards", "train");
      ADD_FAILURE() << "accepted: " << says;
    } catch (const DatasetError& e) {
      EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << e.what();
    }
  };
  std::string crlf;
  for (char c : text) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
  expect_refused(crlf, "CR LF");
  expect_refused(text.substr(0, text.find("samples ")) + "samples 0\n", "no samples");
}

}  // namespace
}  // namespace c2fmae::data
