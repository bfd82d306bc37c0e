// The three granularities of an image, coarse to fine (DESIGN.md §1).
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace c2fmae {

/// Modalities in coarse-to-fine order; the order of the mask's M axis and of the decoder.
enum class Modality : int64_t { kSemantic = 0, kInstance = 1, kRgb = 2 };

constexpr int64_t kNumModalities = 3;
/// Semantic class value that marks a pixel to ignore (loss) and an unknown region.
constexpr int64_t kIgnoreClass = 255;
/// Instance id of pixels that belong to no instance.
constexpr int64_t kNoInstance = 0;
/// Instance ids are 16-bit (DESIGN.md §2: 16-bit instance PNGs): every id is below this.
constexpr int64_t kInstanceIdLimit = 65536;
/// Canonical instance ids (data/instance_ids.h) are 1..K with K at most
/// kMaxCanonicalInstances, in a uint8 map; instances past K get kInstanceOverflow, which the
/// instance loss ignores.
constexpr int64_t kMaxCanonicalInstances = 254;
constexpr int64_t kInstanceOverflow = 255;
/// Semantic and instance maps are read and predicted at 1 / kLabelDownsample of the image
/// resolution (MultiMAE: 56 x 56 for 224 px), so a patch covers (p / 4)^2 label pixels.
constexpr int64_t kLabelDownsample = 4;

/// Whether a patch of `patch_size` pixels covers whole label pixels, as a model input or a
/// mask generator that reads the maps needs; label_patch_rule() says why in words. The one
/// home of the rule: the model section, the curriculum and c2fmae_masks check it.
inline bool patch_fits_label_maps(int64_t patch_size) {
  return patch_size > 0 && patch_size % kLabelDownsample == 0;
}
inline std::string label_patch_rule() {
  return "the semantic and instance maps are read at 1/" + std::to_string(kLabelDownsample) +
         " resolution, so a patch that reads them must be a multiple of " +
         std::to_string(kLabelDownsample) + " pixels";
}

inline const char* modality_name(Modality m) {
  switch (m) {
    case Modality::kSemantic:
      return "semantic";
    case Modality::kInstance:
      return "instance";
    case Modality::kRgb:
      return "rgb";
  }
  return "?";
}

/// Parses "semantic", "instance" or "rgb"; throws std::invalid_argument otherwise.
inline Modality parse_modality(const std::string& name) {
  for (int64_t i = 0; i < kNumModalities; ++i) {
    if (name == modality_name(static_cast<Modality>(i))) return static_cast<Modality>(i);
  }
  throw std::invalid_argument("unknown modality '" + name +
                              "'\nhint: use semantic, instance or rgb");
}

}  // namespace c2fmae

namespace c2fmae {

/// One number per modality, e.g. the loss weights lambda_S, lambda_I, lambda_R.
struct ModalityWeights {
  double semantic = 1.0;
  double instance = 1.0;
  double rgb = 1.0;

  double get(Modality m) const {
    return m == Modality::kSemantic ? semantic : m == Modality::kInstance ? instance : rgb;
  }
};

}  // namespace c2fmae
