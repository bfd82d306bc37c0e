#include "c2fmae/formats/image_codec.h"

#include <gtest/gtest.h>
#include <png.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <thread>
#include <vector>

namespace c2fmae::formats {
namespace {

constexpr float kMean[3] = {0.485f, 0.456f, 0.406f};
constexpr float kStd[3] = {0.229f, 0.224f, 0.225f};
constexpr float kZero[3] = {0.0f, 0.0f, 0.0f};
constexpr float kOne[3] = {1.0f, 1.0f, 1.0f};

/// A photo-like HWC image: smooth colour fields plus a little deterministic noise.
std::vector<uint8_t> photo(int width, int height, uint32_t seed, int noise = 6, double freq = 1.0) {
  std::vector<uint8_t> rgb(static_cast<size_t>(width) * height * 3);
  uint32_t state = seed * 2654435761u + 1;
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < 3; ++c) {
        state = state * 1664525u + 1013904223u;
        const double v =
            128 + 60 * std::sin(x * (0.03 + 0.01 * c) * freq + c) * std::cos(y * 0.025 * freq) +
            static_cast<int>(state >> 24) % (2 * noise + 1) - noise;
        rgb[(static_cast<size_t>(y) * width + x) * 3 + c] =
            static_cast<uint8_t>(std::clamp(v, 0.0, 255.0));
      }
  return rgb;
}

/// A black image with a white rectangle [x0, x1) x [y0, y1), and its label map (1 inside).
struct Rectangle {
  std::vector<uint8_t> rgb, label;
};
Rectangle rectangle(int width, int height, int x0, int y0, int x1, int y1) {
  Rectangle r{std::vector<uint8_t>(static_cast<size_t>(width) * height * 3, 0),
              std::vector<uint8_t>(static_cast<size_t>(width) * height, 0)};
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) {
      r.label[static_cast<size_t>(y) * width + x] = 1;
      for (int c = 0; c < 3; ++c) r.rgb[(static_cast<size_t>(y) * width + x) * 3 + c] = 255;
    }
  return r;
}

std::vector<float> rgb_crop(const std::vector<uint8_t>& file, const PixelCrop& crop, int n,
                            bool flip = false, Interpolation interp = Interpolation::kBicubic,
                            const float* mean = kMean, const float* std = kStd) {
  std::vector<float> out(static_cast<size_t>(3) * n * n);
  decode_rgb_crop(file.data(), file.size(), crop, flip, n, interp, mean, std, out.data());
  return out;
}

std::vector<int64_t> label_crop(const std::vector<uint8_t>& file, int width, int height,
                                const PixelCrop& crop, int n, bool flip = false) {
  std::vector<int64_t> out(static_cast<size_t>(n) * n);
  decode_label_crop(file.data(), file.size(), width, height, crop, flip, n, out.data());
  return out;
}

/// CHW output written with mean 0, std 1 back to 0..255 values.
std::vector<int> levels(const std::vector<float>& chw) {
  std::vector<int> v(chw.size());
  for (size_t i = 0; i < chw.size(); ++i) v[i] = static_cast<int>(std::lround(chw[i] * 255.0f));
  return v;
}

uint32_t crc32(const uint8_t* data, size_t size) {
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < size; ++i) {
    crc ^= data[i];
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

void put_be32(uint8_t* p, uint32_t v) {
  p[0] = v >> 24;
  p[1] = v >> 16;
  p[2] = v >> 8;
  p[3] = v;
}

/// The PNG with its IHDR size replaced (and the CRC made right again).
std::vector<uint8_t> with_png_size(std::vector<uint8_t> png, uint32_t width, uint32_t height) {
  put_be32(&png[16], width);
  put_be32(&png[20], height);
  put_be32(&png[29], crc32(&png[12], 17));
  return png;
}

/// Offset of the data of the first chunk of `type` in a PNG.
size_t png_chunk_data(const std::vector<uint8_t>& png, const char* type) {
  auto it = std::search(png.begin(), png.end(), type, type + 4);
  EXPECT_NE(it, png.end()) << type;
  return static_cast<size_t>(it - png.begin()) + 4;
}

/// The box [x0, x1) x [y0, y1) of the output pixels for which inside(x, y) holds.
struct Box {
  int x0 = 1 << 30, y0 = 1 << 30, x1 = -1, y1 = -1;
};
template <typename F>
Box box_of(int n, F inside) {
  Box b;
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; ++x)
      if (inside(x, y)) {
        b.x0 = std::min(b.x0, x);
        b.y0 = std::min(b.y0, y);
        b.x1 = std::max(b.x1, x + 1);
        b.y1 = std::max(b.y1, y + 1);
      }
  return b;
}

