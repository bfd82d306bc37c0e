#include "c2fmae/data/folder_index.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "data_fixture.h"

namespace c2fmae::data {
namespace {
namespace fs = std::filesystem;

using TempDir = testing::ScratchDir;

// Only the magic number matters to the scan and the packer.
void touch(const std::string& path, const std::string& bytes = "\xFF\xD8\xFF\xE0jpeg") {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string error_of(const std::string& root, const std::string& split) {
  try {
    scan_folder(root, split);
  } catch (const DatasetError& e) {
    return e.what();
  }
  ADD_FAILURE() << "scan_folder(" << root << ", " << split << ") did not throw";
  return "";
}

TEST(FolderIndex, ImageFolderClassesAndLabelsInByteOrder) {
  TempDir dir;
  const std::string root = dir.str();
  touch(dir / "train/b/2.jpg");
  touch(dir / "train/b/10.JPEG");
  touch(dir / "train/a/z.png");
  touch(dir / "train/C/x.jpeg");
  touch(dir / "train/a/notes.txt");                 // not an image
  touch(dir / "train/a/.hidden.jpg");               // hidden
  touch(dir / "train/.cache/y.jpg");                // hidden folder, not a class
  touch(dir / "train/README.jpg");                  // a file beside the classes, not a class
  fs::create_directories(dir / "train/a/sub.jpg");  // a folder, not an image
  const auto index = scan_folder(root, "train");
  EXPECT_EQ(index.layout, FolderLayout::kImageFolder);
  EXPECT_FALSE(index.has_masks());
  EXPECT_EQ(index.classes, (std::vector<std::string>{"C", "a", "b"}));  // byte order
  EXPECT_TRUE(index.empty_classes.empty());
  ASSERT_EQ(index.samples.size(), 4u);
  const std::vector<std::string> keys = {"C/x", "a/z", "b/10", "b/2"};
  const std::vector<int64_t> labels = {0, 1, 2, 2};
  for (size_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ(index.samples[i].key, keys[i]);
    EXPECT_EQ(index.samples[i].label, labels[i]);
    EXPECT_EQ(index.samples[i].semantic, "");
    EXPECT_EQ(index.samples[i].instance, "");
  }
  EXPECT_EQ(index.samples[2].rgb, dir / "train/b/10.JPEG");
  EXPECT_TRUE(fs::exists(index.samples[0].rgb));
}

TEST(FolderIndex, MultiMaeLayoutGivesMaskPathsWithoutCheckingThem) {
  TempDir dir;
  touch(dir / "val/rgb/cat/1.JPEG");
  touch(dir / "val/rgb/cat/2.JPEG");
  touch(dir / "val/rgb/dog/3.jpg");
  touch(dir / "val/semseg/cat/1.png", "\x89PNG");
  touch(dir / "val/instance/cat/1.png", "\x89PNG");
  fs::create_directories(dir / "val/depth/cat");  // MultiMAE's other modalities are ignored
  fs::create_directories(dir / "val/rgb/empty");
  const auto index = scan_folder(dir.str() + "/", "val");  // a trailing '/' changes nothing
  EXPECT_EQ(index.layout, FolderLayout::kMultiMae);
  EXPECT_TRUE(index.has_masks());
  EXPECT_EQ(index.classes, (std::vector<std::string>{"cat", "dog", "empty"}));
  EXPECT_EQ(index.empty_classes, (std::vector<std::string>{"empty"}));
  ASSERT_EQ(index.samples.size(), 3u);
  EXPECT_EQ(index.samples[0].rgb, dir / "val/rgb/cat/1.JPEG");
  EXPECT_EQ(index.samples[0].semantic, dir / "val/semseg/cat/1.png");
  EXPECT_EQ(index.samples[0].instance, dir / "val/instance/cat/1.png");
  // Missing masks are the loader's to count: the scan names where they would be.
  EXPECT_EQ(index.samples[2].semantic, dir / "val/semseg/dog/3.png");
  EXPECT_FALSE(fs::exists(index.samples[2].semantic));
  EXPECT_EQ(index.samples[2].key, "dog/3");
  EXPECT_EQ(index.samples[2].label, 1);
}

TEST(FolderIndex, KeysAreUniqueAndHaveNoDotInTheStem) {
  TempDir dir;
  for (const char* name : {"a.jpg", "a.png", "a_2.jpg", "a.JPG", "b.c.jpeg", "b_c.png"}) {
    touch(dir / ("train/k.1/" + std::string(name)));
  }
  touch(dir / "train/other/a.jpg");
  const auto index = scan_folder(dir.str(), "train");
  std::vector<std::string> keys;
  for (const auto& s : index.samples) keys.push_back(s.key);
  // Byte order of the file names: "a.JPG" < "a.jpg" < "a.png" < "a_2.jpg" < "b.c.jpeg" <
  // "b_c.png"; a key taken earlier in that order gets the next free "_<n>".
  EXPECT_EQ(keys, (std::vector<std::string>{"k.1/a", "k.1/a_2", "k.1/a_3", "k.1/a_2_2", "k.1/b_c",
                                            "k.1/b_c_2", "other/a"}));
  EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()).size(), keys.size());
  for (const auto& key : keys) {
    EXPECT_EQ(key.substr(key.find('/') + 1).find('.'), std::string::npos) << key;
  }
  // Deterministic: a second scan gives the same keys.
  const auto again = scan_folder(dir.str(), "train");
  for (size_t i = 0; i < keys.size(); ++i) EXPECT_EQ(again.samples[i].key, keys[i]);
}

TEST(FolderIndex, MissingRootOrRootNotAFolder) {
  TempDir dir;
  const std::string missing = dir / "nope";
  auto message = error_of(missing, "train");
  EXPECT_NE(message.find(missing), std::string::npos) << message;
  EXPECT_NE(message.find("does not exist"), std::string::npos) << message;
  EXPECT_NE(message.find("hint:"), std::string::npos) << message;

  touch(dir / "file");
  message = error_of(dir / "file", "train");
  EXPECT_NE(message.find(dir / "file"), std::string::npos) << message;
  EXPECT_NE(message.find("is not a folder"), std::string::npos) << message;
}

TEST(FolderIndex, MissingSplitListsTheSplitsThatExist) {
  TempDir dir;
  touch(dir / "val/a/1.jpg");
  touch(dir / "test/a/1.jpg");
  auto message = error_of(dir.str(), "train");
  EXPECT_NE(message.find(dir.str()), std::string::npos) << message;
  EXPECT_NE(message.find("no split folder 'train'"), std::string::npos) << message;
  EXPECT_NE(message.find("test, val"), std::string::npos) << message;

  touch(dir / "train");  // a file where the split folder should be
  message = error_of(dir.str(), "train");
  EXPECT_NE(message.find(dir / "train"), std::string::npos) << message;
  EXPECT_NE(message.find("is not a folder"), std::string::npos) << message;

  fs::remove_all(dir / "val");
  fs::remove_all(dir / "test");
  fs::remove(dir / "train");
  message = error_of(dir.str(), "train");
  EXPECT_NE(message.find("holds no folders"), std::string::npos) << message;
}

TEST(FolderIndex, NoClassFolders) {
  TempDir dir;
  touch(dir / "train/1.jpg");
  touch(dir / "train/2.jpg");
  auto message = error_of(dir.str(), "train");
  EXPECT_NE(message.find(dir / "train"), std::string::npos) << message;
  EXPECT_NE(message.find("no class folders"), std::string::npos) << message;
  EXPECT_NE(message.find("2 image files directly"), std::string::npos) << message;

  fs::create_directories(dir / "val/rgb");
  message = error_of(dir.str(), "val");
  EXPECT_NE(message.find(dir / "val/rgb"), std::string::npos) << message;
  EXPECT_NE(message.find("no class folders"), std::string::npos) << message;
}

TEST(FolderIndex, NoImages) {
  TempDir dir;
  touch(dir / "train/a/readme.txt");
  fs::create_directories(dir / "train/b");
  const auto message = error_of(dir.str(), "train");
  EXPECT_NE(message.find(dir / "train"), std::string::npos) << message;
  EXPECT_NE(message.find("no images"), std::string::npos) << message;
  EXPECT_NE(message.find("2 class folders"), std::string::npos) << message;
}

TEST(FolderIndex, RgbBesideOtherFoldersIsRefusedNotGuessed) {
  TempDir dir;
  touch(dir / "train/rgb/a/1.jpg");
  touch(dir / "train/cat/1.jpg");
  const auto message = error_of(dir.str(), "train");
  EXPECT_NE(message.find(dir / "train"), std::string::npos) << message;
  EXPECT_NE(message.find("cat"), std::string::npos) << message;
  EXPECT_NE(message.find("not modality folders"), std::string::npos) << message;
}

TEST(FolderIndex, FollowsSymlinkedClassFoldersAndImages) {
  TempDir dir;
  touch(dir / "elsewhere/a/1.jpg");
  touch(dir / "elsewhere/2.jpg");
  fs::create_directories(dir / "train/b");
  fs::create_directory_symlink(dir / "elsewhere/a", dir / "train/a");
  fs::create_symlink(dir / "elsewhere/2.jpg", dir / "train/b/2.jpg");
  fs::create_symlink(dir / "elsewhere/gone.jpg", dir / "train/b/3.jpg");  // dangling: skipped
  const auto index = scan_folder(dir.str(), "train");
  ASSERT_EQ(index.samples.size(), 2u);
  EXPECT_EQ(index.samples[0].key, "a/1");
  EXPECT_EQ(index.samples[1].key, "b/2");
  ASSERT_EQ(index.skipped.size(), 1u);  // counted, with the reason
  EXPECT_NE(index.skipped[0].find("3.jpg: a broken link"), std::string::npos) << index.skipped[0];
}

TEST(FolderIndex, ImageNamesThatAreNoFileAreCountedNotDroppedUnseen) {
  TempDir dir;
  touch(dir / "train/a/1.jpg");
  fs::create_directories(dir / "train/a/folder.jpg");
  fs::create_symlink(dir / "train/a/loop.png", dir / "train/a/loop.png");  // a link to itself
  const auto index = scan_folder(dir.str(), "train");
  ASSERT_EQ(index.samples.size(), 1u);
  ASSERT_EQ(index.skipped.size(), 2u);
  EXPECT_NE(index.skipped[0].find("folder.jpg: a folder"), std::string::npos) << index.skipped[0];
  EXPECT_NE(index.skipped[1].find("loop.png: a broken link"), std::string::npos)
      << index.skipped[1];
}

}  // namespace
}  // namespace c2fmae::data
