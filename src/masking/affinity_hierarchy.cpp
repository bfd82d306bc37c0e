#include "c2fmae/masking/affinity_hierarchy.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>

namespace c2fmae::masking {

AffinityHierarchy::AffinityHierarchy(const torch::Tensor& affinity, int64_t grid)
    : num_patches_(grid * grid) {
  const int64_t l = num_patches_;
  if (grid < 1 || affinity.dim() != 2 || affinity.size(0) != l || affinity.size(1) != l) {
    throw std::invalid_argument(c10::str("affinity hierarchy: expected a [", l, ", ", l,
                                         "] affinity, got ", affinity.sizes()));
  }
  auto a = affinity.to(torch::kCPU, torch::kDouble).contiguous();
  if (!torch::isfinite(a).all().item<bool>()) {
    throw std::invalid_argument("affinity hierarchy: the affinity has non-finite values");
  }
  a = (a + a.t()) * 0.5;
  // sum[a * l + b]: the sum of S over the patch pairs of groups a and b (groups named by
  // their smallest patch); rows of absorbed groups are left behind.
  std::vector<double> sum(a.data_ptr<double>(), a.data_ptr<double>() + l * l);
  std::vector<int64_t> size(static_cast<size_t>(l), 1);
  std::vector<bool> alive(static_cast<size_t>(l), true);
  // Neighbour lists of the live groups (sorted, unique).
  std::vector<std::vector<int64_t>> next(static_cast<size_t>(l));
  for (int64_t p = 0; p < l; ++p) {
    const int64_t r = p / grid, c = p % grid;
    auto& n = next[static_cast<size_t>(p)];
    if (r > 0) n.push_back(p - grid);
    if (c > 0) n.push_back(p - 1);
    if (c + 1 < grid) n.push_back(p + 1);
    if (r + 1 < grid) n.push_back(p + grid);
  }
  merges_.reserve(static_cast<size_t>(l - 1));
  for (int64_t step = 0; step + 1 < l; ++step) {
    int64_t best_a = -1, best_b = -1;
    double best = -std::numeric_limits<double>::infinity();
    for (int64_t g = 0; g < l; ++g) {
      if (!alive[static_cast<size_t>(g)]) continue;
      for (const int64_t h : next[static_cast<size_t>(g)]) {
        if (h <= g) continue;  // each pair once, as (smaller, larger)
        const double s =
            sum[static_cast<size_t>(g * l + h)] /
            static_cast<double>(size[static_cast<size_t>(g)] * size[static_cast<size_t>(h)]);
        if (s > best) best = s, best_a = g, best_b = h;  // strict: ties keep the lower pair
      }
    }
    // The grid is connected, so some pair touches until one group is left.
    const int64_t keep = best_a, gone = best_b;
    merges_.emplace_back(keep, gone);
    for (int64_t g = 0; g < l; ++g) {
      sum[static_cast<size_t>(keep * l + g)] += sum[static_cast<size_t>(gone * l + g)];
    }
    for (int64_t g = 0; g < l; ++g) {
      sum[static_cast<size_t>(g * l + keep)] = sum[static_cast<size_t>(keep * l + g)];
    }
    size[static_cast<size_t>(keep)] += size[static_cast<size_t>(gone)];
    alive[static_cast<size_t>(gone)] = false;
    auto& nk = next[static_cast<size_t>(keep)];
    for (const int64_t h : next[static_cast<size_t>(gone)]) {
      if (h == keep) continue;
      nk.push_back(h);
      auto& nh = next[static_cast<size_t>(h)];
      std::replace(nh.begin(), nh.end(), gone, keep);
      std::sort(nh.begin(), nh.end());
      nh.erase(std::unique(nh.begin(), nh.end()), nh.end());
    }
    nk.erase(std::remove(nk.begin(), nk.end(), gone), nk.end());
    std::sort(nk.begin(), nk.end());
    nk.erase(std::unique(nk.begin(), nk.end()), nk.end());
    next[static_cast<size_t>(gone)].clear();
  }
}

std::vector<int64_t> AffinityHierarchy::level(int64_t groups) const {
  const int64_t l = num_patches_;
  groups = std::clamp<int64_t>(groups, 1, l);
  // Union-find over the first L - groups merges.
  std::vector<int64_t> parent(static_cast<size_t>(l));
  std::iota(parent.begin(), parent.end(), 0);
  auto find = [&](int64_t x) {
    while (parent[static_cast<size_t>(x)] != x) {
      parent[static_cast<size_t>(x)] = parent[static_cast<size_t>(parent[static_cast<size_t>(x)])];
      x = parent[static_cast<size_t>(x)];
    }
    return x;
  };
  for (int64_t k = 0; k < l - groups; ++k) {
    const auto [keep, gone] = merges_[static_cast<size_t>(k)];
    parent[static_cast<size_t>(find(gone))] = find(keep);
  }
  std::vector<int64_t> id(static_cast<size_t>(l), -1), out(static_cast<size_t>(l));
  int64_t next_id = 0;
  for (int64_t p = 0; p < l; ++p) {
    auto& root_id = id[static_cast<size_t>(find(p))];
    if (root_id < 0) root_id = next_id++;
    out[static_cast<size_t>(p)] = root_id;
  }
  return out;
}

int64_t scheduled_level(int64_t start, int64_t end, double progress, int64_t num_patches) {
  const double t = std::clamp(progress, 0.0, 1.0);
  const auto k = static_cast<int64_t>(
      std::llround(static_cast<double>(start) + static_cast<double>(end - start) * t));
  return std::clamp<int64_t>(k, 1, num_patches);
}

}  // namespace c2fmae::masking
