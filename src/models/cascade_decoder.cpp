#include "c2fmae/models/cascade_decoder.h"

#include <torch/torch.h>

namespace c2fmae::models {

CascadeDecoderImpl::CascadeDecoderImpl(const CascadeDecoderOptions& options_) : options(options_) {
  reset();
}

void CascadeDecoderImpl::reset() {
  stages = register_module("stages", torch::nn::ModuleList());
  for (const auto& stage : options.stages()) stages->push_back(DecoderStage(stage));
}

std::vector<torch::Tensor> CascadeDecoderImpl::forward(const torch::Tensor& encoded,
                                                       const torch::Tensor& visible,
                                                       const std::vector<torch::Tensor>& rows) {
  TORCH_CHECK(rows.empty() || rows.size() == stages->size(), "CascadeDecoder: ", rows.size(),
              " row sets for ", stages->size(), " stages");
  std::vector<torch::Tensor> predictions;
  torch::Tensor previous;
  for (size_t m = 0; m < stages->size(); ++m) {
    auto out = stages[m]->as<DecoderStage>()->forward(
        encoded, visible, static_cast<int64_t>(m), options.cascade() ? previous : torch::Tensor(),
        rows.empty() ? torch::Tensor() : rows[m]);
    previous = out.tokens;
    predictions.push_back(out.prediction);
  }
  return predictions;
}

}  // namespace c2fmae::models
