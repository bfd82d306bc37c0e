#include "c2fmae/data/synthetic_shapes.h"

#include <torch/torch.h>

#include <cmath>
#include <vector>

#include "c2fmae/core/random.h"
#include "c2fmae/core/seeding.h"

namespace c2fmae::data {
namespace {

constexpr double kTwoPi = 6.283185307179586;

/// A periodic brightness modulation in [-amp, amp]: solid, stripes, checker or waves.
struct Texture {
  int kind = 0;
  double freq = 8.0, angle = 0.0, amp = 0.0;

  double at(double u, double v) const {
    const double s = u * std::cos(angle) + v * std::sin(angle);
    const double t = -u * std::sin(angle) + v * std::cos(angle);
    switch (kind) {
      case 1:
        return amp * (std::sin(kTwoPi * freq * s) > 0 ? 1.0 : -1.0);
      case 2:
        return amp * ((std::sin(kTwoPi * freq * s) > 0) == (std::sin(kTwoPi * freq * t) > 0)
                          ? 1.0
                          : -1.0);
      case 3:
        return amp * std::sin(kTwoPi * freq * s) * std::cos(kTwoPi * 0.7 * freq * t);
      default:
        return 0.0;
    }
  }
};

struct Colour {
  double r, g, b;
};

struct Stuff {
  int64_t cls;
  Colour colour;
  Texture texture;
};

struct Object {
  int64_t shape;
  double cx, cy, size, aspect, angle;
  Colour colour;
  Texture texture;
  int64_t id;

  /// Whether normalised image point (u, v) lies inside the object.
  bool contains(double u, double v) const {
    const double dx = u - cx, dy = v - cy;
    const double x = (dx * std::cos(angle) + dy * std::sin(angle)) / size;
    const double y = (-dx * std::sin(angle) + dy * std::cos(angle)) / (size * aspect);
    switch (shape) {
      case 0:
        return x * x + y * y <= 1.0;  // disc
      case 1:
        return std::abs(x) <= 0.8 && std::abs(y) <= 0.8;  // square
      case 2:
        return y <= 0.7 && y >= -0.9 && std::abs(x) <= (y + 0.9) * 0.5625;  // triangle
      case 3:
        return x * x + 4.0 * y * y <= 1.0;  // ellipse
      case 4: {                             // ring
        const double r2 = x * x + y * y;
        return r2 <= 1.0 && r2 >= 0.3;
      }
      default:  // cross
        return (std::abs(x) <= 0.3 && std::abs(y) <= 1.0) ||
               (std::abs(y) <= 0.3 && std::abs(x) <= 1.0);
    }
  }
};

struct Scene {
  Stuff top, bottom;
  bool split;
  double horizon, wave_amp, wave_freq, wave_phase;
  std::vector<Object> objects;