template <typename F>
void expect_decode_error(F decode, const std::string& needle) {
  try {
    decode();
    ADD_FAILURE() << "expected a DecodeError containing '" << needle << "'";
  } catch (const DecodeError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(ImageCodec, SniffsFormatsByMagicBytes) {
  const auto jpeg = encode_jpeg(photo(8, 8, 1).data(), 8, 8);
  const auto png = encode_png_rgb(photo(8, 8, 1).data(), 8, 8);
  EXPECT_EQ(sniff_format(jpeg.data(), jpeg.size()), ImageFormat::kJpeg);
  EXPECT_EQ(sniff_format(png.data(), png.size()), ImageFormat::kPng);
  EXPECT_EQ(sniff_format(png.data(), 7), ImageFormat::kUnknown);
  const uint8_t text[] = "GIF89a....";
  EXPECT_EQ(sniff_format(text, sizeof text), ImageFormat::kUnknown);
  EXPECT_EQ(sniff_format(nullptr, 0), ImageFormat::kUnknown);
}

TEST(ImageCodec, ReadsSizeAndKindFromTheHeaderOnly) {
  const auto jpeg = encode_jpeg(photo(250, 130, 2).data(), 250, 130);
  auto info = read_image_info(jpeg.data(), jpeg.size() / 3);  // the header is enough
  EXPECT_EQ(info.format, ImageFormat::kJpeg);
  EXPECT_EQ(info.width, 250);
  EXPECT_EQ(info.height, 130);
  EXPECT_EQ(info.channels, 3);
  EXPECT_EQ(info.bit_depth, 8);
  const std::vector<uint16_t> wide(40 * 20, 7);
  const auto png16 = encode_png_gray(wide.data(), 40, 20, 16);
  info = read_image_info(png16.data(), png16.size());
  EXPECT_EQ(info.format, ImageFormat::kPng);
  EXPECT_EQ(info.width, 40);
  EXPECT_EQ(info.height, 20);
  EXPECT_EQ(info.channels, 1);
  EXPECT_EQ(info.bit_depth, 16);
  const auto png_rgb = encode_png_rgb(photo(9, 11, 3).data(), 9, 11);
  info = read_image_info(png_rgb.data(), png_rgb.size());
  EXPECT_EQ(info.channels, 3);
  EXPECT_EQ(info.bit_depth, 8);
}

TEST(ImageCodec, RefusesDecompressionBombsAndEmptyImages) {
  const std::vector<uint8_t> gray(16 * 16, 1);
  const auto png = encode_png_gray(gray.data(), 16, 16, 8);
  const auto huge = with_png_size(png, 20000, 20000);  // 4e8 > kMaxImagePixels
  expect_decode_error([&] { read_image_info(huge.data(), huge.size()); }, "20000x20000");
  expect_decode_error([&] { label_crop(huge, 20000, 20000, {0, 0, 16, 16}, 8); }, "20000x20000");
  expect_decode_error([&] { rgb_crop(huge, {0, 0, 16, 16}, 8); }, "20000x20000");
  const auto empty = with_png_size(png, 0, 16);
  EXPECT_THROW(read_image_info(empty.data(), empty.size()), DecodeError);

  auto jpeg = encode_jpeg(photo(16, 16, 4).data(), 16, 16);
  auto sof = std::search_n(jpeg.begin(), jpeg.end(), 1, 0xC0);  // SOF0: FF C0 len P H W
  while (sof != jpeg.end() && *(sof - 1) != 0xFF) sof = std::search_n(sof + 1, jpeg.end(), 1, 0xC0);
  ASSERT_NE(sof, jpeg.end());
  const size_t at = static_cast<size_t>(sof - jpeg.begin()) + 4;
  jpeg[at] = jpeg[at + 2] = 0xFD;  // 65000 x 65000
  jpeg[at + 1] = jpeg[at + 3] = 0xE8;
  expect_decode_error([&] { read_image_info(jpeg.data(), jpeg.size()); }, "65000x65000");
  expect_decode_error([&] { rgb_crop(jpeg, {0, 0, 16, 16}, 8); }, "65000x65000");
}

TEST(ImageCodec, JpegRoundTripIsCloseToTheSource) {
  const int n = 64;
  const auto src = photo(n, n, 5, 0, 4.0);  // waves 30 to 50 pixels long
  const auto jpeg = encode_jpeg(src.data(), n, n, 95);
  // A crop of the whole image at its own size samples pixel centres: no resampling.
  const auto got =
      levels(rgb_crop(jpeg, {0, 0, n, n}, n, false, Interpolation::kBicubic, kZero, kOne));
  double total = 0.0;
  int worst = 0;
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < n * n; ++i) {
      const int d = std::abs(got[static_cast<size_t>(c) * n * n + i] - src[i * 3 + c]);
      total += d;
      worst = std::max(worst, d);
    }
  EXPECT_LT(total / (3.0 * n * n), 1.6);  // 1.05 measured; a one-pixel shift gives 4
  EXPECT_LE(worst, 10);
}

TEST(ImageCodec, PngRoundTripsAreExact) {
  const int w = 23, h = 23;
  const auto src = photo(w, h, 6, 40);
  const auto png = encode_png_rgb(src.data(), w, h);
  const auto got =
      levels(rgb_crop(png, {0, 0, w, h}, w, false, Interpolation::kBilinear, kZero, kOne));
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < w * h; ++i)
      ASSERT_EQ(got[static_cast<size_t>(c) * w * h + i], src[i * 3 + c]) << "c " << c << " i " << i;

  std::vector<uint8_t> narrow(w * h);
  std::vector<uint16_t> wide(w * h);
  for (int i = 0; i < w * h; ++i) {
    narrow[i] = static_cast<uint8_t>(i * 37);
    wide[i] = static_cast<uint16_t>(i * 2741);
  }
  const auto l8 = label_crop(encode_png_gray(narrow.data(), w, h, 8), w, h, {0, 0, w, h}, w);
  const auto l16 = label_crop(encode_png_gray(wide.data(), w, h, 16), w, h, {0, 0, w, h}, w);
  for (int i = 0; i < w * h; ++i) {
    ASSERT_EQ(l8[i], narrow[i]) << i;
    ASSERT_EQ(l16[i], wide[i]) << i;
  }
}

