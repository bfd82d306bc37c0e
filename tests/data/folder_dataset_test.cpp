#include "c2fmae/data/folder_dataset.h"

#include <sys/stat.h>
#include <torch/torch.h>

#include <filesystem>

#include "c2fmae/core/usage_error.h"
#include "c2fmae/data/batch_loader.h"
#include "data_fixture.h"

namespace c2fmae::data {
namespace {
namespace fs = std::filesystem;

SampleOptions training_options(int64_t size, int64_t label_size) {
  SampleOptions o;
  o.img_size = size;
  o.label_size = label_size;
  o.num_semantic_classes = 10;
  return o;
}

struct Loaded {
  torch::Tensor rgb, semantic, instance;
  int64_t label = -1;
};

Loaded load(const Dataset& ds, int64_t index, uint64_t seed, const SampleOptions& o) {
  Loaded l;
  l.rgb = torch::empty({3, o.img_size, o.img_size});
  l.semantic = torch::empty({o.label_size, o.label_size}, torch::kLong);
  l.instance = torch::empty({o.label_size, o.label_size}, torch::kLong);
  SampleSlot slot{l.rgb.data_ptr<float>(), o.masks ? l.semantic.data_ptr<int64_t>() : nullptr,
                  o.masks ? l.instance.data_ptr<int64_t>() : nullptr};
  l.label = ds.load(index, seed, o, slot);
  return l;
}

TEST(FolderDataset, ListsClassesInOrderWithTheirLabels) {
  const auto root = testing::fresh_dir("folder_dataset_labels");
  const auto written = testing::write_fixture_split(root, "train", 3, 2);
  FolderDataset ds(root, "train");
  ASSERT_EQ(ds.size(), 6);
  EXPECT_EQ(ds.num_classes(), 3);
  EXPECT_TRUE(ds.has_masks());
  const auto o = training_options(32, 32);
  for (int64_t i = 0; i < ds.size(); ++i) {
    EXPECT_EQ(ds.describe(i), written[i].rgb);
    EXPECT_EQ(load(ds, i, 1, o).label, written[i].label);
  }
}

TEST(FolderDataset, TheCropAndFlipAreTheSameInTheImageAndBothMasks) {
  // The masks mark the image's bright rectangle: wherever the crop and flip put it, the
  // semantic and instance maps must still mark the bright pixels (boundary pixels aside,
  // which resampling blends).
  const auto root = testing::fresh_dir("folder_dataset_crop");
  const auto written = testing::write_fixture_split(root, "train", 2, 4);
  FolderDataset ds(root, "train");
  for (const int64_t label_size : {64, 16}) {
    const auto o = training_options(64, label_size);
    const int64_t step = 64 / label_size;
    int64_t checked = 0, wrong = 0;
    for (int64_t i = 0; i < ds.size(); ++i) {
      for (uint64_t seed = 0; seed < 12; ++seed) {
        const auto l = load(ds, i, seed, o);
        const auto cls = testing::fixture_class_id(written[i].label);
        const auto ins = testing::fixture_instance_id(written[i].label);
        EXPECT_TRUE(l.instance.eq(ins).equal(l.semantic.eq(cls))) << i << " " << seed;
        // Red channel back in 0..255.
        auto red = (l.rgb[0] * kImageNetStd[0] + kImageNetMean[0]) * 255;
        auto sem = l.semantic.accessor<int64_t, 2>();
        auto r = red.accessor<float, 2>();
        for (int64_t y = 1; y + 1 < label_size; ++y) {
          for (int64_t x = 1; x + 1 < label_size; ++x) {
            bool edge = false;
            for (int64_t dy = -1; dy <= 1; ++dy)
              for (int64_t dx = -1; dx <= 1; ++dx) edge |= sem[y + dy][x + dx] != sem[y][x];
            if (edge) continue;
            const float v = r[y * step + step / 2][x * step + step / 2];
            const bool bright = v > 170.0f, marked = sem[y][x] == cls;
            ++checked;
            wrong += bright != marked;
          }
        }
      }
    }
    EXPECT_GT(checked, 1000);
    EXPECT_EQ(wrong, 0) << "of " << checked << " at label size " << label_size;
  }
}

TEST(FolderDataset, TheRgbIsTheImageResampled) {
  // Without augmentation the whole image is resized: a constant region stays its colour.
  const auto root = testing::fresh_dir("folder_dataset_rgb");
  testing::write_fixture_split(root, "train", 1, 1);
  FolderDataset ds(root, "train");
  auto o = training_options(64, 64);
  o.augmentation.enabled = false;
  const auto l = load(ds, 0, 0, o);
  const float grey = (90.0f / 255.0f - kImageNetMean[1]) / kImageNetStd[1];
  EXPECT_NEAR(l.rgb[1][63][63].item<float>(), grey, 3.0f / 255.0f / kImageNetStd[1]);
}

TEST(FolderDataset, BadFilesAreBadSamplesSayingWhatIsWrong) {
  const auto root = testing::fresh_dir("folder_dataset_bad");
  auto s = testing::write_fixture_split(root, "train", 1, 6);
  // 0: garbage with a JPEG magic; 1: a JPEG cut in half; 2: a mask of another size;
  // 3: no instance mask; 4: a semantic id out of range; 5: good.
  testing::write_file(s[0].rgb, {0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3, 4, 5, 6, 7, 8});
  {
    const auto size = fs::file_size(s[1].rgb);
    fs::resize_file(s[1].rgb, size / 2);
  }
  std::vector<uint8_t> small(10 * 10, 0);
  testing::write_file(s[2].semantic, formats::encode_png_gray(small.data(), 10, 10, 8));
  fs::remove(s[3].instance);
  std::vector<uint8_t> high(static_cast<size_t>(s[4].width) * s[4].height, 200);
  testing::write_file(s[4].semantic,
                      formats::encode_png_gray(high.data(), s[4].width, s[4].height, 8));
  FolderDataset ds(root, "train");
  const auto o = training_options(32, 32);
  const std::vector<std::string> reasons = {
      "image:", "image:", "semantic mask:", "instance mask: missing", "class id 200 >= 10"};
  for (size_t i = 0; i < reasons.size(); ++i) {
    try {
      load(ds, static_cast<int64_t>(i), 0, o);
      ADD_FAILURE() << "sample " << i << " loaded";
    } catch (const BadSample& e) {
      EXPECT_NE(std::string(e.what()).find(reasons[i]), std::string::npos) << i << ": " << e.what();
    }
  }
  try {
    load(ds, 2, 0, o);
  } catch (const BadSample& e) {  // both sizes named
    EXPECT_NE(std::string(e.what()).find("10"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(load(ds, 5, 0, o));
  auto rgb_only = o;
  rgb_only.masks = false;
  EXPECT_NO_THROW(load(ds, 3, 0, rgb_only));  // its mask is not read
}

TEST(FolderDataset, FilesThatAreNoImagesAreBadSamplesNotHangsOrHugeAllocations) {
  const auto root = testing::fresh_dir("folder_dataset_special_files");
  auto s = testing::write_fixture_split(root, "train", 1, 3);
  fs::remove(s[0].semantic);
  ASSERT_EQ(::mkfifo(s[0].semantic.c_str(), 0644), 0);            // nobody ever writes to it
  fs::resize_file(s[1].rgb, (formats::kMaxSampleFileBytes + 1));  // sparse: no disk used
  fs::remove(s[2].instance);
  fs::create_directory(s[2].instance);
  FolderDataset ds(root, "train");
  const auto o = training_options(32, 32);
  const std::vector<std::string> reasons = {"not a regular file", "larger than any image",
                                            "not a regular file"};
  for (int64_t i = 0; i < 3; ++i) {
    try {
      load(ds, i, 0, o);
      ADD_FAILURE() << "sample " << i << " loaded";
    } catch (const BadSample& e) {
      EXPECT_NE(std::string(e.what()).find(reasons[i]), std::string::npos) << i << ": " << e.what();
    }
  }
  // A missing mask is named by its path.
  fs::remove_all(s[2].instance);
  try {
    load(ds, 2, 0, o);
  } catch (const BadSample& e) {
    EXPECT_NE(std::string(e.what()).find(s[2].instance), std::string::npos) << e.what();
  }
}

TEST(FolderDataset, AnImageFolderHasNoMasksAndAMissingRootIsAUsageError) {
  const auto root = testing::fresh_dir("folder_dataset_imagefolder");
  testing::write_fixture_split(root, "val", 2, 3, /*masks=*/false);
  FolderDataset ds(root, "val");
  EXPECT_EQ(ds.size(), 6);
  EXPECT_FALSE(ds.has_masks());
  auto o = training_options(32, 32);
  o.masks = false;
  EXPECT_EQ(load(ds, 4, 0, o).label, 1);
  config::DataConfig data;
  data.source = config::DataSource::kFolder;
  data.root = root + "/nonesuch";
  try {
    make_dataset(data, 0, "train");
    ADD_FAILURE() << "no error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("nonesuch"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("hint:"), std::string::npos) << e.what();
  }
  data.root = root;
  EXPECT_THROW(make_dataset(data, 0, "train"), UsageError);  // only val exists
  EXPECT_EQ(make_dataset(data, 0, "val")->size(), 6);
}

}  // namespace
}  // namespace c2fmae::data
