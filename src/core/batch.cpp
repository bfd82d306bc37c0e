#include "c2fmae/core/batch.h"

#include <torch/torch.h>

namespace c2fmae {
namespace {

template <class Fn>
Batch map_fields(const Batch& in, Fn fn) {
  auto apply = [&](const torch::Tensor& t) { return t.defined() ? fn(t) : t; };
  return Batch{apply(in.rgb), apply(in.semantic), apply(in.instance), apply(in.label),
               apply(in.mask)};
}

}  // namespace

int64_t Batch::size() const {
  for (const auto* t : {&rgb, &semantic, &instance, &label, &mask}) {
    if (t->defined()) return t->size(0);
  }
  return 0;
}

Batch Batch::to(const torch::Device& device, bool non_blocking) const {
  return map_fields(*this, [&](const torch::Tensor& t) { return t.to(device, non_blocking); });
}

Batch Batch::select(const torch::Tensor& index) const {
  return map_fields(
      *this, [&](const torch::Tensor& t) { return t.index_select(0, index.to(t.device())); });
}

}  // namespace c2fmae
