#include "c2fmae/models/decoder_stage.h"

#include <torch/torch.h>

#include "c2fmae/models/block.h"
#include "c2fmae/models/cross_block.h"
#include "c2fmae/models/position_embedding.h"

namespace c2fmae::models {

DecoderStageImpl::DecoderStageImpl(const DecoderStageOptions& options_) : options(options_) {
  reset();
}

void DecoderStageImpl::reset() {
  const auto d = options.dim();
  embed = register_module("embed", torch::nn::Linear(options.encoder_dim(), d));
  mask_token = register_parameter("mask_token", torch::zeros({1, 1, d}));
  pos_embed = register_buffer(
      "pos_embed", sincos_2d_embedding(d, options.grid(), /*cls_token=*/true).unsqueeze(0));
  const auto block_opts = BlockOptions(d, options.num_heads()).mlp_ratio(options.mlp_ratio());
  cross_blocks = register_module("cross_blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < options.cross_blocks(); ++i)
    cross_blocks->push_back(CrossBlock(block_opts));
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < options.depth(); ++i) blocks->push_back(Block(block_opts));
  norm = register_module("norm", LayerNorm(d));
  head = register_module("head", torch::nn::Linear(d, options.out_dim()));
}

StageOutput DecoderStageImpl::forward(const torch::Tensor& encoded, const torch::Tensor& visible,
                                      int64_t modality, const torch::Tensor& previous) {
  const int64_t b = encoded.size(0), d = options.dim();
  const int64_t l = options.grid() * options.grid();
  auto context = at::linear(encoded, embed->weight, embed->bias);  // [B, 1 + V, d]
  // The residual stream takes the wider of the two dtypes, as torch.cat does under autocast
  // in MAE's decoder: float32 while the linear layers compute in bf16.
  const auto dtype = at::promote_types(context.scalar_type(), mask_token.scalar_type());
  auto tokens = context.to(dtype);
  // Own tokens: visible ones of modality m from the encoder, mask tokens elsewhere.
  // Tokens of other modalities land in an overflow row L and are dropped.
  auto in_stage = (visible >= modality * l) & (visible < (modality + 1) * l);
  auto slot = torch::where(in_stage, visible - modality * l, l);  // [B, V]
  auto canvas = mask_token.to(dtype)
                    .expand({b, l + 1, d})
                    .scatter(1, slot.unsqueeze(-1).expand({b, slot.size(1), d}),
                             tokens.narrow(1, 1, tokens.size(1) - 1));
  auto queries = torch::cat({tokens.narrow(1, 0, 1), canvas.narrow(1, 0, l)}, 1) +
                 pos_embed.to(dtype);  // [B, 1 + L, d]
  if (options.cross_blocks() > 0) {
    auto kv = previous.defined() ? torch::cat({tokens, previous.to(dtype)}, 1) : tokens;
    for (const auto& block : *cross_blocks) queries = block->as<CrossBlock>()->forward(queries, kv);
  }
  for (const auto& block : *blocks) queries = block->as<Block>()->forward(queries);
  auto out = at::linear(norm(queries), head->weight, head->bias);
  return {queries, out.narrow(1, 1, l)};
}

}  // namespace c2fmae::models