TEST(ImageCodec, SixteenBitLabelsKeepValuesAbove255) {
  const int w = 8, h = 2;
  const std::vector<uint16_t> ids = {0,   1,   255,  256,  1000,  4095,  65534, 65535,
                                     300, 511, 1024, 2048, 32768, 40000, 12345, 258};
  const auto png = encode_png_gray(ids.data(), w, h, 16);
  const auto got = label_crop(png, w, h, {0, 0, w, h}, 8);  // 8 x 8 from 8 x 2: rows repeat
  for (int y = 0; y < 8; ++y)
    for (int x = 0; x < 8; ++x) ASSERT_EQ(got[y * 8 + x], ids[(y / 4) * w + x]) << x << "," << y;
}

TEST(ImageCodec, LabelSamplingTakesTheFloorOfTheCentreClampedIntoTheImage) {
  const int w = 50, h = 40;
  std::vector<uint16_t> ids(w * h);
  for (int i = 0; i < w * h; ++i) ids[i] = static_cast<uint16_t>(i);
  const auto png = encode_png_gray(ids.data(), w, h, 16);
  const PixelCrop crop{-3.25, 10.5, 57.0, 20.75};  // off the left and right edges
  const int n = 19;
  const auto got = label_crop(png, w, h, crop, n);
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; ++x) {
      const int sx =
          std::clamp(static_cast<int>(std::floor(crop.x0 + (x + 0.5) * crop.w / n)), 0, w - 1);
      const int sy =
          std::clamp(static_cast<int>(std::floor(crop.y0 + (y + 0.5) * crop.h / n)), 0, h - 1);
      ASSERT_EQ(got[y * n + x], sy * w + sx) << x << "," << y;
    }
}

TEST(ImageCodec, ConstantColourGivesTheNormalisedConstant) {
  const int w = 70, h = 45;
  std::vector<uint8_t> rgb(w * h * 3);
  const uint8_t colour[3] = {200, 100, 31};
  for (int i = 0; i < w * h; ++i)
    for (int c = 0; c < 3; ++c) rgb[i * 3 + c] = colour[c];
  const auto png = encode_png_rgb(rgb.data(), w, h);
  const auto jpeg = encode_jpeg(rgb.data(), w, h, 90);
  for (auto interp : {Interpolation::kBicubic, Interpolation::kBilinear}) {
    const auto from_png = rgb_crop(png, {3.7, 2.2, 50.3, 31.9}, 24, true, interp);
    const auto from_jpeg = rgb_crop(jpeg, {0, 0, w, h}, 17, false, interp);
    for (int c = 0; c < 3; ++c) {
      const float want = (colour[c] / 255.0f - kMean[c]) / kStd[c];
      for (int i = 0; i < 24 * 24; ++i) ASSERT_NEAR(from_png[c * 24 * 24 + i], want, 1e-5f);
      // YCbCr conversion may move a constant colour by a level.
      for (int i = 0; i < 17 * 17; ++i)
        ASSERT_NEAR(from_jpeg[c * 17 * 17 + i], want, 1.01f / 255.0f / kStd[c]);
    }
  }
}

