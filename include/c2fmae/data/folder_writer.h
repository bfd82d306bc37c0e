// Writes samples in the folder layout of DESIGN.md §2 (MultiMAE's pseudo-labelled
// ImageNet): root/<split>/{rgb,semseg,instance}/<class>/<name>.{JPEG,png}, RGB as JPEG,
// the semantic mask as an 8-bit PNG, the instance mask as a 16-bit PNG.
#pragma once
#include <string>

#include "c2fmae/data/sample.h"

namespace c2fmae::data {

/// Writes one sample under `root`/`split` in class folder `class_name` as `name`.
void write_folder_sample(const std::string& root, const std::string& split,
                         const std::string& class_name, const std::string& name,
                         const Sample& sample, int jpeg_quality = 95);

}  // namespace c2fmae::data
