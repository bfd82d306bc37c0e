#include "c2fmae/data/encoded_sample.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "c2fmae/core/modality.h"

namespace c2fmae::data {
namespace {

std::string what_of(const char* part, const std::exception& e) {
  return std::string(part) + ": " + e.what();
}

}  // namespace

void decode_sample(const EncodedSample& sample, uint64_t seed, const SampleOptions& options,
                   const SampleSlot& slot) {
  if (sample.rgb == nullptr) throw BadSample("image: missing");
  formats::ImageInfo info;
  try {
    info = formats::read_image_info(sample.rgb, sample.rgb_size);
  } catch (const formats::DecodeError& e) {
    throw BadSample(what_of("image", e));
  }
  if (info.format == formats::ImageFormat::kJpeg) {
    // The decoder stops below the crop, so it would see a cut only when the crop reaches it:
    // a JPEG that does not end with its end-of-image marker (zero padding aside) is bad in
    // every epoch, not just in those whose crop reaches the cut.
    size_t end = sample.rgb_size;
    while (end > 2 && sample.rgb[end - 1] == 0) --end;
    if (end < 2 || sample.rgb[end - 2] != 0xFF || sample.rgb[end - 1] != 0xD9) {
      throw BadSample("image: truncated JPEG (it does not end with the end-of-image marker)");
    }
  }
  const auto aug = draw_augmentation(seed, info.width, info.height, options.augmentation);
  const formats::PixelCrop crop{aug.box.x0 * info.width, aug.box.y0 * info.height,
                                aug.box.w * info.width, aug.box.h * info.height};
  try {
    formats::decode_rgb_crop(sample.rgb, sample.rgb_size, crop, aug.flip,
                             static_cast<int>(options.img_size), options.interpolation,
                             kImageNetMean, kImageNetStd, slot.rgb);
  } catch (const formats::DecodeError& e) {
    throw BadSample(what_of("image", e));
  }
  if (!options.masks) return;
  const auto n = static_cast<int>(options.label_size);
  auto decode_mask = [&](const char* part, const uint8_t* data, size_t size, int64_t* out) {
    if (data == nullptr) throw BadSample(std::string(part) + ": missing");
    try {
      formats::decode_label_crop(data, size, info.width, info.height, crop, aug.flip, n, out);
    } catch (const formats::DecodeError& e) {
      throw BadSample(what_of(part, e));
    }
  };
  decode_mask("semantic mask", sample.semantic, sample.semantic_size, slot.semantic);
  decode_mask("instance mask", sample.instance, sample.instance_size, slot.instance);
  if (options.num_semantic_classes > 0) {
    // Only the pixels the crop reads are checked: what training would see.
    for (int64_t k = 0; k < int64_t{n} * n; ++k) {
      const int64_t id = slot.semantic[k];
      if (id >= options.num_semantic_classes && id != kIgnoreClass) {
        throw BadSample("semantic mask: class id " + std::to_string(id) +
                        " >= " + std::to_string(options.num_semantic_classes) +
                        " classes (model.num_semantic_classes; " + std::to_string(kIgnoreClass) +
                        " = ignore)");
      }
    }
  }
}

bool read_file_into(const std::string& path, std::string& out) {
  // Without blocking: a FIFO in place of a file must not hang the loader (it is refused
  // below as not a regular file).
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return false;
    throw BadSample(path + ": " + std::strerror(errno));
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw BadSample(path + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) throw BadSample(path + ": not a regular file");
  if (static_cast<uint64_t>(st.st_size) > formats::kMaxSampleFileBytes) {
    throw BadSample(path + ": " + std::to_string(st.st_size) + " bytes, larger than any image (" +
                    std::to_string(formats::kMaxSampleFileBytes >> 20) + " MiB at most)");
  }
  out.resize(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < out.size()) {
    const auto n = ::read(fd, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw BadSample(path + ": " + std::strerror(errno));
    if (n == 0) break;  // shrank while reading: decode what is there (it will fail if cut)
    done += static_cast<size_t>(n);  // (a file that grows is read up to its size at fstat)
  }
  out.resize(done);
  return true;
}

}  // namespace c2fmae::data
