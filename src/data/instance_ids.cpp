#include "c2fmae/data/instance_ids.h"

#include <torch/torch.h>

#include <algorithm>
#include <unordered_map>
#include <vector>

#include "c2fmae/core/modality.h"

namespace c2fmae::data {

torch::Tensor canonical_instance_ids(const torch::Tensor& ids, int64_t max_instances) {
  TORCH_CHECK(ids.dim() == 2 || ids.dim() == 3,
              "canonical_instance_ids: expected [H, W] or [B, H, W], but got ", ids.sizes());
  TORCH_CHECK(max_instances >= 1 && max_instances <= kMaxCanonicalInstances,
              "canonical_instance_ids: max_instances must be in 1..", kMaxCanonicalInstances,
              ", but got ", max_instances);
  const auto in = (ids.dim() == 2 ? ids.unsqueeze(0) : ids).to(torch::kLong).contiguous();
  const int64_t b = in.size(0), n = in.size(1) * in.size(2);
  auto out = torch::empty(in.sizes(), torch::kUInt8);
  const auto* src = in.data_ptr<int64_t>();
  auto* dst = out.data_ptr<uint8_t>();
  struct Region {
    int64_t area = 0;
    int64_t first = 0;
    uint8_t canonical = static_cast<uint8_t>(kInstanceOverflow);
  };
  std::unordered_map<int64_t, Region> regions;
  std::vector<std::pair<int64_t, Region*>> order;
  for (int64_t s = 0; s < b; ++s) {
    const int64_t* row = src + s * n;
    regions.clear();
    for (int64_t i = 0; i < n; ++i) {
      if (row[i] == kNoInstance) continue;
      auto [it, fresh] = regions.try_emplace(row[i]);
      if (fresh) it->second.first = i;
      ++it->second.area;
    }
    order.clear();
    for (auto& [id, region] : regions) order.emplace_back(id, &region);
    std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
      return a.second->area != b.second->area ? a.second->area > b.second->area
                                              : a.second->first < b.second->first;
    });
    const auto kept = std::min<int64_t>(max_instances, static_cast<int64_t>(order.size()));
    for (int64_t k = 0; k < kept; ++k) order[k].second->canonical = static_cast<uint8_t>(k + 1);
    uint8_t* out_row = dst + s * n;
    for (int64_t i = 0; i < n; ++i) {
      out_row[i] = row[i] == kNoInstance ? static_cast<uint8_t>(kNoInstance)
                                         : regions.find(row[i])->second.canonical;
    }
  }
  return ids.dim() == 2 ? out.squeeze(0) : out;
}

}  // namespace c2fmae::data
