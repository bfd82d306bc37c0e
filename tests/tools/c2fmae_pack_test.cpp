// Integration tests: the real c2fmae_pack program.
#include <filesystem>
#include <fstream>

#include "c2fmae/data/shard_index.h"
#include "data_fixture.h"
#include "test_helpers.h"

namespace c2fmae {
namespace {
namespace fs = std::filesystem;

testing::CommandResult pack(const std::string& args) {
  return testing::run_command(std::string(C2FMAE_PACK_BIN) + " " + args);
}

TEST(Pack, PacksSplitsThatTarListsAndRefusesWhatItCannotDo) {
  const auto dir = testing::fresh_dir("c2fmae_pack_program");
  testing::write_fixture_split(dir + "/folder", "train", 2, 3);
  testing::write_fixture_split(dir + "/folder", "val", 2, 1);
  auto r = pack("--root " + dir + "/folder --out " + dir + "/shards --split train --split val");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto index = data::read_shard_index(dir + "/shards", "train");
  EXPECT_EQ(index.samples.size(), 6u);
  EXPECT_EQ(data::read_shard_index(dir + "/shards", "val").samples.size(), 2u);
  // Standard tar reads the shard: four members per sample, in WebDataset naming.
  auto listing = testing::run_command("tar tf " + dir + "/shards/train-000000.tar");
  ASSERT_EQ(listing.exit_code, 0) << listing.output;
  for (const char* member : {"class_a/img_0.jpg", "class_a/img_0.sem.png", "class_a/img_0.ins.png",
                             "class_a/img_0.cls", "class_b/img_2.cls"}) {
    EXPECT_NE(listing.output.find(member), std::string::npos) << member << "\n" << listing.output;
  }
  // Existing shards are kept unless --overwrite; a missing root or split is exit 2.
  r = pack("--root " + dir + "/folder --out " + dir + "/shards");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--overwrite"), std::string::npos) << r.output;
  EXPECT_EQ(pack("--root " + dir + "/folder --out " + dir + "/shards --overwrite").exit_code, 0);
  r = pack("--root " + dir + "/nonesuch --out " + dir + "/other");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("nonesuch"), std::string::npos) << r.output;
  EXPECT_EQ(pack("--root " + dir + "/folder --out " + dir + "/other --split test").exit_code, 2);
  EXPECT_EQ(pack("--root " + dir + "/folder").exit_code, 2);  // --out is required
  EXPECT_FALSE(fs::exists(dir + "/other/test.index"));
  // The shards never go into the data they are made of.
  for (const std::string& out :
       {dir + "/folder", dir + "/folder/", dir + "/folder/train/shards", dir + "/folder/./val"}) {
    r = pack("--root " + dir + "/folder --split train --split val --out " + out);
    EXPECT_EQ(r.exit_code, 2) << out << "\n" << r.output;
    EXPECT_NE(r.output.find("--out"), std::string::npos) << r.output;
  }
  EXPECT_FALSE(fs::exists(dir + "/folder/train/shards"));
  std::ofstream(dir + "/victim.txt") << "mine";
  r = pack("--root " + dir + "/folder --out " + dir + "/victim.txt");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("is not a folder"), std::string::npos) << r.output;
  EXPECT_EQ(testing::read_text(dir + "/victim.txt"), "mine");
  EXPECT_FALSE(fs::exists(dir + "/folder/train.index"));
}

}  // namespace
}  // namespace c2fmae
