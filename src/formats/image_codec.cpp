#include "c2fmae/formats/image_codec.h"

#include <algorithm>
#include <cmath>
#include <csetjmp>
#include <cstdlib>
#include <cstring>

// jpeglib.h needs FILE and size_t declared before it (libjpeg.txt).
// clang-format off
#include <cstdio>
#include <jpeglib.h>
// clang-format on
#include <png.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

// libjpeg and libpng report errors through callbacks that must not return; they longjmp back
// to a setjmp in a small function of this file that holds no object with a destructor (the
// C++ rule for setjmp/longjmp), returns false, and its caller throws DecodeError. Decoder
// state and buffers live in the caller, so they are released on every path.

namespace c2fmae::formats {
namespace {

constexpr uint8_t kJpegMagic[3] = {0xFF, 0xD8, 0xFF};
constexpr uint8_t kPngMagic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};

bool little_endian() {
  const uint16_t probe = 1;
  uint8_t first;
  std::memcpy(&first, &probe, 1);
  return first == 1;
}

std::string size_text(int64_t width, int64_t height) {
  return std::to_string(width) + "x" + std::to_string(height);
}

void check_pixel_count(int64_t width, int64_t height, const char* what) {
  if (width <= 0 || height <= 0)
    throw DecodeError(std::string(what) + " has an empty size " + size_text(width, height));
  if (width * height > kMaxImagePixels)
    throw DecodeError(std::string(what) + " is " + size_text(width, height) + ", more than " +
                      std::to_string(kMaxImagePixels) +
                      " pixels (refused as a decompression bomb)");
}

void check_crop(const PixelCrop& crop, int out_size, const char* fn) {
  if (out_size <= 0)
    throw std::invalid_argument(std::string(fn) + ": out_size must be positive, but got " +
                                std::to_string(out_size));
  // Far beyond any image (JPEG stops at 65500 pixels a side), and keeps the sums finite.
  constexpr double kLimit = 1 << 24;
  const auto sane = [&](double v) { return std::isfinite(v) && std::fabs(v) <= kLimit; };
  if (!(sane(crop.x0) && sane(crop.y0) && sane(crop.w) && sane(crop.h) && crop.w > 0.0 &&
        crop.h > 0.0))
    throw std::invalid_argument(std::string(fn) + ": the crop must have a positive size and " +
                                "coordinates within +-2^24, but got " + std::to_string(crop.x0) +
                                ", " + std::to_string(crop.y0) + ", " + std::to_string(crop.w) +
                                " x " + std::to_string(crop.h));
}

// ---------------------------------------------------------------------------------------
// Resampling: PIL's separable convolution (ImagingResample), in float, on an interleaved RGB
// source. The support of the filter grows with the shrink factor, which is what makes the
// downscale antialiased (as PIL and torchvision's antialias=True).

double bicubic_filter(double x) {  // Keys, a = -0.5 as PIL
  constexpr double a = -0.5;
  x = std::fabs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
  return 0.0;
}

double triangle_filter(double x) {
  x = std::fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

/// The source pixels and weights of each output pixel along one axis.
struct Taps {
  std::vector<int> first;  ///< first source pixel, relative to `lo`
  std::vector<int> count;
  std::vector<float> weights;  ///< [out_size, ksize], normalised to sum 1
  int ksize = 0;
  int lo = 0, hi = 0;  ///< the source pixels any output needs: [lo, hi)
};

/// Output j samples the source at in0 + (j + 0.5) * len / out_size; source pixel k is centred
/// at k + 0.5 (PIL's precompute_coeffs with a box). Pixels outside [0, in_size) are dropped and
/// the rest renormalised, as PIL does at the image border.
Taps make_taps(double in0, double len, int in_size, int out_size, Interpolation interpolation) {
  const bool cubic = interpolation == Interpolation::kBicubic;
  const double scale = len / out_size;
  const double filterscale = std::max(scale, 1.0);
  const double support = (cubic ? 2.0 : 1.0) * filterscale;
  Taps t;
  // No output needs more than the whole source (a crop far larger than the image).
  t.ksize = static_cast<int>(std::min(std::ceil(support) * 2.0 + 1.0, in_size + 1.0));
  t.first.resize(out_size);
  t.count.resize(out_size);
  t.weights.assign(static_cast<size_t>(out_size) * t.ksize, 0.0f);
  std::vector<double> w(t.ksize);
  t.lo = in_size;
  t.hi = 0;
  for (int j = 0; j < out_size; ++j) {
    const double center = in0 + (j + 0.5) * scale;
    // Clamped as doubles: a window far off the image must not overflow the int.
    const int xmin =
        static_cast<int>(std::clamp(std::floor(center - support + 0.5), 0.0, 1.0 * in_size));
    const int xmax =
        static_cast<int>(std::clamp(std::floor(center + support + 0.5), 0.0, 1.0 * in_size));
    int first = xmin, count = std::min(xmax - xmin, t.ksize);
    double total = 0.0;
    for (int k = 0; k < count; ++k) {
      w[k] = cubic ? bicubic_filter((first + k - center + 0.5) / filterscale)
                   : triangle_filter((first + k - center + 0.5) / filterscale);
      total += w[k];
    }
    if (count <= 0 || total == 0.0) {  // a window off the image: its nearest pixel
      first = static_cast<int>(std::clamp(std::floor(center), 0.0, in_size - 1.0));
      count = 1;
      w[0] = total = 1.0;
    }
    for (int k = 0; k < count; ++k) t.weights[static_cast<size_t>(j) * t.ksize + k] = w[k] / total;
    t.first[j] = first;
    t.count[j] = count;
    t.lo = std::min(t.lo, first);
    t.hi = std::max(t.hi, first + count);
  }
  for (int& f : t.first) f -= t.lo;
  return t;
}

/// The taps of output n - 1 - j at j, if `flip`: a mirrored output (the geometry convention).
Taps mirrored(Taps t, bool flip) {
  if (!flip) return t;
  const int n = static_cast<int>(t.first.size());
  std::reverse(t.first.begin(), t.first.end());
  std::reverse(t.count.begin(), t.count.end());
  for (int j = 0; j < n / 2; ++j)
    std::swap_ranges(t.weights.begin() + static_cast<size_t>(j) * t.ksize,
                     t.weights.begin() + static_cast<size_t>(j + 1) * t.ksize,
                     t.weights.begin() + static_cast<size_t>(n - 1 - j) * t.ksize);
  return t;
}

// The two inner loops of the horizontal pass are written with explicit vectors (SSE2, and a
// GCC / Clang vector extension): as plain loops, GCC 12 at -O3 turns them scalar. Lanes: r,
// g, b and padding.
typedef float Lanes __attribute__((vector_size(16)));

Lanes load_lanes(const float* p) {
  Lanes v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

/// Two passes, horizontal then vertical (PIL's order): rows arrive one by one from the
/// decoder (add_row) and are shrunk to out_size columns at once, into one plane per channel;
/// `finish` combines them. The mirror is applied in the horizontal pass.
class RgbResampler {
 public:
  /// The crop in the coordinates of a width x height source (already DCT-scaled for JPEG).
  RgbResampler(double x0, double y0, double w, double h, int width, int height, int out_size,
               Interpolation interpolation, bool flip)
      : n_(out_size),
        stride_((out_size + kBlock - 1) / kBlock * kBlock),
        cols_(mirrored(make_taps(x0, w, width, out_size, interpolation), flip)),
        rows_(make_taps(y0, h, height, out_size, interpolation)),
        row_(static_cast<size_t>(cols_.hi - cols_.lo + cols_.ksize) * 3 + 4),
        tmp_(static_cast<size_t>(3) * (rows_.hi - rows_.lo) * stride_) {}

  int col_lo() const { return cols_.lo; }
  int col_hi() const { return cols_.hi; }
  int row_lo() const { return rows_.lo; }
  int row_hi() const { return rows_.hi; }

  /// rgb: source row `y` (row_lo <= y < row_hi), interleaved, starting at column col_lo.
  void add_row(int y, const uint8_t* rgb) {
    const int len = (cols_.hi - cols_.lo) * 3;
    float* row = row_.data();
    int i = 0;
#ifdef __SSE2__
    const __m128i zero = _mm_setzero_si128();
    for (; i + 16 <= len; i += 16) {
      const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(rgb + i));
      const __m128i lo = _mm_unpacklo_epi8(bytes, zero), hi = _mm_unpackhi_epi8(bytes, zero);
      _mm_storeu_ps(row + i, _mm_cvtepi32_ps(_mm_unpacklo_epi16(lo, zero)));
      _mm_storeu_ps(row + i + 4, _mm_cvtepi32_ps(_mm_unpackhi_epi16(lo, zero)));
      _mm_storeu_ps(row + i + 8, _mm_cvtepi32_ps(_mm_unpacklo_epi16(hi, zero)));
      _mm_storeu_ps(row + i + 12, _mm_cvtepi32_ps(_mm_unpackhi_epi16(hi, zero)));
    }
#endif
    for (; i < len; ++i) row[i] = rgb[i];
    const size_t plane = static_cast<size_t>(rows_.hi - rows_.lo) * stride_;
    float* dst = tmp_.data() + static_cast<size_t>(y - rows_.lo) * stride_;
    // Four outputs at once (independent dependency chains), each an r, g, b + padding vector,
    // stored transposed into the three planes. Weights are zero past count and row_ is
    // zero-padded, so all four run to the longest; outputs past n_ land in the padding.
    for (int x = 0; x < n_; x += 4) {
      const int j0 = x, j1 = std::min(x + 1, n_ - 1), j2 = std::min(x + 2, n_ - 1),
                j3 = std::min(x + 3, n_ - 1);
      const float *w0 = weights(j0), *w1 = weights(j1), *w2 = weights(j2), *w3 = weights(j3);
      const float *p0 = row + 3 * cols_.first[j0], *p1 = row + 3 * cols_.first[j1],
                  *p2 = row + 3 * cols_.first[j2], *p3 = row + 3 * cols_.first[j3];
      const int count = std::max(std::max(cols_.count[j0], cols_.count[j1]),
                                 std::max(cols_.count[j2], cols_.count[j3]));
      Lanes a0 = {}, a1 = {}, a2 = {}, a3 = {};
      for (int k = 0; k < count; ++k) {
        a0 += w0[k] * load_lanes(p0 + 3 * k);
        a1 += w1[k] * load_lanes(p1 + 3 * k);
        a2 += w2[k] * load_lanes(p2 + 3 * k);
        a3 += w3[k] * load_lanes(p3 + 3 * k);
      }
      for (int c = 0; c < 3; ++c) {
        const Lanes v = {a0[c], a1[c], a2[c], a3[c]};
        std::memcpy(dst + c * plane + x, &v, sizeof v);
      }
    }
  }

  /// Vertical pass, then round and clamp as a uint8 image would be, and normalise into CHW
  /// `out` ([3, out_size, out_size]).
  void finish(const float mean[3], const float std[3], float* out) const {
    const size_t plane = static_cast<size_t>(rows_.hi - rows_.lo) * stride_;
    for (int c = 0; c < 3; ++c) {
      const float scale = 1.0f / (255.0f * std[c]), bias = -mean[c] / std[c];
      for (int y = 0; y < n_; ++y) {
        const float* w = rows_.weights.data() + static_cast<size_t>(y) * rows_.ksize;
        const float* src = tmp_.data() + c * plane + static_cast<size_t>(rows_.first[y]) * stride_;
        float* dst = out + (static_cast<size_t>(c) * n_ + y) * n_;
        for (int x0 = 0; x0 < n_; x0 += kBlock) {  // fixed-size blocks: vectorised at -O2
          float acc[kBlock] = {};
          for (int k = 0, count = rows_.count[y]; k < count; ++k)
            for (int l = 0; l < kBlock; ++l) acc[l] += w[k] * src[k * stride_ + x0 + l];
          float v[kBlock];
          for (int l = 0; l < kBlock; ++l) {
            // Round half up and clamp as PIL's clip8 (in integers: no branches, vectorised).
            const int u = std::min(std::max(static_cast<int>(acc[l] + 0.5f), 0), 255);
            v[l] = static_cast<float>(u) * scale + bias;
          }
          if (x0 + kBlock <= n_)
            std::memcpy(dst + x0, v, sizeof v);
          else
            std::memcpy(dst + x0, v, (n_ - x0) * sizeof(float));
        }
      }
    }
  }

 private:
  const float* weights(int j) const {
    return cols_.weights.data() + static_cast<size_t>(j) * cols_.ksize;
  }

  static constexpr int kBlock = 8;
  int n_;
  size_t stride_;  ///< out_size rounded up to kBlock: rows of tmp_
  Taps cols_, rows_;
  std::vector<float> row_;  ///< the current source row as float, zero-padded by ksize + 1
  std::vector<float> tmp_;  ///< [3, row_hi - row_lo, stride_] after the horizontal pass
};

// ---------------------------------------------------------------------------------------
// libjpeg

struct JpegErrorManager {
  jpeg_error_mgr base;  // first, so libjpeg's pointer to it is a pointer to the whole
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void on_jpeg_error(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  longjmp(err->jump, 1);
}

// A warning (level -1) means corrupt or missing data that libjpeg would paper over (a
// truncated file comes out grey at the bottom): the sample is bad, so it fails. Levels 0 and
// up are traces.
void on_jpeg_message(j_common_ptr cinfo, int level) {
  if (level < 0) on_jpeg_error(cinfo);
}

void init_jpeg_errors(JpegErrorManager& err) {
  jpeg_std_error(&err.base);
  err.base.error_exit = on_jpeg_error;
  err.base.emit_message = on_jpeg_message;
  err.message[0] = '\0';
}

/// Owns a decompress struct; zeroed first so that destroying a half-created one is safe.
struct JpegDecoder {
  jpeg_decompress_struct cinfo;
  JpegErrorManager err;
  JpegDecoder() {
    std::memset(&cinfo, 0, sizeof cinfo);
    init_jpeg_errors(err);
    cinfo.err = &err.base;
  }
  ~JpegDecoder() { jpeg_destroy_decompress(&cinfo); }
  JpegDecoder(const JpegDecoder&) = delete;
  JpegDecoder& operator=(const JpegDecoder&) = delete;
  std::string message() const { return std::string("cannot decode JPEG: ") + err.message; }
};

bool jpeg_open(JpegDecoder& d, const uint8_t* data, size_t size) {
  if (setjmp(d.err.jump)) return false;
  jpeg_create_decompress(&d.cinfo);
  jpeg_mem_src(&d.cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&d.cinfo, TRUE);
  return true;
}

bool jpeg_start(JpegDecoder& d, unsigned scale_num) {
  if (setjmp(d.err.jump)) return false;
  d.cinfo.out_color_space = JCS_EXT_RGB;  // gray is replicated by libjpeg-turbo itself
  d.cinfo.scale_num = scale_num;
  d.cinfo.scale_denom = 8;
  jpeg_start_decompress(&d.cinfo);
  return true;
}

// Fancy (triangle) chroma upsampling replicates the edge of a cropped scanline, so the
// outermost columns of a crop differ from a full decode: read a few more on either side.
constexpr int kCropMargin = 4;

/// Decodes rows [rs.row_lo, rs.row_hi) and the columns around [rs.col_lo, rs.col_hi) (from an
/// iMCU boundary), feeding each row to `rs`. row_buffer holds output_width * 3 bytes.
bool jpeg_read_window(JpegDecoder& d, RgbResampler& rs, uint8_t* row_buffer) {
  if (setjmp(d.err.jump)) return false;
  const int lo = std::max(rs.col_lo() - kCropMargin, 0);
  const int hi = std::min(rs.col_hi() + kCropMargin, static_cast<int>(d.cinfo.output_width));
  JDIMENSION xoffset = static_cast<JDIMENSION>(lo), width = static_cast<JDIMENSION>(hi - lo);
  if (width < d.cinfo.output_width) jpeg_crop_scanline(&d.cinfo, &xoffset, &width);
  const uint8_t* row_start = row_buffer + 3 * (rs.col_lo() - static_cast<int>(xoffset));
  if (rs.row_lo() > 0) jpeg_skip_scanlines(&d.cinfo, static_cast<JDIMENSION>(rs.row_lo()));
  JSAMPROW rows[1] = {row_buffer};
  while (static_cast<int>(d.cinfo.output_scanline) < rs.row_hi()) {
    const int y = static_cast<int>(d.cinfo.output_scanline);
    if (jpeg_read_scanlines(&d.cinfo, rows, 1) != 1) {
      std::snprintf(d.err.message, sizeof d.err.message, "no data at row %d", y);
      return false;
    }
    rs.add_row(y, row_start);
  }
  return true;  // rows below the window are never decoded; the destructor aborts the rest
}

/// Decodes every row into `rgb` (output_height x output_width x 3).
bool jpeg_read_all(JpegDecoder& d, uint8_t* rgb) {
  if (setjmp(d.err.jump)) return false;
  const size_t row_bytes = static_cast<size_t>(d.cinfo.output_width) * 3;
  while (d.cinfo.output_scanline < d.cinfo.output_height) {
    JSAMPROW rows[1] = {rgb + d.cinfo.output_scanline * row_bytes};
    if (jpeg_read_scanlines(&d.cinfo, rows, 1) != 1) {
      std::snprintf(d.err.message, sizeof d.err.message, "no data at row %u",
                    d.cinfo.output_scanline);
      return false;
    }
  }
  jpeg_finish_decompress(&d.cinfo);
  return true;
}

void decode_jpeg_crop(const uint8_t* data, size_t size, const PixelCrop& crop, bool flip,
                      int out_size, Interpolation interpolation, const float mean[3],
                      const float std[3], float* out) {
  JpegDecoder d;
  if (!jpeg_open(d, data, size)) throw DecodeError(d.message());
  check_pixel_count(d.cinfo.image_width, d.cinfo.image_height, "JPEG image");
  const J_COLOR_SPACE space = d.cinfo.jpeg_color_space;
  if (space != JCS_GRAYSCALE && space != JCS_YCbCr && space != JCS_RGB) {
    const std::string name = space == JCS_CMYK ? "CMYK" : space == JCS_YCCK ? "YCCK" : "unknown";
    throw DecodeError("cannot decode JPEG: its colour space is " + name +
                      "; only gray, YCbCr and RGB are supported");
  }
  // DCT-domain downscaling (PIL's draft mode, finer): the smallest M/8 at which the crop
  // still covers out_size pixels both ways, so the resampler only ever shrinks a little.
  unsigned m = 1;
  while (m < 8 && (crop.w * m < 8.0 * out_size || crop.h * m < 8.0 * out_size)) ++m;
  if (!jpeg_start(d, m)) throw DecodeError(d.message());
  const double s = m / 8.0;  // scaled pixel i covers source [i / s, (i + 1) / s)
  RgbResampler rs(crop.x0 * s, crop.y0 * s, crop.w * s, crop.h * s,
                  static_cast<int>(d.cinfo.output_width), static_cast<int>(d.cinfo.output_height),
                  out_size, interpolation, flip);
  std::vector<uint8_t> row(static_cast<size_t>(d.cinfo.output_width) * 3);
  if (!jpeg_read_window(d, rs, row.data())) throw DecodeError(d.message());
  rs.finish(mean, std, out);
}

// ---------------------------------------------------------------------------------------
// libpng

struct PngErrorState {
  jmp_buf jump;
  char message[256];
};

void on_png_error(png_structp png, png_const_charp message) {
  auto* err = static_cast<PngErrorState*>(png_get_error_ptr(png));
  std::snprintf(err->message, sizeof err->message, "%s", message);
  longjmp(err->jump, 1);
}

// Warnings fail too: bad CRCs of ancillary chunks, extra data, anything libpng would skip.
void on_png_warning(png_structp png, png_const_charp message) { on_png_error(png, message); }

struct MemorySource {
  const uint8_t* data = nullptr;
  size_t size = 0, pos = 0;
};

void read_from_memory(png_structp png, png_bytep out, size_t length) {
  auto* src = static_cast<MemorySource*>(png_get_io_ptr(png));
  if (length > src->size - src->pos) png_error(png, "the file is truncated");
  std::memcpy(out, src->data + src->pos, length);
  src->pos += length;
}

// Ancillary chunks nobody here uses: not parsing them keeps their benign complaints (a
// known-bad sRGB profile in iCCP, say) from failing an otherwise good image. Their CRCs are
// still checked.
constexpr png_byte kIgnoredChunks[] =
    "bKGD\0cHRM\0eXIf\0gAMA\0hIST\0iCCP\0iTXt\0oFFs\0pCAL\0"
    "pHYs\0sBIT\0sCAL\0sPLT\0sRGB\0tEXt\0tIME\0zTXt";
constexpr int kNumIgnoredChunks = 17;

struct PngDecoder {
  PngErrorState err{};
  MemorySource src;
  png_structp png = nullptr;
  png_infop info = nullptr;
  PngDecoder(const uint8_t* data, size_t size) { src = {data, size, 0}; }
  ~PngDecoder() {
    if (png) png_destroy_read_struct(&png, info ? &info : nullptr, nullptr);
  }
  PngDecoder(const PngDecoder&) = delete;
  PngDecoder& operator=(const PngDecoder&) = delete;
  std::string message() const { return std::string("cannot decode PNG: ") + err.message; }
  int width() const { return static_cast<int>(png_get_image_width(png, info)); }
  int height() const { return static_cast<int>(png_get_image_height(png, info)); }
  int bit_depth() const { return png_get_bit_depth(png, info); }
  int color_type() const { return png_get_color_type(png, info); }
};

/// Reads the signature and every chunk up to the first IDAT.
bool png_open(PngDecoder& d) {
  if (setjmp(d.err.jump)) return false;
  d.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &d.err, on_png_error, on_png_warning);
  if (!d.png) {
    std::snprintf(d.err.message, sizeof d.err.message, "cannot create a libpng reader");
    return false;
  }
  d.info = png_create_info_struct(d.png);
  if (!d.info) png_error(d.png, "cannot create a libpng info struct");
  png_set_read_fn(d.png, &d.src, read_from_memory);
  png_set_keep_unknown_chunks(d.png, PNG_HANDLE_CHUNK_NEVER, kIgnoredChunks, kNumIgnoredChunks);
#ifdef PNG_IGNORE_ADLER32
  // The CRC of every IDAT chunk already covers the compressed bytes; zlib's Adler-32 of the
  // inflated pixels costs a tenth of a label map's decode for nothing more.
  png_set_option(d.png, PNG_IGNORE_ADLER32, PNG_OPTION_ON);
#endif
  png_read_info(d.png, d.info);
  return true;
}

enum class PngTarget { kRgb8, kGray };

/// Decodes every row (so a truncated or corrupt file always fails) and the chunks after.
/// kRgb8: 8-bit RGB whatever was stored; kGray: as stored (16-bit big-endian).
bool png_read_all(PngDecoder& d, PngTarget target, png_bytep* rows, size_t row_bytes) {
  if (setjmp(d.err.jump)) return false;
  if (target == PngTarget::kRgb8) {
    png_set_palette_to_rgb(d.png);
    png_set_expand_gray_1_2_4_to_8(d.png);
    png_set_strip_16(d.png);
    png_set_strip_alpha(d.png);
    png_set_gray_to_rgb(d.png);
  }
  png_set_interlace_handling(d.png);
  png_read_update_info(d.png, d.info);
  if (png_get_rowbytes(d.png, d.info) != row_bytes) png_error(d.png, "unexpected row size");
  png_read_image(d.png, rows);
  png_read_end(d.png, nullptr);
  return true;
}

void decode_png_crop(const uint8_t* data, size_t size, const PixelCrop& crop, bool flip,
                     int out_size, Interpolation interpolation, const float mean[3],
                     const float std[3], float* out) {
  PngDecoder d(data, size);
  if (!png_open(d)) throw DecodeError(d.message());
  const int width = d.width(), height = d.height();
  check_pixel_count(width, height, "PNG image");
  const size_t row_bytes = static_cast<size_t>(width) * 3;
  std::vector<uint8_t> pixels(row_bytes * height);
  std::vector<png_bytep> rows(height);
  for (int y = 0; y < height; ++y) rows[y] = pixels.data() + y * row_bytes;
  if (!png_read_all(d, PngTarget::kRgb8, rows.data(), row_bytes)) throw DecodeError(d.message());
  RgbResampler rs(crop.x0, crop.y0, crop.w, crop.h, width, height, out_size, interpolation, flip);
  for (int y = rs.row_lo(); y < rs.row_hi(); ++y) rs.add_row(y, rows[y] + 3 * rs.col_lo());
  rs.finish(mean, std, out);
}

std::string png_kind(int color_type, int bit_depth) {
  const char* kind = color_type == PNG_COLOR_TYPE_GRAY         ? "gray"
                     : color_type == PNG_COLOR_TYPE_GRAY_ALPHA ? "gray + alpha"
                     : color_type == PNG_COLOR_TYPE_PALETTE    ? "palette"
                     : color_type == PNG_COLOR_TYPE_RGB        ? "RGB"
                     : color_type == PNG_COLOR_TYPE_RGB_ALPHA  ? "RGBA"
                                                               : "unknown";
  return std::string("a ") + std::to_string(bit_depth) + "-bit " + kind + " PNG";
}

/// floor(x0 + (j + 0.5) * w / n) clamped into [0, size), for j in [0, n).
std::vector<int> nearest_indices(double x0, double w, int size, int n) {
  std::vector<int> idx(n);
  for (int j = 0; j < n; ++j)
    idx[j] = static_cast<int>(std::clamp(std::floor(x0 + (j + 0.5) * w / n), 0.0, size - 1.0));
  return idx;
}

/// out[y, x] = label at (xs[x], ys[y]), mirrored if `flip`; bytes_per_pixel 1, or 2 for a
/// big-endian 16-bit map (read here: swapping only the sampled pixels is cheaper than all).
template <int kBytes>
void gather_nearest(const uint8_t* pixels, size_t row_bytes, const std::vector<int>& xs,
                    const std::vector<int>& ys, bool flip, int64_t* out) {
  const int n = static_cast<int>(xs.size());
  for (int y = 0; y < n; ++y) {
    const uint8_t* row = pixels + static_cast<size_t>(ys[y]) * row_bytes;
    int64_t* dst = out + static_cast<size_t>(y) * n;
    for (int x = 0; x < n; ++x) {
      const uint8_t* p = row + kBytes * xs[x];
      dst[flip ? n - 1 - x : x] = kBytes == 1 ? p[0] : (p[0] << 8 | p[kBytes - 1]);
    }
  }
}

/// Whether a PNG file ends with its IEND chunk (length 0, "IEND", its fixed CRC).
bool ends_with_iend(const uint8_t* data, size_t size) {
  static const uint8_t kIend[12] = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xAE, 0x42, 0x60, 0x82};
  return size >= sizeof kIend && std::memcmp(data + size - sizeof kIend, kIend, sizeof kIend) == 0;
}

/// Reads a non-interlaced one-channel map row by row down to the last row `ys` samples (ys
/// is non-decreasing), gathering each sampled row into `out` as gather_nearest does.
bool png_read_rows_for(PngDecoder& d, uint8_t* row, size_t row_bytes, const std::vector<int>& xs,
                       const std::vector<int>& ys, int depth, bool flip, int64_t* out) {
  if (setjmp(d.err.jump)) return false;
  png_read_update_info(d.png, d.info);
  if (png_get_rowbytes(d.png, d.info) != row_bytes) png_error(d.png, "unexpected row size");
  const int n = static_cast<int>(xs.size());
  int next = 0;  // the next output row
  for (int y = 0; y <= ys[n - 1]; ++y) {
    png_read_row(d.png, row, nullptr);
    for (; next < n && ys[next] == y; ++next) {
      int64_t* dst = out + static_cast<size_t>(next) * n;
      for (int x = 0; x < n; ++x) {
        const uint8_t* p = row + (depth / 8) * xs[x];
        dst[flip ? n - 1 - x : x] = depth == 8 ? p[0] : (p[0] << 8 | p[1]);
      }
    }
  }
  // A crop down to the last row checks the rest of the file as png_read_all does.
  if (ys[n - 1] == static_cast<int>(png_get_image_height(d.png, d.info)) - 1) {
    png_read_end(d.png, nullptr);
  }
  return true;
}

// ---------------------------------------------------------------------------------------
// Encoders

struct JpegEncoder {
  jpeg_compress_struct cinfo;
  JpegErrorManager err;
  unsigned char* buffer = nullptr;  // ours, handed to jpeg_mem_dest
  JpegEncoder() {
    std::memset(&cinfo, 0, sizeof cinfo);
    init_jpeg_errors(err);
    cinfo.err = &err.base;
  }
  ~JpegEncoder() {
    jpeg_destroy_compress(&cinfo);
    std::free(buffer);
  }
  JpegEncoder(const JpegEncoder&) = delete;
  JpegEncoder& operator=(const JpegEncoder&) = delete;
};

/// On success *out / *out_size is the file: `buffer` itself, or one libjpeg grew with malloc
/// (the caller frees it too).
bool jpeg_compress(JpegEncoder& e, const uint8_t* rgb, int width, int height, int quality,
                   size_t capacity, unsigned char** out, unsigned long* out_size) {
  if (setjmp(e.err.jump)) return false;
  jpeg_create_compress(&e.cinfo);
  *out = e.buffer;
  *out_size = static_cast<unsigned long>(capacity);
  jpeg_mem_dest(&e.cinfo, out, out_size);
  e.cinfo.image_width = static_cast<JDIMENSION>(width);
  e.cinfo.image_height = static_cast<JDIMENSION>(height);
  e.cinfo.input_components = 3;
  e.cinfo.in_color_space = JCS_RGB;
  jpeg_set_defaults(&e.cinfo);
  jpeg_set_quality(&e.cinfo, quality, TRUE);
  jpeg_start_compress(&e.cinfo, TRUE);
  while (e.cinfo.next_scanline < e.cinfo.image_height) {
    // libjpeg's rows are not const, but it only reads them.
    JSAMPROW row =
        const_cast<uint8_t*>(rgb) + static_cast<size_t>(e.cinfo.next_scanline) * width * 3;
    jpeg_write_scanlines(&e.cinfo, &row, 1);
  }
  jpeg_finish_compress(&e.cinfo);
  return true;
}

struct PngEncoder {
  PngErrorState err{};
  std::vector<uint8_t> out;
  bool out_of_memory = false;
  png_structp png = nullptr;
  png_infop info = nullptr;
  ~PngEncoder() {
    if (png) png_destroy_write_struct(&png, info ? &info : nullptr);
  }
};

void write_to_vector(png_structp png, png_bytep data, size_t length) {
  auto* e = static_cast<PngEncoder*>(png_get_io_ptr(png));
  try {
    e->out.insert(e->out.end(), data, data + length);
  } catch (const std::bad_alloc&) {
    e->out_of_memory = true;  // no longjmp out of a handler: it would leak the exception
  }
  if (e->out_of_memory) png_error(png, "out of memory");
}

void flush_nothing(png_structp) {}

bool png_compress(PngEncoder& e, const void* pixels, int width, int height, int bit_depth,
                  int color_type, int channels) {
  if (setjmp(e.err.jump)) return false;
  e.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &e.err, on_png_error, on_png_warning);
  if (!e.png) {
    std::snprintf(e.err.message, sizeof e.err.message, "cannot create a libpng writer");
    return false;
  }
  e.info = png_create_info_struct(e.png);
  if (!e.info) png_error(e.png, "cannot create a libpng info struct");
  png_set_write_fn(e.png, &e, write_to_vector, flush_nothing);
  png_set_IHDR(e.png, e.info, static_cast<png_uint_32>(width), static_cast<png_uint_32>(height),
               bit_depth, color_type, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  png_write_info(e.png, e.info);
  if (bit_depth == 16 && little_endian()) png_set_swap(e.png);
  const size_t row_bytes = static_cast<size_t>(width) * channels * (bit_depth / 8);
  for (int y = 0; y < height; ++y)
    png_write_row(e.png, static_cast<png_const_bytep>(pixels) + y * row_bytes);
  png_write_end(e.png, nullptr);
  return true;
}

std::vector<uint8_t> encode_png(const void* pixels, int width, int height, int bit_depth,
                                int color_type, int channels) {
  if (!pixels || width <= 0 || height <= 0)
    throw std::invalid_argument("encode_png: expected pixels and a positive size, but got " +
                                size_text(width, height));
  PngEncoder e;
  if (!png_compress(e, pixels, width, height, bit_depth, color_type, channels))
    throw std::runtime_error(std::string("cannot encode PNG: ") + e.err.message);
  return std::move(e.out);
}

}  // namespace