TEST(ImageCodec, ResamplingMatchesPilOnSmallCases) {
  // [0, 255] widened to 4 pixels, with PIL's coefficients worked by hand (precompute_coeffs):
  // 0 64 191 255 bilinear; 0 53 202 255 bicubic (a = -0.5, -22.5 and 277.5 clamped). Rows
  // are constant.
  std::vector<uint8_t> two(2 * 2 * 3, 0);
  for (int y = 0; y < 2; ++y)
    for (int c = 0; c < 3; ++c) two[(y * 2 + 1) * 3 + c] = 255;
  const auto png = encode_png_rgb(two.data(), 2, 2);
  const int bilinear[4] = {0, 64, 191, 255}, bicubic[4] = {0, 53, 202, 255};
  const auto lin =
      levels(rgb_crop(png, {0, 0, 2, 2}, 4, false, Interpolation::kBilinear, kZero, kOne));
  const auto cub =
      levels(rgb_crop(png, {0, 0, 2, 2}, 4, false, Interpolation::kBicubic, kZero, kOne));
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 4; ++y)
      for (int x = 0; x < 4; ++x) {
        EXPECT_EQ(lin[(c * 4 + y) * 4 + x], bilinear[x]) << c << "," << y << "," << x;
        EXPECT_EQ(cub[(c * 4 + y) * 4 + x], bicubic[x]) << c << "," << y << "," << x;
      }

  // A horizontal ramp 10 + 12 x shrunk by 2: away from the borders the symmetric, widened
  // filters keep it linear, 10 + 12 * (2 j + 0.5) at output j.
  const int w = 16;
  std::vector<uint8_t> ramp(w * w * 3);
  for (int y = 0; y < w; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) ramp[(y * w + x) * 3 + c] = static_cast<uint8_t>(10 + 12 * x);
  const auto ramp_png = encode_png_rgb(ramp.data(), w, w);
  for (auto interp : {Interpolation::kBilinear, Interpolation::kBicubic}) {
    const auto got = levels(rgb_crop(ramp_png, {0, 0, w, w}, w / 2, false, interp, kZero, kOne));
    for (int j = 2; j < w / 2 - 2; ++j)
      EXPECT_EQ(got[3 * (w / 2) + j], 10 + 12 * (2 * j + 0.5)) << j;
  }
}

TEST(ImageCodec, ShrinkingIsAntialiased) {
  // A one-pixel checkerboard shrunk 3 times: each output centre is a source pixel centre, so
  // sampling without the widened filter gives 0 or 255; averaging gives about grey.
  const int w = 48, n = 16;
  std::vector<uint8_t> board(w * w * 3);
  for (int y = 0; y < w; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) board[(y * w + x) * 3 + c] = (x + y) % 2 ? 255 : 0;
  const auto png = encode_png_rgb(board.data(), w, w);
  for (auto interp : {Interpolation::kBilinear, Interpolation::kBicubic}) {
    const auto got = levels(rgb_crop(png, {0, 0, w, w}, n, false, interp, kZero, kOne));
    for (int c = 0; c < 3; ++c)
      for (int y = 1; y < n - 1; ++y)  // at the border the filter is cut and skewed
        for (int x = 1; x < n - 1; ++x)
          ASSERT_NEAR(got[(c * n + y) * n + x], 127.5, 20.0) << x << "," << y;
  }
}

