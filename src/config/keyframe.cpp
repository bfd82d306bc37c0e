#include "c2fmae/config/keyframe.h"

#include <cmath>
#include <limits>

namespace c2fmae::config {

double Keyframe::weight(const std::string& name) const {
  for (const auto& [n, w] : generators) {
    if (n == name) return w;
  }
  return 0.0;
}

double Keyframe::total_weight() const {
  double sum = 0.0;
  for (const auto& g : generators) sum += g.second;
  return sum;
}

double Keyframe::loss_weight(Modality m) const {
  for (const auto& [mod, w] : loss_weights) {
    if (mod == m) return w;
  }
  return std::numeric_limits<double>::quiet_NaN();
}

bool Keyframe::operator==(const Keyframe& o) const {
  return at == o.at && generators == o.generators && loss_weights == o.loss_weights;
}

std::string loss_weight_key(Modality m) {
  return std::string(kLossWeightKeyPrefix) + modality_name(m);
}

}  // namespace c2fmae::config