ImageFormat sniff_format(const uint8_t* data, size_t size) {
  if (data && size >= sizeof kJpegMagic && std::memcmp(data, kJpegMagic, sizeof kJpegMagic) == 0)
    return ImageFormat::kJpeg;
  if (data && size >= sizeof kPngMagic && std::memcmp(data, kPngMagic, sizeof kPngMagic) == 0)
    return ImageFormat::kPng;
  return ImageFormat::kUnknown;
}

ImageInfo read_image_info(const uint8_t* data, size_t size) {
  ImageInfo info;
  info.format = sniff_format(data, size);
  if (info.format == ImageFormat::kJpeg) {
    JpegDecoder d;
    if (!jpeg_open(d, data, size)) throw DecodeError(d.message());
    info.width = static_cast<int>(d.cinfo.image_width);
    info.height = static_cast<int>(d.cinfo.image_height);
    info.channels = d.cinfo.num_components;
    info.bit_depth = 8;
  } else if (info.format == ImageFormat::kPng) {
    PngDecoder d(data, size);
    if (!png_open(d)) throw DecodeError(d.message());
    info.width = d.width();
    info.height = d.height();
    info.bit_depth = d.bit_depth();
    const int type = d.color_type();
    const bool trns = png_get_valid(d.png, d.info, PNG_INFO_tRNS) != 0;
    info.channels = type == PNG_COLOR_TYPE_GRAY         ? 1
                    : type == PNG_COLOR_TYPE_GRAY_ALPHA ? 2
                    : type == PNG_COLOR_TYPE_RGB        ? 3
                    : type == PNG_COLOR_TYPE_PALETTE    ? (trns ? 4 : 3)
                                                        : 4;
  } else {
    throw DecodeError("not a JPEG or PNG file (unknown magic bytes)");
  }
  check_pixel_count(info.width, info.height,
                    info.format == ImageFormat::kJpeg ? "JPEG image" : "PNG image");
  return info;
}

