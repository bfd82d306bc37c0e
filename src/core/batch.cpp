#include "c2fmae/core/batch.h"

#include <torch/torch.h>

namespace c2fmae {
namespace {

template <class Fn>
Batch map_fields(const Batch& in, Fn fn) {
  auto apply = [&](const torch::Tensor& t) { return t.defined() ? fn(t) : t; };
  Batch out;
  out.rgb = apply(in.rgb);
  out.semantic = apply(in.semantic);
  out.instance = apply(in.instance);
  out.label = apply(in.label);
  out.target = apply(in.target);
  out.mask = apply(in.mask);
  out.position = apply(in.position);
  out.slot_order = apply(in.slot_order);
  return out;
}

}  // namespace

int64_t Batch::size() const {
  for (const auto* t : {&rgb, &semantic, &instance, &label, &mask}) {
    if (t->defined()) return t->size(0);
  }
  return 0;
}

Batch Batch::to(const torch::Device& device, bool non_blocking) const {
  auto move = [&](const torch::Tensor& t) { return t.defined() ? t.to(device, non_blocking) : t; };
  auto out = map_fields(*this, move);
  out.visible = move(visible);
  out.data_skipped = data_skipped;
  for (const auto& rows : masked) out.masked.push_back(move(rows));
  return out;
}

Batch Batch::select(const torch::Tensor& index) const {
  return map_fields(
      *this, [&](const torch::Tensor& t) { return t.index_select(0, index.to(t.device())); });
}

}  // namespace c2fmae
