#include "c2fmae/data/synthetic_shapes.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "c2fmae/core/random.h"
#include "c2fmae/core/seeding.h"

namespace c2fmae::data {
namespace {

constexpr double kTwoPi = 6.283185307179586;

/// A brightness modulation in [-amp, amp]. Object textures (kinds 0-3: solid, stripes,
/// checker, waves) are drawn independently of the shape; the stuff textures (kinds 4-7) each
/// belong to one stuff class, as sky is smooth and grass is textured in photographs.
/// A rotation by a fixed angle, its cosine and sine computed once (every pixel applies it).
struct Rotation {
  double cos_a = 1.0, sin_a = 0.0;

  Rotation() = default;
  explicit Rotation(double angle) : cos_a(std::cos(angle)), sin_a(std::sin(angle)) {}
  /// (x, y) rotated by -angle: the point in the rotated frame's coordinates.
  std::pair<double, double> into_frame(double x, double y) const {
    return {x * cos_a + y * sin_a, -x * sin_a + y * cos_a};
  }
};

struct Texture {
  enum Kind { kSolid, kStripes, kChecker, kWaves, kGradient, kBlades, kBricks, kRipples };
  int kind = kSolid;
  double freq = 8.0, amp = 0.0;
  Rotation rotation;  ///< the pattern's angle

  Texture() = default;
  Texture(int kind_in, double freq_in, double angle, double amp_in)
      : kind(kind_in), freq(freq_in), amp(amp_in), rotation(angle) {}