TEST(ImageCodec, FlipMirrorsExactly) {
  const int w = 300, h = 220, n = 48;
  const auto jpeg = encode_jpeg(photo(w, h, 7).data(), w, h);
  const PixelCrop crop{31.7, 12.2, 201.5, 170.25};
  for (auto interp : {Interpolation::kBilinear, Interpolation::kBicubic}) {
    const auto plain = rgb_crop(jpeg, crop, n, false, interp);
    const auto mirrored = rgb_crop(jpeg, crop, n, true, interp);
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < n; ++y)
        for (int x = 0; x < n; ++x)
          ASSERT_EQ(mirrored[(c * n + y) * n + x], plain[(c * n + y) * n + n - 1 - x]);
  }
  std::vector<uint16_t> ids(w * h);
  for (int i = 0; i < w * h; ++i) ids[i] = static_cast<uint16_t>(i % 60000);
  const auto png = encode_png_gray(ids.data(), w, h, 16);
  const auto plain = label_crop(png, w, h, crop, n, false);
  const auto mirrored = label_crop(png, w, h, crop, n, true);
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; ++x) ASSERT_EQ(mirrored[y * n + x], plain[y * n + n - 1 - x]);
}

TEST(ImageCodec, RgbAndLabelCropsLineUp) {
  // A sharp white rectangle and its label map, cropped, resized and flipped the same way:
  // the rectangle lands on the same output pixels in both (within one at its edges), and the
  // label's edges are where the sampling convention puts them.
  const int w = 320, h = 240;
  const int rx0 = 101, ry0 = 57, rx1 = 203, ry1 = 171;
  const auto scene = rectangle(w, h, rx0, ry0, rx1, ry1);
  const auto jpeg = encode_jpeg(scene.rgb.data(), w, h, 95);
  const auto png = encode_png_rgb(scene.rgb.data(), w, h);
  const auto label = encode_png_gray(scene.label.data(), w, h, 8);
  const PixelCrop crops[] = {{0, 0, w, h},
                             {77.3, 40.6, 181.2, 150.9},
                             {90.5, 50.25, 60, 55},
                             {13.9, 3.1, 300.4, 230.7},
                             {150.2, 100.7, 120, 139}};
  for (const auto& crop : crops)
    for (int n : {56, 112})
      for (bool flip : {false, true}) {
        SCOPED_TRACE(::testing::Message() << "crop " << crop.x0 << "," << crop.y0 << " " << crop.w
                                          << "x" << crop.h << " n " << n << " flip " << flip);
        const auto lab = label_crop(label, w, h, crop, n, flip);
        const Box lab_box = box_of(n, [&](int x, int y) { return lab[y * n + x] == 1; });
        // Where the convention puts the edges: output j is inside if its centre is.
        Box want = box_of(n, [&](int x, int y) {
          const double sx = crop.x0 + ((flip ? n - 1 - x : x) + 0.5) * crop.w / n;
          const double sy = crop.y0 + (y + 0.5) * crop.h / n;
          return sx >= rx0 && sx < rx1 && sy >= ry0 && sy < ry1;
        });
        EXPECT_EQ(lab_box.x0, want.x0);
        EXPECT_EQ(lab_box.x1, want.x1);
        EXPECT_EQ(lab_box.y0, want.y0);
        EXPECT_EQ(lab_box.y1, want.y1);
        for (const auto* file : {&jpeg, &png}) {
          const auto rgb = rgb_crop(*file, crop, n, flip, Interpolation::kBicubic, kZero, kOne);
          const Box rgb_box =
              box_of(n, [&](int x, int y) { return rgb[n * n + y * n + x] > 0.5f; });
          EXPECT_NEAR(rgb_box.x0, lab_box.x0, 1);
          EXPECT_NEAR(rgb_box.x1, lab_box.x1, 1);
          EXPECT_NEAR(rgb_box.y0, lab_box.y0, 1);
          EXPECT_NEAR(rgb_box.y1, lab_box.y1, 1);
        }
      }
  // The semantic map at a quarter of the RGB size covers the same place.
  const PixelCrop crop{60.4, 30.2, 210.3, 190.6};
  const auto quarter = label_crop(label, w, h, crop, 28);
  const auto rgb = rgb_crop(jpeg, crop, 112, false, Interpolation::kBicubic, kZero, kOne);
  const Box q = box_of(28, [&](int x, int y) { return quarter[y * 28 + x] == 1; });
  const Box r = box_of(112, [&](int x, int y) { return rgb[112 * 112 + y * 112 + x] > 0.5f; });
  EXPECT_NEAR(4 * q.x0, r.x0, 4);
  EXPECT_NEAR(4 * q.x1, r.x1, 4);
  EXPECT_NEAR(4 * q.y0, r.y0, 4);
  EXPECT_NEAR(4 * q.y1, r.y1, 4);
}

