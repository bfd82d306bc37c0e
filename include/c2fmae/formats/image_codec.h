// Image decoding for the file-backed sources (folder, shards): libjpeg-turbo (its libjpeg API)
// and libpng directly, no OpenCV, so the sources build and run on the GPU host. Torch-free.
//
// Geometry convention, shared by every decoder here so that RGB and both masks line up:
// pixel i of a source covers [i, i + 1); a crop is a continuous window [x0, x0 + w) x
// [y0, y0 + h) in source pixels; output pixel j of n samples the crop at source coordinate
// x0 + (j + 0.5) * w / n (its centre). A flip mirrors the output: output j takes what
// output n - 1 - j would have had.
#pragma once
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "c2fmae/formats/format_error.h"

namespace c2fmae::formats {

/// A file that cannot be decoded as asked: unreadable, truncated, a decoder warning (a
/// truncated JPEG that libjpeg would fill with grey counts), an unexpected kind of image.
class DecodeError : public FormatError {
 public:
  using FormatError::FormatError;
};

enum class ImageFormat { kUnknown, kJpeg, kPng };

/// The format from the first bytes (magic numbers), kUnknown if neither.
ImageFormat sniff_format(const uint8_t* data, size_t size);

struct ImageInfo {
  int width = 0;
  int height = 0;
  int channels = 0;   ///< as stored: 1 gray, 2 gray + alpha, 3 colour, 4 colour + alpha
  int bit_depth = 8;  ///< 8 or 16 (PNG), 8 (JPEG)
  ImageFormat format = ImageFormat::kUnknown;
};

/// Reads the header only. Throws DecodeError for anything that is not a JPEG or PNG, or is
/// larger than kMaxImagePixels.
ImageInfo read_image_info(const uint8_t* data, size_t size);

/// Decompression bombs are refused: at most this many pixels per image.
constexpr int64_t kMaxImagePixels = int64_t{1} << 28;
/// A file larger than this is not an image or mask a dataset holds (ImageNet's largest JPEG
/// is 15 MB): readers refuse it rather than allocate for it.
constexpr uint64_t kMaxSampleFileBytes = uint64_t{256} << 20;

/// A crop window in source pixels (see the convention above).
struct PixelCrop {
  double x0 = 0.0;
  double y0 = 0.0;
  double w = 0.0;
  double h = 0.0;
};

enum class Interpolation { kBilinear, kBicubic };

/// Decodes an RGB image (JPEG or PNG; gray is expanded to three channels, alpha dropped)
/// inside `crop`, resamples it to out_size x out_size with `interpolation` (antialiased when
/// shrinking, as PIL and torchvision's antialias=True), rounds and clamps to 0..255 as a
/// uint8 image would be, mirrors it if `flip`, and writes (v / 255 - mean[c]) / std[c] into
/// out[c * out_size * out_size + y * out_size + x] (CHW float).
/// JPEGs are decoded with libjpeg-turbo's DCT-domain scaling (scale_num / 8) when the crop
/// is much larger than out_size, and only the rows and iMCU columns the crop needs.
/// Throws DecodeError on any decoder error or warning.
void decode_rgb_crop(const uint8_t* data, size_t size, const PixelCrop& crop, bool flip,
                     int out_size, Interpolation interpolation, const float mean[3],
                     const float std[3], float* out);

/// Decodes a one-channel label PNG (8- or 16-bit gray, or an 8-bit palette PNG read as its
/// indices, as Pascal VOC's masks; any other kind is a DecodeError),
/// checks it is expected_width x expected_height (else DecodeError naming both sizes), and
/// writes the nearest source pixel of each output pixel (floor of the sample coordinate,
/// clamped into the image) into out[y * out_size + x], mirrored if `flip`.
void decode_label_crop(const uint8_t* data, size_t size, int expected_width, int expected_height,
                       const PixelCrop& crop, bool flip, int out_size, int64_t* out);

/// A whole image as stored, for tools and tests (the training path reads crops above).
struct DecodedImage {
  int width = 0;
  int height = 0;
  int channels = 0;              ///< 3: RGB, as decode_rgb_crop reads it; 1: a label PNG
  std::vector<uint16_t> pixels;  ///< height x width x channels (HWC)
};

/// Decodes a whole JPEG or PNG: a one-channel 8- or 16-bit PNG as its label values, anything
/// else as 8-bit RGB. Throws DecodeError as the crop decoders do.
DecodedImage decode_image(const uint8_t* data, size_t size);

/// Encoders, for packing tests and fixtures. rgb: height x width x 3 uint8 (HWC).
std::vector<uint8_t> encode_jpeg(const uint8_t* rgb, int width, int height, int quality = 90);
/// gray: height x width values of bit_depth 8 (uint8) or 16 (uint16, host order).
std::vector<uint8_t> encode_png_gray(const void* gray, int width, int height, int bit_depth);
/// rgb: height x width x 3 uint8 (HWC), an 8-bit colour PNG.
std::vector<uint8_t> encode_png_rgb(const uint8_t* rgb, int width, int height);

}  // namespace c2fmae::formats
