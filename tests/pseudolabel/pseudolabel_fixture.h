// What the pseudo-label tests share: the folder tests/pseudolabel/reference.py wrote (CTest
// fixture pseudolabel_models) and reading its expected maps.
#pragma once
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "c2fmae/formats/image_codec.h"
#include "data_fixture.h"

namespace c2fmae::testing {

/// The fixture folder: models (*.pt), images/train/<class>/<stem>.png, expected/<model>/.
inline std::string pseudolabel_fixture() {
  return std::string(C2FMAE_TEST_DATA_DIR) + "/pseudolabel";
}

/// The fixture's models and the image keys ("<class>/<stem>") it labelled.
inline const std::vector<std::string>& pseudolabel_models() {
  static const std::vector<std::string> models = {"hand", "hand_full", "lraspp", "m2f", "inst"};
  return models;
}
inline const std::vector<std::string>& pseudolabel_keys() {
  static const std::vector<std::string> keys = {"alpha/merge", "alpha/things", "alpha/small",
                                                "beta/grey",   "beta/wide",    "beta/noise",
                                                "beta/full"};
  return keys;
}

/// A label PNG's values, row-major (empty if it cannot be read).
inline formats::DecodedImage read_label_png(const std::string& path) {
  const auto bytes = read_bytes(path);
  if (bytes.empty()) return {};
  return formats::decode_image(bytes.data(), bytes.size());
}

/// expected/<model>/segments.jsonl: key -> its line.
inline std::map<std::string, std::string> expected_segment_lines(const std::string& model) {
  std::ifstream in(pseudolabel_fixture() + "/expected/" + model + "/segments.jsonl");
  std::map<std::string, std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    const auto k = line.find("\"key\": \"") + 8;
    lines[line.substr(k, line.find('"', k) - k)] = line;
  }
  return lines;
}

}  // namespace c2fmae::testing