/// A JPEG and a PNG of its full decode (a crop of the whole image at its own size samples
/// pixel centres: no resampling).
struct JpegAndDecode {
  std::vector<uint8_t> jpeg, png;
};
JpegAndDecode jpeg_and_decode(int w, uint32_t seed) {
  JpegAndDecode r;
  r.jpeg = encode_jpeg(photo(w, w, seed).data(), w, w, 95);
  const auto full = levels(
      rgb_crop(r.jpeg, {0, 0, 1.0 * w, 1.0 * w}, w, false, Interpolation::kBicubic, kZero, kOne));
  std::vector<uint8_t> pixels(static_cast<size_t>(w) * w * 3);
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < w * w; ++i) pixels[i * 3 + c] = static_cast<uint8_t>(full[c * w * w + i]);
  r.png = encode_png_rgb(pixels.data(), w, w);
  return r;
}

TEST(ImageCodec, CroppedJpegDecodeEqualsFullDecode) {
  // Crops under 8/7 of the output are not DCT-scaled; only their rows and iMCU columns (plus
  // a margin for the chroma upsampling) are decoded, and those pixels are a full decode's.
  const int w = 200;
  const auto files = jpeg_and_decode(w, 8);
  const PixelCrop crops[] = {{37.3, 21.7, 50, 45}, {0, 150.5, 61, 49.5}, {139.2, 2.9, 60.8, 62.5}};
  for (const auto& crop : crops)
    for (int n : {56, 64})
      for (auto interp : {Interpolation::kBilinear, Interpolation::kBicubic})
        EXPECT_EQ(rgb_crop(files.jpeg, crop, n, n == 64, interp),
                  rgb_crop(files.png, crop, n, n == 64, interp))
            << crop.x0 << "," << crop.y0 << " n " << n;
}

TEST(ImageCodec, DctScaledDecodeAgreesWithFullDecode) {
  // Large crops are shrunk in the DCT domain first (by 1/8 to 7/8); compare with resampling
  // the full decode with the same crop.
  const int w = 256;
  const auto files = jpeg_and_decode(w, 9);
  const PixelCrop crops[] = {{0, 0, w, w}, {20.5, 31.25, 200, 180.5}, {100.2, 3.3, 150, 140}};
  for (const auto& crop : crops)
    for (int n : {24, 56, 100}) {
      const auto scaled = rgb_crop(files.jpeg, crop, n);
      const auto reference = rgb_crop(files.png, crop, n);
      double total = 0.0, worst = 0.0;
      for (size_t i = 0; i < scaled.size(); ++i) {
        const double d = std::fabs(scaled[i] - reference[i]) * 0.225 * 255;  // about levels
        total += d;
        worst = std::max(worst, d);
      }
      EXPECT_LT(total / scaled.size(), 1.0) << crop.x0 << " " << n;  // measured: 0.2 to 0.6
      EXPECT_LT(worst, 6.0) << crop.x0 << " " << n;                  // measured: 1 to 3
    }
}

TEST(ImageCodec, TruncatedJpegFails) {
  const int w = 160, h = 120;
  const auto jpeg = encode_jpeg(photo(w, h, 9).data(), w, h);
  const std::vector<uint8_t> half(jpeg.begin(), jpeg.begin() + jpeg.size() / 2);
  // libjpeg's own words for the warning it would otherwise only print.
  expect_decode_error([&] { rgb_crop(half, {0, 0, w, h}, 32); }, "Premature end of JPEG file");
  const std::vector<uint8_t> header(jpeg.begin(), jpeg.begin() + 2);
  EXPECT_THROW(rgb_crop(header, {0, 0, w, h}, 32), DecodeError);
}