void decode_rgb_crop(const uint8_t* data, size_t size, const PixelCrop& crop, bool flip,
                     int out_size, Interpolation interpolation, const float mean[3],
                     const float std[3], float* out) {
  check_crop(crop, out_size, "decode_rgb_crop");
  switch (sniff_format(data, size)) {
    case ImageFormat::kJpeg:
      return decode_jpeg_crop(data, size, crop, flip, out_size, interpolation, mean, std, out);
    case ImageFormat::kPng:
      return decode_png_crop(data, size, crop, flip, out_size, interpolation, mean, std, out);
    default:
      throw DecodeError("not a JPEG or PNG file (unknown magic bytes)");
  }
}

void decode_label_crop(const uint8_t* data, size_t size, int expected_width, int expected_height,
                       const PixelCrop& crop, bool flip, int out_size, int64_t* out) {
  check_crop(crop, out_size, "decode_label_crop");
  const ImageFormat format = sniff_format(data, size);
  if (format != ImageFormat::kPng)
    throw DecodeError(std::string("expected a one-channel 8- or 16-bit PNG label map, got ") +
                      (format == ImageFormat::kJpeg ? "a JPEG" : "unknown magic bytes"));
  PngDecoder d(data, size);
  if (!png_open(d)) throw DecodeError(d.message());
  const int width = d.width(), height = d.height(), depth = d.bit_depth();
  // An 8-bit palette PNG (Pascal VOC's, ADE20K's masks) is read as its indices: the index
  // is the class, the palette only colours it.
  const bool gray = d.color_type() == PNG_COLOR_TYPE_GRAY && (depth == 8 || depth == 16);
  const bool palette = d.color_type() == PNG_COLOR_TYPE_PALETTE && depth == 8;
  if (!gray && !palette)
    throw DecodeError(
        "expected a one-channel 8- or 16-bit PNG label map (or an 8-bit palette "
        "PNG, read as its indices), got " +
        png_kind(d.color_type(), depth));
  if (width != expected_width || height != expected_height)
    throw DecodeError("label map is " + size_text(width, height) + " but its image is " +
                      size_text(expected_width, expected_height));
  check_pixel_count(width, height, "PNG label map");
  const size_t row_bytes = static_cast<size_t>(width) * (depth / 8);
  const std::vector<int> xs = nearest_indices(crop.x0, crop.w, width, out_size);
  const std::vector<int> ys = nearest_indices(crop.y0, crop.h, height, out_size);
  if (png_get_interlace_type(d.png, d.info) == PNG_INTERLACE_NONE && ends_with_iend(data, size)) {
    // Rows below the crop are not inflated: the file is known to be whole (it ends with its
    // IEND chunk). zlib checks every row it inflates; a chunk's CRC is checked once a read
    // passes the chunk's end, so the CRC of the chunk holding the crop's last row is checked
    // only by crops that reach further (or the last row). A label PNG's flipped bit (rare:
    // no codec here checks a JPEG at all) may thus pass in one epoch and fail in another.
    std::vector<uint8_t> row(row_bytes);
    if (!png_read_rows_for(d, row.data(), row_bytes, xs, ys, depth, flip, out))
      throw DecodeError(d.message());
    return;
  }
  std::vector<uint8_t> pixels(row_bytes * height);
  std::vector<png_bytep> rows(height);
  for (int y = 0; y < height; ++y) rows[y] = pixels.data() + y * row_bytes;
  if (!png_read_all(d, PngTarget::kGray, rows.data(), row_bytes)) throw DecodeError(d.message());
  if (depth == 8)
    gather_nearest<1>(pixels.data(), row_bytes, xs, ys, flip, out);
  else
    gather_nearest<2>(pixels.data(), row_bytes, xs, ys, flip, out);
}

