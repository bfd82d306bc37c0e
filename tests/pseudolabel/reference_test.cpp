// The C++ pipeline against tests/pseudolabel/reference.py, a Python reference of the segmenter
// contract and of detectron2's rules written for the tests: the same TorchScript models
// (hand-built, random LRASPP, random mask classification, random instances), the same images,
// maps equal pixel for pixel and segments equal.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cmath>

#include "c2fmae/pseudolabel/labeller.h"
#include "pseudolabel/pseudolabel_fixture.h"

namespace c2fmae::pseudolabel {
namespace {

torch::Tensor read_rgb(const std::string& path) {
  const auto bytes = testing::read_bytes(path);
  auto image = formats::decode_image(bytes.data(), bytes.size());
  EXPECT_EQ(image.channels, 3) << path;
  return torch::from_blob(image.pixels.data(), {image.height, image.width, 3}, torch::kUInt16)
      .to(torch::kUInt8);
}

torch::Tensor map_of(const formats::DecodedImage& image) {
  return torch::from_blob(const_cast<uint16_t*>(image.pixels.data()), {image.height, image.width},
                          torch::kUInt16)
      .to(torch::kLong);
}

void expect_segments(const std::string& line, const std::vector<Segment>& got,
                     const std::string& what, double score_tolerance) {
  const auto expected = YAML::Load(line)["segments"];
  ASSERT_EQ(expected.size(), got.size()) << what << "\n" << line;
  for (size_t i = 0; i < got.size(); ++i) {
    const auto e = expected[i];
    EXPECT_EQ(e["id"].as<int64_t>(), got[i].id) << what;
    EXPECT_EQ(e["category_id"].as<int64_t>(), got[i].category_id) << what;
    EXPECT_EQ(e["isthing"].as<bool>(), got[i].is_thing) << what;
    EXPECT_EQ(e["area"].as<int64_t>(), got[i].area) << what;
    EXPECT_NEAR(e["score"].as<double>(), got[i].score, score_tolerance) << what;
  }
}

// Every model, every image, at batch 2 (as the reference) and 1: an image's maps do not
// depend on its batch-mates, nor here on the batch size (a model's float rounding may: one
// class score differs in its last bit at batch 1, so the program runs every batch full).
TEST(PseudolabelReference, EveryModelKindMatchesThePythonReferenceExactly) {
  torch::set_num_threads(1);
  const auto fixture = testing::pseudolabel_fixture();
  for (const auto& name : testing::pseudolabel_models()) {
    auto model = Segmenter::load(fixture + "/" + name + ".pt", torch::kCPU);
    const auto lines = testing::expected_segment_lines(name);
    int64_t segments = 0;
    for (const int64_t batch : {2, 1}) {
      Labeller labeller(model, default_label_options(model.info()), batch, 0);
      std::vector<Labelled> done;
      const auto& keys = testing::pseudolabel_keys();
      for (size_t i = 0; i < keys.size(); ++i) {
        for (auto& l : labeller.add(static_cast<int64_t>(i),
                                    read_rgb(fixture + "/images/train/" + keys[i] + ".png")))
          done.push_back(std::move(l));
      }
      for (auto& l : labeller.finish()) done.push_back(std::move(l));
      ASSERT_EQ(done.size(), keys.size());
      for (auto& l : done) {
        labeller.post(l);
        const auto& key = keys[static_cast<size_t>(l.tag)];
        const auto what = name + " " + key + " batch " + std::to_string(batch);
        const auto base = fixture + "/expected/" + name + "/" + key;
        const auto sem = map_of(testing::read_label_png(base + ".sem.png"));
        const auto ins = map_of(testing::read_label_png(base + ".ins.png"));
        ASSERT_EQ(sem.sizes(), l.maps.semantic.sizes()) << what;
        EXPECT_EQ(sem.ne(l.maps.semantic).sum().item<int64_t>(), 0) << what;
        EXPECT_EQ(ins.ne(l.maps.instance.to(torch::kLong)).sum().item<int64_t>(), 0) << what;
        expect_segments(lines.at(key), l.maps.segments, what, batch == 2 ? 1e-7 : 1e-6);
        segments += static_cast<int64_t>(l.maps.segments.size());
      }
    }
    EXPECT_GT(segments, 0) << name << ": the fixture must produce segments";
  }
}

}  // namespace
}  // namespace c2fmae::pseudolabel