TEST(ImageCodec, CorruptPngFails) {
  const int w = 60, h = 40;
  const auto rgb = encode_png_rgb(photo(w, h, 10).data(), w, h);
  std::vector<uint8_t> ids(w * h);
  for (int i = 0; i < w * h; ++i) ids[i] = static_cast<uint8_t>(i % 7);
  const auto label = encode_png_gray(ids.data(), w, h, 8);
  for (const auto* file : {&rgb, &label}) {
    // A flipped bit in the pixel data: zlib or the chunk's CRC check finds it, whichever first.
    auto flipped = *file;
    flipped[png_chunk_data(flipped, "IDAT") + 40] ^= 0x08;
    EXPECT_THROW(rgb_crop(flipped, {0, 0, w, h}, 8), DecodeError);
    if (file == &label) {
      // A label map is read down to the crop's last sampled row (h rows out: the last row,
      // so the file is read to its end, as always for RGB).
      EXPECT_THROW(label_crop(flipped, w, h, {0, 0, w, h}, h), DecodeError);
    }
    // A wrong CRC on intact data.
    auto bad_crc = *file;
    const size_t idat = png_chunk_data(bad_crc, "IDAT");
    const size_t length = static_cast<size_t>(bad_crc[idat - 8]) << 24 | bad_crc[idat - 7] << 16 |
                          bad_crc[idat - 6] << 8 | bad_crc[idat - 5];
    bad_crc[idat + length + 2] ^= 0x01;
    expect_decode_error([&] { rgb_crop(bad_crc, {0, 0, w, h}, 8); }, "CRC");
    if (file == &label) {
      expect_decode_error([&] { label_crop(bad_crc, w, h, {0, 0, w, h}, h); }, "CRC");
    }
    const std::vector<uint8_t> half(file->begin(), file->begin() + file->size() / 2);
    expect_decode_error([&] { rgb_crop(half, {0, 0, w, h}, 8); }, "truncated");
    if (file == &label) {
      expect_decode_error([&] { label_crop(half, w, h, {0, 0, w, h}, 8); }, "truncated");
    }
    const std::vector<uint8_t> no_end(file->begin(), file->end() - 12);  // IEND cut off
    EXPECT_THROW(rgb_crop(no_end, {0, 0, w, h}, 8), DecodeError);
  }
}

TEST(ImageCodec, ChunksNobodyReadsAreStillChecked) {
  std::vector<uint8_t> ids(20 * 10, 2);
  const auto label = encode_png_gray(ids.data(), 20, 10, 8);
  // A tEXt chunk after IHDR (8-byte signature + 25-byte IHDR chunk).
  std::string text = "tEXtComment";
  text += '\0';
  text += "made by a test";
  std::vector<uint8_t> chunk(4 + text.size() + 4);
  put_be32(chunk.data(), static_cast<uint32_t>(text.size() - 4));
  std::copy(text.begin(), text.end(), chunk.begin() + 4);
  put_be32(&chunk[4 + text.size()], crc32(&chunk[4], text.size()));
  auto with_text = label;
  with_text.insert(with_text.begin() + 33, chunk.begin(), chunk.end());
  EXPECT_EQ(label_crop(with_text, 20, 10, {0, 0, 20, 10}, 4),
            label_crop(label, 20, 10, {0, 0, 20, 10}, 4));
  with_text[33 + 4 + 6] ^= 0x20;  // a changed letter: libpng would only warn
  expect_decode_error([&] { label_crop(with_text, 20, 10, {0, 0, 20, 10}, 4); }, "CRC");
}