DecodedImage decode_image(const uint8_t* data, size_t size) {
  const ImageInfo info = read_image_info(data, size);
  DecodedImage image;
  image.width = info.width;
  image.height = info.height;
  const size_t pixels = static_cast<size_t>(info.width) * info.height;
  if (info.format == ImageFormat::kJpeg) {
    JpegDecoder d;
    if (!jpeg_open(d, data, size) || !jpeg_start(d, 8)) throw DecodeError(d.message());
    std::vector<uint8_t> rgb(pixels * 3);
    if (!jpeg_read_all(d, rgb.data())) throw DecodeError(d.message());
    image.channels = 3;
    image.pixels.assign(rgb.begin(), rgb.end());
    return image;
  }
  PngDecoder d(data, size);
  if (!png_open(d)) throw DecodeError(d.message());
  const bool label =
      d.color_type() == PNG_COLOR_TYPE_GRAY && (d.bit_depth() == 8 || d.bit_depth() == 16);
  image.channels = label ? 1 : 3;
  const size_t bytes = label ? static_cast<size_t>(d.bit_depth() / 8) : 3;
  const size_t row_bytes = static_cast<size_t>(info.width) * bytes;
  std::vector<uint8_t> raw(row_bytes * info.height);
  std::vector<png_bytep> rows(info.height);
  for (int y = 0; y < info.height; ++y) rows[y] = raw.data() + y * row_bytes;
  if (!png_read_all(d, label ? PngTarget::kGray : PngTarget::kRgb8, rows.data(), row_bytes))
    throw DecodeError(d.message());
  image.pixels.resize(pixels * image.channels);
  if (bytes == 2) {
    for (size_t i = 0; i < pixels; ++i)
      image.pixels[i] = static_cast<uint16_t>(raw[2 * i] << 8 | raw[2 * i + 1]);
  } else {
    image.pixels.assign(raw.begin(), raw.end());
  }
  return image;
}

