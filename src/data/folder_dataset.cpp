#include "c2fmae/data/folder_dataset.h"

#include "c2fmae/core/log.h"
#include "c2fmae/data/encoded_sample.h"

namespace c2fmae::data {

FolderDataset::FolderDataset(const std::string& root, const std::string& split)
    : index_(scan_folder(root, split)) {
  if (!index_.skipped.empty()) {
    log::warn(c10::str(root, "/", split, ": ", index_.skipped.size(),
                       " entries named as images are no file to read and are not samples "
                       "(first: ",
                       index_.skipped.front(), ")"));
  }
}

std::string FolderDataset::describe(int64_t index) const {
  return index_.samples.at(static_cast<size_t>(index)).rgb;
}

int64_t FolderDataset::load(int64_t index, uint64_t seed, const SampleOptions& options,
                            const SampleSlot& slot) const {
  const auto& s = index_.samples.at(static_cast<size_t>(index));
  // One buffer per file kind and thread, reused from sample to sample.
  thread_local std::string rgb, semantic, instance;
  EncodedSample e;
  if (read_file_into(s.rgb, rgb)) {
    e.rgb = reinterpret_cast<const uint8_t*>(rgb.data()), e.rgb_size = rgb.size();
  }
  if (options.masks) {
    if (!s.semantic.empty() && read_file_into(s.semantic, semantic)) {
      e.semantic = reinterpret_cast<const uint8_t*>(semantic.data());
      e.semantic_size = semantic.size();
    }
    if (!s.instance.empty() && read_file_into(s.instance, instance)) {
      e.instance = reinterpret_cast<const uint8_t*>(instance.data());
      e.instance_size = instance.size();
    }
  }
  try {
    decode_sample(e, seed, options, slot);
  } catch (const BadSample& bad) {
    // Name the mask file when the mask is what is wrong (the log line names the image).
    const std::string what = bad.what();
    const bool sem = what.rfind("semantic mask", 0) == 0, ins = what.rfind("instance mask", 0) == 0;
    if (sem || ins) throw BadSample(what + " (" + (sem ? s.semantic : s.instance) + ")");
    throw;
  }
  // A rare huge file must not keep its buffer for the rest of the run.
  constexpr size_t kKeep = size_t{32} << 20;
  for (auto* b : {&rgb, &semantic, &instance}) {
    if (b->capacity() > kKeep) std::string().swap(*b);
  }
  return s.label;
}

}  // namespace c2fmae::data