  const Stuff& stuff_at(double u, double v) const {
    if (!split) return top;
    return v > horizon + wave_amp * std::sin(kTwoPi * wave_freq * u + wave_phase) ? bottom : top;
  }
  /// Topmost object at (u, v), or -1.
  int topmost(double u, double v) const {
    for (int k = static_cast<int>(objects.size()) - 1; k >= 0; --k) {
      if (objects[k].contains(u, v)) return k;
    }
    return -1;
  }
};

Scene make_scene(uint64_t seed) {
  Rng rng(seed);
  auto uniform = [&](double lo, double hi) { return c2fmae::uniform(rng, lo, hi); };
  auto pick = [&](int64_t n) {
    return static_cast<int64_t>(uniform01(rng) * static_cast<double>(n)) % n;
  };
  auto colour = [&] {
    return Colour{uniform(0.05, 0.95), uniform(0.05, 0.95), uniform(0.05, 0.95)};
  };
  auto texture = [&] {
    return Texture{static_cast<int>(pick(4)), uniform(3.0, 14.0), uniform(0.0, kTwoPi / 2),
                   uniform(0.05, 0.3)};
  };
  Scene s;
  s.top = {pick(SyntheticShapes::kNumStuff), colour(), texture()};
  s.bottom = {(s.top.cls + 1 + pick(SyntheticShapes::kNumStuff - 1)) % SyntheticShapes::kNumStuff,
              colour(), texture()};
  s.split = uniform01(rng) < 0.75;
  s.horizon = uniform(0.3, 0.7);
  s.wave_amp = uniform(0.0, 0.08);
  s.wave_freq = uniform(0.5, 3.0);
  s.wave_phase = uniform(0.0, kTwoPi);
  const int64_t count = 1 + pick(5);
  std::vector<int64_t> ids;
  for (int64_t k = 0; k < count; ++k) {
    int64_t id;
    do id = 1 + pick(65535);
    while (std::find(ids.begin(), ids.end(), id) != ids.end());
    ids.push_back(id);
    s.objects.push_back(Object{pick(SyntheticShapes::kNumShapes), uniform(0.15, 0.85),
                               uniform(0.15, 0.85), uniform(0.08, 0.3), uniform(0.7, 1.4),
                               uniform(0.0, kTwoPi), colour(), texture(), id});
  }
  return s;
}

}  // namespace

const std::array<const char*, SyntheticShapes::kNumStuff>& SyntheticShapes::stuff_names() {
  static const std::array<const char*, kNumStuff> kNames = {"sky", "grass", "wall", "water"};
  return kNames;
}

const std::array<const char*, SyntheticShapes::kNumShapes>& SyntheticShapes::shape_names() {
  static const std::array<const char*, kNumShapes> kNames = {"disc",    "square", "triangle",
                                                             "ellipse", "ring",   "cross"};
  return kNames;
}

SyntheticShapes::SyntheticShapes(int64_t num_samples, uint64_t seed)
    : num_samples_(num_samples), seed_(seed) {
  TORCH_CHECK(num_samples > 0, "SyntheticShapes: num_samples must be > 0, but got ", num_samples);
}

Sample SyntheticShapes::get(int64_t index, const Augmentation& aug, int64_t size) const {
  TORCH_CHECK(index >= 0 && index < num_samples_, "SyntheticShapes: index ", index,
              " out of range [0, ", num_samples_, ")");
  const Scene scene = make_scene(mix_seed({seed_, static_cast<uint64_t>(index), 0x5A4Eu}));
  Sample out;
  out.rgb = torch::empty({3, size, size}, torch::kUInt8);
  out.semantic = torch::empty({size, size}, torch::kLong);
  out.instance = torch::empty({size, size}, torch::kLong);
  auto* rgb = out.rgb.data_ptr<uint8_t>();
  auto* sem = out.semantic.data_ptr<int64_t>();
  auto* ins = out.instance.data_ptr<int64_t>();
  const int64_t plane = size * size;
  for (int64_t i = 0; i < size; ++i) {
    const double v = aug.box.y0 + (static_cast<double>(i) + 0.5) / size * aug.box.h;
    for (int64_t j = 0; j < size; ++j) {
      const double fj = (static_cast<double>(j) + 0.5) / size;
      const double u = aug.box.x0 + (aug.flip ? 1.0 - fj : fj) * aug.box.w;
      const int k = scene.topmost(u, v);
      Colour c;
      double shade;
      if (k >= 0) {
        const auto& o = scene.objects[k];
        c = o.colour;
        shade = o.texture.at(u - o.cx, v - o.cy);
        sem[i * size + j] = kNumStuff + o.shape;
        ins[i * size + j] = o.id;
      } else {
        const auto& st = scene.stuff_at(u, v);
        c = st.colour;
        shade = st.texture.at(u, v);
        sem[i * size + j] = st.cls;
        ins[i * size + j] = 0;
      }
      auto to_byte = [&](double x) {
        return static_cast<uint8_t>(std::lround(255.0 * std::clamp(x * (1.0 + shade), 0.0, 1.0)));
      };
      rgb[i * size + j] = to_byte(c.r);
      rgb[plane + i * size + j] = to_byte(c.g);
      rgb[2 * plane + i * size + j] = to_byte(c.b);
    }
  }
  // Label: shape class of the object covering most of the whole (uncropped) image, counted
  // on a 64 x 64 grid, so every crop of an image has the same label.
  std::vector<int64_t> area(scene.objects.size(), 0);
  for (int i = 0; i < 64; ++i) {
    for (int j = 0; j < 64; ++j) {
      const int k = scene.topmost((j + 0.5) / 64.0, (i + 0.5) / 64.0);
      if (k >= 0) ++area[k];
    }
  }
  const auto best = std::max_element(area.begin(), area.end()) - area.begin();
  out.label = scene.objects[best].shape;
  return out;
}

std::string SyntheticShapes::describe(int64_t index) const {
  return c10::str("synthetic sample ", index);
}

int64_t SyntheticShapes::load(int64_t index, uint64_t seed, const SampleOptions& options,
                              const SampleSlot& slot) const {
  const auto aug = draw_augmentation(seed, 1.0, 1.0, options.augmentation);
  const auto s = get(index, aug, options.img_size);
  const int64_t size = options.img_size, plane = size * size;
  const auto* rgb = s.rgb.data_ptr<uint8_t>();
  for (int64_t c = 0; c < 3; ++c) {
    for (int64_t k = 0; k < plane; ++k) {
      slot.rgb[c * plane + k] =
          (static_cast<float>(rgb[c * plane + k]) / 255.0f - kImageNetMean[c]) / kImageNetStd[c];
    }
  }
  if (options.masks) {
    // The label resolution takes every (size / label_size)-th pixel, as downsample_labels.
    TORCH_CHECK(options.label_size > 0 && size % options.label_size == 0,
                "SyntheticShapes: label size ", options.label_size, " does not divide ", size);
    const int64_t step = size / options.label_size, n = options.label_size;
    const auto* sem = s.semantic.data_ptr<int64_t>();
    const auto* ins = s.instance.data_ptr<int64_t>();
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        slot.semantic[i * n + j] = sem[i * step * size + j * step];
        slot.instance[i * n + j] = ins[i * step * size + j * step];
      }
    }
  }
  return s.label;
}

}  // namespace c2fmae::data
