// A per-image hierarchy of patch groups parsed from a patch affinity, after "Evolved
// Hierarchical Masking" (Feng & Zhang, arXiv 2504.09155), whose code is not public.
//
// Merge rule (ours; documented in docs/MASKING.md). The affinity A ([L, L], e.g. the EMA
// encoder's attention summed over blocks and heads) is made symmetric, S = (A + A^T) / 2.
// Every patch starts as its own group. Repeatedly, of all pairs of groups that touch on the
// patch grid (4-neighbourhood), the pair with the highest average linkage
//
//     s(a, b) = sum_{i in a, j in b} S_ij / (|a| |b|)
//
// is merged (ties: the pair with the lower smaller index, then the lower larger index),
// until one group is left: L - 1 merges, a binary tree over the patches. Level K is the
// partition with K groups (after L - K merges), so the groups of a coarser level are unions
// of groups of every finer one. Groups stay connected on the grid. Average linkage, unlike
// single linkage, does not chain one object into its neighbours through one strong pair.
//
//   AffinityHierarchy tree(affinity[i], grid);   // [L, L] float, L = grid * grid
//   auto groups = tree.level(10);                // [L] group ids 0..9, by first patch
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <utility>
#include <vector>

namespace c2fmae::masking {

class AffinityHierarchy {
 public:
  /// affinity: [L, L] float (any floating dtype, CPU), L = grid * grid, finite.
  /// Throws std::invalid_argument for another shape or a non-finite value.
  AffinityHierarchy(const torch::Tensor& affinity, int64_t grid);

  int64_t num_patches() const { return num_patches_; }
  /// The merges in order: (kept group, absorbed group), each named by its smallest patch.
  const std::vector<std::pair<int64_t, int64_t>>& merges() const { return merges_; }
  /// The partition with `groups` groups (clamped to [1, L]): [L] ids 0..groups-1, numbered
  /// in the order of each group's first patch (row-major).
  std::vector<int64_t> level(int64_t groups) const;

 private:
  int64_t num_patches_;
  std::vector<std::pair<int64_t, int64_t>> merges_;
};

/// The level a schedule asks for: round(start + (end - start) * progress), clamped to
/// [1, L] (EPM: start 40, end 10).
int64_t scheduled_level(int64_t start, int64_t end, double progress, int64_t num_patches);

}  // namespace c2fmae::masking
