// bf16 autocast on CUDA around a forward pass and its loss: the engines' mixed precision
// (train.precision = bf16), as torch.autocast("cuda", dtype=torch.bfloat16) in MAE's scripts.
#pragma once

namespace c2fmae::train {

/// bf16 autocast on CUDA for the forward pass and the loss, while it lives.
class AutocastScope {
 public:
  explicit AutocastScope(bool enabled);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool enabled_;
};

}  // namespace c2fmae::train