TEST(ImageCodec, WrongLabelSizeNamesBothSizes) {
  std::vector<uint8_t> ids(64 * 48, 3);
  const auto label = encode_png_gray(ids.data(), 64, 48, 8);
  try {
    label_crop(label, 65, 48, {0, 0, 65, 48}, 8);
    ADD_FAILURE() << "expected a DecodeError";
  } catch (const DecodeError& e) {
    EXPECT_NE(std::string(e.what()).find("64x48"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("65x48"), std::string::npos) << e.what();
  }
}

TEST(ImageCodec, OnlyOneChannelPngsAreLabels) {
  const auto rgb_png = encode_png_rgb(photo(16, 16, 11).data(), 16, 16);
  const std::string want = "expected a one-channel 8- or 16-bit PNG";
  expect_decode_error([&] { label_crop(rgb_png, 16, 16, {0, 0, 16, 16}, 8); }, want);
  const auto jpeg = encode_jpeg(photo(16, 16, 11).data(), 16, 16);
  expect_decode_error([&] { label_crop(jpeg, 16, 16, {0, 0, 16, 16}, 8); }, "JPEG");
}

/// An 8-bit palette PNG of `indices` (Pascal VOC's mask format), written with libpng.
std::vector<uint8_t> palette_png(const std::vector<uint8_t>& indices, int w, int h) {
  std::vector<uint8_t> out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  png_set_write_fn(
      png, &out,
      [](png_structp p, png_bytep data, png_size_t n) {
        auto* bytes = static_cast<std::vector<uint8_t>*>(png_get_io_ptr(p));
        bytes->insert(bytes->end(), data, data + n);
      },
      nullptr);
  png_set_IHDR(png, info, static_cast<png_uint_32>(w), static_cast<png_uint_32>(h), 8,
               PNG_COLOR_TYPE_PALETTE, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  std::vector<png_color> colours(256);
  for (int i = 0; i < 256; ++i)
    colours[i] = {static_cast<png_byte>(i * 7), static_cast<png_byte>(255 - i), 40};
  png_set_PLTE(png, info, colours.data(), 256);
  png_write_info(png, info);
  for (int y = 0; y < h; ++y) png_write_row(png, const_cast<png_bytep>(indices.data() + y * w));
  png_write_end(png, info);
  png_destroy_write_struct(&png, &info);
  return out;
}

TEST(ImageCodec, APalettePngLabelIsReadAsItsIndices) {
  const int w = 12, h = 8;
  std::vector<uint8_t> ids(w * h);
  for (int i = 0; i < w * h; ++i) ids[i] = static_cast<uint8_t>(i % 5 == 0 ? 255 : i % 21);
  const auto file = palette_png(ids, w, h);
  std::vector<int64_t> out(w * w);
  // A whole-image crop at the image's width: every column, rows sampled by nearest.
  decode_label_crop(file.data(), file.size(), w, h, {0, 0, double(w), double(h)}, false, w,
                    out.data());
  for (int y = 0; y < w; ++y) {
    const int row = static_cast<int>(std::floor((y + 0.5) * h / w));
    for (int x = 0; x < w; ++x) EXPECT_EQ(out[y * w + x], ids[row * w + x]) << y << " " << x;
  }
}

TEST(ImageCodec, GarbageFails) {
  std::vector<uint8_t> noise(4096);
  uint32_t state = 12345;
  for (auto& b : noise) b = static_cast<uint8_t>((state = state * 1664525u + 1013904223u) >> 24);
  auto jpeg_like = noise, png_like = noise;
  const uint8_t jpeg_magic[] = {0xFF, 0xD8, 0xFF, 0xE0};
  const uint8_t png_magic[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  std::copy(std::begin(jpeg_magic), std::end(jpeg_magic), jpeg_like.begin());
  std::copy(std::begin(png_magic), std::end(png_magic), png_like.begin());
  for (const auto* file : {&noise, &jpeg_like, &png_like}) {
    EXPECT_THROW(read_image_info(file->data(), file->size()), DecodeError);
    EXPECT_THROW(rgb_crop(*file, {0, 0, 8, 8}, 8), DecodeError);
    EXPECT_THROW(label_crop(*file, 8, 8, {0, 0, 8, 8}, 8), DecodeError);
  }
  EXPECT_THROW(read_image_info(nullptr, 0), DecodeError);
  EXPECT_THROW(rgb_crop({}, {0, 0, 8, 8}, 8), DecodeError);
}

TEST(ImageCodec, RejectsBadArguments) {
  const auto png = encode_png_rgb(photo(8, 8, 12).data(), 8, 8);
  EXPECT_THROW(rgb_crop(png, {0, 0, 0, 8}, 8), std::invalid_argument);
  EXPECT_THROW(rgb_crop(png, {0, 0, 8, 8}, 0), std::invalid_argument);
  EXPECT_THROW(rgb_crop(png, {NAN, 0, 8, 8}, 4), std::invalid_argument);
  EXPECT_THROW(label_crop(png, 8, 8, {0, 0, 1e30, 8}, 4), std::invalid_argument);
  EXPECT_THROW(encode_png_gray(png.data(), 8, 8, 4), std::invalid_argument);
  EXPECT_THROW(encode_jpeg(png.data(), 0, 8), std::invalid_argument);
}

TEST(ImageCodec, DecodesConcurrently) {
  const int w = 200, h = 150, n = 32;
  const auto jpeg = encode_jpeg(photo(w, h, 13).data(), w, h);
  std::vector<uint16_t> ids(w * h);
  for (int i = 0; i < w * h; ++i) ids[i] = static_cast<uint16_t>(i * 7);
  const auto label = encode_png_gray(ids.data(), w, h, 16);
  const PixelCrop crop{10.5, 20.25, 150, 110};
  const auto want_rgb = rgb_crop(jpeg, crop, n);
  const auto want_label = label_crop(label, w, h, crop, n);
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int r = 0; r < 20; ++r) {
        mismatches[t] += rgb_crop(jpeg, crop, n) != want_rgb;
        mismatches[t] += label_crop(label, w, h, crop, n) != want_label;
        try {
          label_crop(label, w + 1, h, crop, n);
          ++mismatches[t];
        } catch (const DecodeError&) {
        }
      }
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
}

}  // namespace
}  // namespace c2fmae::formats