std::vector<uint8_t> encode_jpeg(const uint8_t* rgb, int width, int height, int quality) {
  if (!rgb || width <= 0 || height <= 0 || quality < 1 || quality > 100)
    throw std::invalid_argument(
        "encode_jpeg: expected pixels, a positive size and a quality in "
        "1..100, but got " +
        size_text(width, height) + ", quality " + std::to_string(quality));
  // A buffer of our own that is large enough in practice: libjpeg only mallocs a bigger one
  // (and would leak it on an error) when it overflows.
  const size_t capacity = static_cast<size_t>(width) * height * 3 + 65536;
  JpegEncoder e;
  e.buffer = static_cast<unsigned char*>(std::malloc(capacity));
  if (!e.buffer) throw std::bad_alloc();
  unsigned char* file = nullptr;
  unsigned long file_size = 0;
  if (!jpeg_compress(e, rgb, width, height, quality, capacity, &file, &file_size))
    throw std::runtime_error(std::string("cannot encode JPEG: ") + e.err.message);
  std::vector<uint8_t> bytes(file, file + file_size);
  if (file != e.buffer) std::free(file);
  return bytes;
}

std::vector<uint8_t> encode_png_gray(const void* gray, int width, int height, int bit_depth) {
  if (bit_depth != 8 && bit_depth != 16)
    throw std::invalid_argument("encode_png_gray: bit_depth must be 8 or 16, but got " +
                                std::to_string(bit_depth));
  return encode_png(gray, width, height, bit_depth, PNG_COLOR_TYPE_GRAY, 1);
}

std::vector<uint8_t> encode_png_rgb(const uint8_t* rgb, int width, int height) {
  return encode_png(rgb, width, height, 8, PNG_COLOR_TYPE_RGB, 3);
}

}  // namespace c2fmae::formats
