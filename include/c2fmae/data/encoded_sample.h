// One sample's files as stored (an image and two label PNGs), and how a file-backed dataset
// (folder, shards) turns them into a slot of a batch: the crop and flip are drawn once from
// the image's size and applied to all three, RGB resampled, masks nearest at the label size.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "c2fmae/data/dataset.h"

namespace c2fmae::data {

/// Byte ranges of a sample's files; a null pointer is a file that does not exist.
struct EncodedSample {
  const uint8_t* rgb = nullptr;
  size_t rgb_size = 0;
  const uint8_t* semantic = nullptr;
  size_t semantic_size = 0;
  const uint8_t* instance = nullptr;
  size_t instance_size = 0;
};

/// Decodes `sample` into `slot` with the augmentation drawn from `seed` (draw_augmentation
/// on the image's size). Throws BadSample saying what is wrong: an undecodable image, a
/// missing mask, a mask of another size than the image, a semantic id >= the class count.
void decode_sample(const EncodedSample& sample, uint64_t seed, const SampleOptions& options,
                   const SampleSlot& slot);

/// Reads a whole file into `out` (reusing its capacity). Returns false if it does not exist;
/// throws BadSample for any other failure (permissions, an I/O error), naming the OS reason.
bool read_file_into(const std::string& path, std::string& out);

}  // namespace c2fmae::data
