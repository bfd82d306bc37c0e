#include "c2fmae/train/reconstruction_pictures.h"

#include <torch/torch.h>

#include <filesystem>

#include "c2fmae/config/pretrain_config.h"
#include "c2fmae/core/patchify.h"
#include "c2fmae/data/batch_loader.h"
#include "c2fmae/models/c2fmae_model.h"
#include "c2fmae/train/mask_pictures.h"
#include "c2fmae/train/png_file.h"
#include "data_fixture.h"
#include "test_helpers.h"

namespace c2fmae::train {
namespace {

constexpr int64_t kClasses = 6;

config::PretrainConfig tiny_config(std::vector<std::string> sets = {}) {
  std::vector<std::string> base = {
      "model.preset=tiny",     "model.img_size=64",     "model.embed_dim=32",
      "model.depth=2",         "model.num_heads=4",     "model.decoder_dim=16",
      "model.decoder_depth=1", "model.decoder_heads=2", "model.num_semantic_classes=6",
      "masking.num_visible=12"};
  base.insert(base.end(), sets.begin(), sets.end());
  auto cfg = config::load_config<config::PretrainConfig>({}, base);
  cfg.validate();
  return cfg;
}

config::PretrainConfig mae_config() {
  return tiny_config({"model.modalities=[rgb]", "model.decoder_mode=parallel",
                      "model.decoder_cross_blocks=0", "masking.num_visible=4"});
}

/// `n` samples as training reads them: images of whole pixel values normalised as
/// data::collate does, semantic classes 0..5 (no ignored pixels, so a perfect prediction
/// reproduces the map) and canonical instance ids at the label resolution, and a mask with
/// `visible` visible tokens per sample over `m` modalities.
Batch sample_batch(const config::PretrainConfig& cfg, int64_t n, int64_t m, int64_t visible,
                   uint64_t seed) {
  const int64_t img = cfg.model.img_size, l = cfg.model.num_patches();
  auto batch = testing::random_maps(n, img / kLabelDownsample, kClasses, seed);
  batch.semantic = batch.semantic.remainder(kClasses);  // the 255s too
  auto mean =
      torch::tensor({data::kImageNetMean[0], data::kImageNetMean[1], data::kImageNetMean[2]})
          .view({1, 3, 1, 1});
  auto stdev = torch::tensor({data::kImageNetStd[0], data::kImageNetStd[1], data::kImageNetStd[2]})
                   .view({1, 3, 1, 1});
  auto pixels = torch::randint(0, 256, {n, 3, img, img}, torch::kLong).to(torch::kFloat);
  batch.rgb = ((pixels / 255.0 - mean) / stdev).to(torch::kFloat);
  batch.mask = torch::ones({n, m * l}, torch::kBool);
  for (int64_t s = 0; s < n; ++s) {
    batch.mask[s].index_fill_(0, torch::randperm(m * l).narrow(0, 0, visible), false);
  }
  batch.mask = batch.mask.view({n, m, l});
  return batch;
}

/// A model output that predicts the truth exactly, in each loss's layout, for rows `rows`
/// of every modality: one-hot class logits (semantic_loss), an embedding per instance id
/// (`table` [ids, E], instance_loss) and the image's patches, normalised per patch as
/// rgb_loss's norm_pix target when `norm_pix`.
models::ModelOutput perfect_output(const config::PretrainConfig& cfg, const Batch& batch,
                                   const std::vector<torch::Tensor>& rows,
                                   const torch::Tensor& table, bool norm_pix) {
  const int64_t q = cfg.model.patch_size / kLabelDownsample, p = cfg.model.patch_size;
  models::ModelOutput out;
  for (size_t i = 0; i < cfg.model.modalities.size(); ++i) {
    torch::Tensor all;  // [B, L, X]
    switch (cfg.model.modalities[i]) {
      case Modality::kSemantic:
        all = torch::one_hot(patchify_map(batch.semantic, q), kClasses).to(torch::kFloat);
        all = all.flatten(2);
        break;
      case Modality::kInstance:
        all = patchify(
            table.index_select(0, batch.instance.flatten())
                .view({batch.instance.size(0), batch.instance.size(1), batch.instance.size(2), -1})
                .permute({0, 3, 1, 2}),
            q);
        break;
      case Modality::kRgb: {
        all = patchify(batch.rgb, p);
        if (norm_pix) {
          auto mean = all.mean(-1, true);
          auto var = all.var(-1, /*unbiased=*/true, /*keepdim=*/true);
          all = (all - mean) / (var + 1e-6).sqrt();
        }
        break;
      }
    }
    out.predictions.push_back(testing::take_rows(all, rows[i]));
    out.rows.push_back(rows[i]);
  }
  return out;
}

std::vector<torch::Tensor> all_rows(const Batch& batch, int64_t m) {
  return std::vector<torch::Tensor>(static_cast<size_t>(m),
                                    torch::arange(batch.mask.size(0) * batch.mask.size(2)));
}

std::vector<torch::Tensor> masked_rows_of(const Batch& batch) {
  std::vector<torch::Tensor> rows;
  for (int64_t i = 0; i < batch.mask.size(1); ++i) {
    rows.push_back(testing::rows_of(batch.mask.select(1, i)));
  }
  return rows;
}

/// Panel k of row s of a picture of panels `size` x `size`.
torch::Tensor panel(const torch::Tensor& picture, int64_t s, int64_t k, int64_t size) {
  return picture.narrow(0, s * size, size).narrow(1, k * size, size);
}

/// [size, size] bool: the top and left edge pixels of the masked patches (mask [L]).
torch::Tensor masked_edges(const torch::Tensor& mask, int64_t grid, int64_t size) {
  const int64_t cell = size / grid;
  auto edges = torch::zeros({size, size}, torch::kBool);
  for (int64_t y = 0; y < size; ++y) {
    for (int64_t x = 0; x < size; ++x) {
      const bool masked = mask[(y / cell) * grid + x / cell].item<bool>();
      edges[y][x] = masked && (y % cell == 0 || x % cell == 0);
    }
  }
  return edges;
}

/// `content` with the masked patches' edges in the grid colour: what a reconstruction
/// panel of a perfect prediction must be.
torch::Tensor expected_panel(const torch::Tensor& content, const torch::Tensor& mask,
                             int64_t grid) {
  auto edges = masked_edges(mask, grid, content.size(0)).unsqueeze(-1);
  auto line = torch::tensor({kGridColour[0], kGridColour[1], kGridColour[2]}, torch::kUInt8);
  return torch::where(edges, line, content);
}

TEST(ReconstructionPictures, EmbeddingColoursSpanThePrincipalDirections) {
  // Points along one axis: channel 0 spans 0..255 in the points' order (the sign makes the
  // largest coordinate of the direction positive), the others have no variance: grey.
  auto line = torch::zeros({5, 4});
  line.select(1, 2).copy_(torch::tensor({-2.0, -1.0, 0.0, 1.0, 2.0}));
  auto c = embedding_colours(line);
  ASSERT_EQ(c.sizes(), (std::vector<int64_t>{5, 3}));
  ASSERT_EQ(c.scalar_type(), torch::kUInt8);
  EXPECT_TRUE(c.select(1, 0).equal(torch::tensor({0, 64, 128, 191, 255}, torch::kUInt8))) << c;
  EXPECT_TRUE((c.narrow(1, 1, 2) == 128).all().item<bool>()) << c;
  // Equal embeddings are equal colours, different ones differ; the colours are deterministic.
  testing::seed(4);
  auto table = torch::randn({4, 8});
  auto ids = torch::randint(0, 4, {50});
  auto colours = embedding_colours(table.index_select(0, ids));
  EXPECT_TRUE(colours.equal(embedding_colours(table.index_select(0, ids))));
  for (int64_t a = 0; a < 50; ++a) {
    for (int64_t b = 0; b < 50; ++b) {
      const bool same = ids[a].item<int64_t>() == ids[b].item<int64_t>();
      EXPECT_EQ(colours[a].equal(colours[b]), same) << a << "," << b;
    }
  }
  // No variance at all, fewer than 3 dimensions, no pixels.
  EXPECT_TRUE((embedding_colours(torch::ones({3, 8})) == 128).all().item<bool>());
  auto two = embedding_colours(torch::randn({6, 2}));
  EXPECT_TRUE((two.select(1, 2) == 128).all().item<bool>());
  EXPECT_EQ(two.select(1, 0).max().item<int64_t>(), 255);
  EXPECT_EQ(embedding_colours(torch::zeros({0, 8})).size(0), 0);
}

TEST(ReconstructionPictures, AModelForwardGivesOneRowPerSampleDeterministically) {
  testing::seed(5);
  auto cfg = tiny_config();
  models::C2fmae model(cfg.model);
  model->eval();
  auto batch = sample_batch(cfg, 3, 3, 12, 5);
  torch::NoGradGuard no_grad;
  auto out = model->forward(batch, /*all_tokens=*/true);
  const int64_t size = 64, grid = 4;
  auto picture = reconstruction_picture(batch, out, cfg.model, cfg.loss, size);
  ASSERT_EQ(picture.sizes(), (std::vector<int64_t>{3 * size, (3 + 2 * 3) * size, 3}));
  EXPECT_EQ(picture.scalar_type(), torch::kUInt8);
  EXPECT_TRUE(picture.device().is_cpu());
  EXPECT_TRUE(picture.equal(reconstruction_picture(batch, out, cfg.model, cfg.loss, size)));
  for (int64_t s = 0; s < 3; ++s) {
    // The row starts with mask_picture's row; the reconstruction panels keep the visible
    // patches of the input and draw the masked ones' edges.
    const auto row = picture.narrow(0, s * size, size);
    EXPECT_TRUE(
        row.narrow(1, 0, 6 * size).equal(mask_picture(batch, s, cfg.model.modalities, size)));
    for (int64_t i = 0; i < 3; ++i) {
      const auto mask = batch.mask[s][i];
      auto cells = mask.logical_not()
                       .view({grid, 1, grid, 1})
                       .expand({grid, size / grid, grid, size / grid})
                       .reshape({size, size});
      auto content = panel(picture, s, i == 0 ? 1 : i == 1 ? 2 : 0, size);
      auto recon = panel(picture, s, 6 + i, size);
      EXPECT_TRUE(recon.index({cells}).equal(content.index({cells}))) << s << "," << i;
      auto edges = masked_edges(mask, grid, size);
      EXPECT_TRUE((recon.index({edges}) == kGridColour[0]).all().item<bool>()) << s << "," << i;
    }
  }
  // The training forward (masked tokens only) is enough; images of another panel size.
  auto masked_out = model->forward(batch);
  auto small = reconstruction_picture(batch, masked_out, cfg.model, cfg.loss, 32);
  EXPECT_EQ(small.sizes(), (std::vector<int64_t>{3 * 32, 9 * 32, 3}));
  // A prediction that misses a masked token is refused.
  auto partial = masked_out;
  partial.rows[2] = partial.rows[2].narrow(0, 1, partial.rows[2].size(0) - 1);
  partial.predictions[2] = partial.predictions[2].narrow(0, 1, partial.rows[2].size(0));
  EXPECT_THROW(reconstruction_picture(batch, partial, cfg.model, cfg.loss, 64), c10::Error);
  EXPECT_THROW(reconstruction_picture(batch, out, cfg.model, cfg.loss, 30), c10::Error);
}

TEST(ReconstructionPictures, APerfectPredictionReconstructsTheInput) {
  testing::seed(6);
  auto cfg = tiny_config();
  auto batch = sample_batch(cfg, 2, 3, 12, 6);
  const int64_t size = 64, grid = 4, e = cfg.model.instance_head_dim;
  auto table = torch::randn({256, e});
  for (bool norm_pix : {true, false}) {
    cfg.loss.norm_pix = norm_pix;
    for (const auto& rows : {all_rows(batch, 3), masked_rows_of(batch)}) {
      auto out = perfect_output(cfg, batch, rows, table, norm_pix);
      auto picture = reconstruction_picture(batch, out, cfg.model, cfg.loss, size);
      ASSERT_EQ(picture.sizes(), (std::vector<int64_t>{2 * size, 9 * size, 3}));
      for (int64_t s = 0; s < 2; ++s) {
        // semantic (panel 6) and rgb (panel 8) are the input maps, with the masked edges.
        EXPECT_TRUE(panel(picture, s, 6, size)
                        .equal(expected_panel(panel(picture, s, 1, size), batch.mask[s][0], grid)))
            << norm_pix << " sample " << s;
        EXPECT_TRUE(panel(picture, s, 8, size)
                        .equal(expected_panel(panel(picture, s, 0, size), batch.mask[s][2], grid)))
            << norm_pix << " sample " << s;
        // instance (panel 7): on masked cells one colour per instance, distinct instances
        // distinct colours; visible cells the input's colours.
        auto recon = panel(picture, s, 7, size);
        const int64_t h = batch.instance.size(1), cell = size / h;
        std::vector<std::pair<int64_t, torch::Tensor>> seen;
        for (int64_t y = 0; y < h; ++y) {
          for (int64_t x = 0; x < h; ++x) {
            auto colour = recon[y * cell + 1][x * cell + 1];
            const bool masked = batch.mask[s][1][(y / 4) * grid + x / 4].item<bool>();
            if (!masked) {
              EXPECT_TRUE(colour.equal(panel(picture, s, 2, size)[y * cell + 1][x * cell + 1]));
              continue;
            }
            const auto id = batch.instance[s][y][x].item<int64_t>();
            for (const auto& [other, c] : seen) {
              EXPECT_EQ(other == id, colour.equal(c)) << id << " vs " << other;
            }
            seen.emplace_back(id, colour);
          }
        }
      }
    }
  }
  // Decoding with the wrong norm_pix setting does not give the input back.
  auto out = perfect_output(cfg, batch, all_rows(batch, 3), table, /*norm_pix=*/true);
  cfg.loss.norm_pix = false;
  auto picture = reconstruction_picture(batch, out, cfg.model, cfg.loss, size);
  EXPECT_FALSE(panel(picture, 0, 8, size)
                   .equal(expected_panel(panel(picture, 0, 0, size), batch.mask[0][2], grid)));
}

TEST(ReconstructionPictures, MaeModeShowsRgbOnlyAndWritesAPng) {
  testing::seed(7);
  auto cfg = mae_config();
  ASSERT_EQ(cfg.model.modalities, std::vector<Modality>{Modality::kRgb});
  auto batch = sample_batch(cfg, 2, 1, 4, 7);
  const int64_t size = 64, grid = 4;
  {
    // A perfect prediction, and a batch without label maps (an rgb-only source).
    auto out = perfect_output(cfg, batch, all_rows(batch, 1), torch::Tensor(), true);
    Batch bare = batch;
    bare.semantic = torch::Tensor();
    bare.instance = torch::Tensor();
    auto picture = reconstruction_picture(bare, out, cfg.model, cfg.loss, size);
    ASSERT_EQ(picture.sizes(), (std::vector<int64_t>{2 * size, 5 * size, 3}));
    for (int64_t s = 0; s < 2; ++s) {
      EXPECT_TRUE(panel(picture, s, 4, size)
                      .equal(expected_panel(panel(picture, s, 0, size), batch.mask[s][0], grid)));
      EXPECT_TRUE((panel(picture, s, 1, size) == static_cast<uint8_t>(kIgnoreColour[0]))
                      .all()
                      .item<bool>());
    }
  }
  models::C2fmae model(cfg.model);
  torch::NoGradGuard no_grad;
  auto out = model->forward(batch, /*all_tokens=*/true);
  auto picture = reconstruction_picture(batch, out, cfg.model, cfg.loss, size);
  ASSERT_EQ(picture.sizes(), (std::vector<int64_t>{2 * size, 5 * size, 3}));
  const auto dir = testing::fresh_dir("c2fmae_reconstruction_pictures");
  const auto path = dir + "/reconstruction.png";
  write_png(path, picture);
  ASSERT_TRUE(std::filesystem::exists(path));
  const auto image = testing::read_image(path);
  ASSERT_EQ(image.height, 2 * size);
  ASSERT_EQ(image.width, 5 * size);
  ASSERT_EQ(image.channels, 3);
  std::vector<int64_t> v(image.pixels.begin(), image.pixels.end());
  EXPECT_TRUE(torch::tensor(v, torch::kLong).view(picture.sizes()).equal(picture.to(torch::kLong)));
}

}  // namespace
}  // namespace c2fmae::train