  double at(double u, double v) const {
    const auto [s, t] = rotation.into_frame(u, v);
    switch (kind) {
      case kStripes:
        return amp * (std::sin(kTwoPi * freq * s) > 0 ? 1.0 : -1.0);
      case kChecker:
        return amp * ((std::sin(kTwoPi * freq * s) > 0) == (std::sin(kTwoPi * freq * t) > 0)
                          ? 1.0
                          : -1.0);
      case kWaves:
        return amp * std::sin(kTwoPi * freq * s) * std::cos(kTwoPi * 0.7 * freq * t);
      case kGradient:  // sky: brighter towards the top, no texture
        return amp * (0.5 - v);
      case kBlades: {  // grass: thin, near-vertical blades with a coarser tuft pattern
        const double blade = std::sin(kTwoPi * freq * (u + 0.04 * std::sin(kTwoPi * 3.0 * v)));
        return amp * (0.7 * blade + 0.3 * std::sin(kTwoPi * 0.37 * freq * v + 2.0 * u));
      }
      case kBricks: {  // wall: rows of bricks, every other row offset by half a brick
        const double rows = freq, row = std::floor(v * rows);
        const double x = u * rows * 0.5 + (static_cast<int64_t>(row) % 2 ? 0.5 : 0.0);
        const double fy = v * rows - row, fx = x - std::floor(x);
        const bool mortar = fy < 0.12 || fx < 0.06;
        return mortar ? -amp : amp * 0.35;
      }
      case kRipples:  // water: horizontal ripples that wander
        return amp * std::sin(kTwoPi * freq * v + 1.5 * std::sin(kTwoPi * 2.0 * u));
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
  double cx, cy, size, aspect;
  Colour colour;
  Texture texture;
  int64_t id;
  Rotation rotation;  ///< the object's angle

  Object(int64_t shape_in, double cx_in, double cy_in, double size_in, double aspect_in,
         double angle, Colour colour_in, Texture texture_in, int64_t id_in)
      : shape(shape_in),
        cx(cx_in),
        cy(cy_in),
        size(size_in),
        aspect(aspect_in),
        colour(colour_in),
        texture(texture_in),
        id(id_in),
        rotation(angle) {}

  /// Whether normalised image point (u, v) lies inside the object.
  bool contains(double u, double v) const {
    const auto [rx, ry] = rotation.into_frame(u - cx, v - cy);
    const double x = rx / size;
    const double y = ry / (size * aspect);
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

/// The 64 x 64 grid on which the label is counted (the whole, uncropped image).
constexpr int kLabelGrid = 64;

struct Scene {
  Stuff top, bottom;
  bool split;
  double horizon, wave_amp, wave_freq, wave_phase;
  std::vector<Object> objects;
  int64_t labelled = 0;                   ///< the object whose shape is the label
  double label_cx = 0.5, label_cy = 0.5;  ///< centre of its visible pixels

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

/// Stuff class `cls` with its own colour range and texture family: sky light blue and
/// smooth, grass green with blades, wall brick red-grey with bricks, water deep blue-green
/// with ripples. Within a class the colour varies (+-0.1 per channel), so colour alone
/// mostly, and colour with texture surely, tells the class.
Stuff make_stuff(Rng& rng, int64_t cls) {
  auto uniform = [&](double lo, double hi) { return c2fmae::uniform(rng, lo, hi); };
  auto near = [&](double r, double g, double b) {
    return Colour{r + uniform(-0.1, 0.1), g + uniform(-0.1, 0.1), b + uniform(-0.1, 0.1)};
  };
  switch (cls) {
    case 0:  // sky
      return {cls, near(0.55, 0.72, 0.92),
              Texture{Texture::kGradient, 1.0, 0.0, uniform(0.2, 0.4)}};
    case 1:  // grass
      return {cls, near(0.25, 0.58, 0.18),
              Texture{Texture::kBlades, uniform(22.0, 30.0), 0.0, uniform(0.2, 0.35)}};
    case 2:  // wall
      return {cls, near(0.62, 0.42, 0.36),
              Texture{Texture::kBricks, uniform(8.0, 11.0), 0.0, uniform(0.25, 0.4)}};
    default:  // water
      return {cls, near(0.12, 0.32, 0.48),
              Texture{Texture::kRipples, uniform(9.0, 14.0), 0.0, uniform(0.2, 0.35)}};
  }
}

/// Visible pixels of each object on the label grid, and their centres.
std::vector<int64_t> visible_areas(const Scene& s, std::vector<double>* cx = nullptr,
                                   std::vector<double>* cy = nullptr) {
  std::vector<int64_t> area(s.objects.size(), 0);
  if (cx) cx->assign(s.objects.size(), 0.0);
  if (cy) cy->assign(s.objects.size(), 0.0);
  for (int i = 0; i < kLabelGrid; ++i) {
    for (int j = 0; j < kLabelGrid; ++j) {
      const double u = (j + 0.5) / kLabelGrid, v = (i + 0.5) / kLabelGrid;
      const int k = s.topmost(u, v);
      if (k < 0) continue;
      ++area[k];
      if (cx) (*cx)[k] += u, (*cy)[k] += v;
    }
  }
  return area;
}

/// The least ratio of the labelled object's visible area to the runner-up's, and its least
/// share of the image: below either the label would be a guess, and the scene is redrawn.
constexpr double kLabelMargin = 1.5;
constexpr double kLabelMinShare = 0.03;

/// Scene of sample `index`: its label is index mod kNumShapes (balanced), and scenes are
/// drawn from the sample's seed until the object with the largest visible area has that
/// shape, covers at least kLabelMinShare of the image and at least kLabelMargin times the
/// runner-up's visible area.
Scene make_scene(uint64_t seed, int64_t label) {
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
  for (;;) {
    Scene s;
    const int64_t top = pick(SyntheticShapes::kNumStuff);
    s.top = make_stuff(rng, top);
    s.bottom = make_stuff(
        rng, (top + 1 + pick(SyntheticShapes::kNumStuff - 1)) % SyntheticShapes::kNumStuff);
    s.split = uniform01(rng) < 0.75;
    s.horizon = uniform(0.3, 0.7);
    s.wave_amp = uniform(0.0, 0.08);
    s.wave_freq = uniform(0.5, 3.0);
    s.wave_phase = uniform(0.0, kTwoPi);
    const int64_t count = 1 + pick(5), carrier = pick(count);
    std::vector<int64_t> ids;
    for (int64_t k = 0; k < count; ++k) {
      int64_t id;
      do id = 1 + pick(65535);
      while (std::find(ids.begin(), ids.end(), id) != ids.end());
      ids.push_back(id);
      // One object, at a random depth, has the label's shape; the visible areas decide.
      const int64_t shape = k == carrier ? label : pick(SyntheticShapes::kNumShapes);
      s.objects.push_back(Object{shape, uniform(0.15, 0.85), uniform(0.15, 0.85),
                                 uniform(0.08, 0.3), uniform(0.7, 1.4), uniform(0.0, kTwoPi),
                                 colour(), texture(), id});
    }
    std::vector<double> cx, cy;
    auto area = visible_areas(s, &cx, &cy);
    const auto best = std::max_element(area.begin(), area.end()) - area.begin();
    int64_t runner_up = 0;
    for (size_t k = 0; k < area.size(); ++k) {
      if (static_cast<int64_t>(k) != best) runner_up = std::max(runner_up, area[k]);
    }
    const bool clear = s.objects[best].shape == label &&
                       area[best] >= kLabelMinShare * kLabelGrid * kLabelGrid &&
                       area[best] >= kLabelMargin * static_cast<double>(runner_up);
    if (!clear) continue;
    s.labelled = best;
    s.label_cx = cx[best] / static_cast<double>(area[best]);
    s.label_cy = cy[best] / static_cast<double>(area[best]);
    return s;
  }
}

/// A training crop that would cut the labelled object out is moved (same size) to centre
/// on it: the crop's label stays the image's.
CropBox keep_label_in_crop(const Scene& s, CropBox box) {
  if (box.w >= 1.0 && box.h >= 1.0) return box;
  auto inside = [&](double u, double v) {
    return u >= box.x0 && u <= box.x0 + box.w && v >= box.y0 && v <= box.y0 + box.h;
  };
  int64_t total = 0, kept = 0;
  for (int i = 0; i < kLabelGrid; ++i) {
    for (int j = 0; j < kLabelGrid; ++j) {
      const double u = (j + 0.5) / kLabelGrid, v = (i + 0.5) / kLabelGrid;
      if (s.topmost(u, v) != s.labelled) continue;
      ++total;
      if (inside(u, v)) ++kept;
    }
  }
  if (total == 0 || kept * 2 >= total) return box;
  box.x0 = std::clamp(s.label_cx - box.w / 2, 0.0, 1.0 - box.w);
  box.y0 = std::clamp(s.label_cy - box.h / 2, 0.0, 1.0 - box.h);
  return box;
}

}  // namespace

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
  return render(index, aug, size, /*keep_label=*/false);
}

Sample SyntheticShapes::render(int64_t index, Augmentation aug, int64_t size,
                               bool keep_label) const {
  const int64_t label = index % kNumShapes;
  const Scene scene = make_scene(mix_seed({seed_, static_cast<uint64_t>(index), 0x5A4Eu}), label);
  if (keep_label) aug.box = keep_label_in_crop(scene, aug.box);
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
  // The label is the shape of the object covering most of the whole (uncropped) image,
  // clearly (make_scene), so every crop of an image has the same label.
  out.label = label;
  return out;
}

std::string SyntheticShapes::describe(int64_t index) const {
  return c10::str("synthetic sample ", index);
}

int64_t SyntheticShapes::load(int64_t index, uint64_t seed, const SampleOptions& options,
                              const SampleSlot& slot) const {
  const auto aug = draw_augmentation(seed, 1.0, 1.0, options.augmentation);
  const auto s = render(index, aug, options.img_size, /*keep_label=*/true);
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
