#include "c2fmae/models/decoder_stage.h"

#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#include "c2fmae/models/block.h"
#include "c2fmae/models/cross_block.h"
#include "c2fmae/models/position_embedding.h"

namespace c2fmae::models {
namespace {

/// Autocast off (on CUDA) while it lives, for a stage computed in fp32.
class AutocastOff {
 public:
  explicit AutocastOff(bool active)
      : active_(active && at::autocast::is_autocast_enabled(at::kCUDA)) {
    if (active_) at::autocast::set_autocast_enabled(at::kCUDA, false);
  }
  ~AutocastOff() {
    if (active_) at::autocast::set_autocast_enabled(at::kCUDA, true);
  }
  AutocastOff(const AutocastOff&) = delete;
  AutocastOff& operator=(const AutocastOff&) = delete;

 private:
  bool active_;
};

}  // namespace

DecoderStageImpl::DecoderStageImpl(const DecoderStageOptions& options_) : options(options_) {
  reset();
}

void DecoderStageImpl::reset() {
  const auto d = options.dim();
  embed = register_module("embed", torch::nn::Linear(options.encoder_dim(), d));
  mask_token = register_parameter("mask_token", torch::zeros({1, 1, d}));
  pos_embed = register_buffer(
      "pos_embed", sincos_2d_embedding(d, options.grid(), /*cls_token=*/true).unsqueeze(0));
  if (options.cross_blocks() > 0) {
    context_embed =
        register_parameter("context_embed", torch::zeros({options.num_modalities(), d}));
    if (options.has_previous()) {
      previous_embed = register_parameter("previous_embed", torch::zeros({1, 1, d}));
    }
  }
  const auto block_opts = BlockOptions(d, options.num_heads()).mlp_ratio(options.mlp_ratio());
  cross_blocks = register_module("cross_blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < options.cross_blocks(); ++i) {
    cross_blocks->push_back(CrossBlock(block_opts, options.cross_residual()));
  }
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < options.depth(); ++i) blocks->push_back(Block(block_opts));
  if (options.final_norm()) norm = register_module("norm", LayerNorm(d));
  head = register_module("head", torch::nn::Linear(d, options.out_dim()));
}

StageOutput DecoderStageImpl::forward(const torch::Tensor& encoded_in, const torch::Tensor& visible,
                                      int64_t modality, const torch::Tensor& previous_in,
                                      const torch::Tensor& rows) {
  AutocastOff fp32_scope(options.fp32());
  const auto encoded = options.fp32() ? encoded_in.to(torch::kFloat) : encoded_in;
  const int64_t b = encoded.size(0), v = visible.size(1), d = options.dim();
  const int64_t l = options.grid() * options.grid();
  auto context = at::linear(encoded, embed->weight, embed->bias);  // [B, 1 + V, d]
  // The residual stream takes the wider of the two dtypes, as torch.cat does under autocast
  // in MAE's decoder: float32 while the linear layers compute in bf16.
  const auto dtype = at::promote_types(context.scalar_type(), mask_token.scalar_type());
  auto tokens = context.to(dtype);
  auto patch_tokens = tokens.narrow(1, 1, v);
  // Own tokens: visible ones of modality m from the encoder, mask tokens elsewhere.
  // Tokens of other modalities land in an overflow row L and are dropped.
  auto in_stage = (visible >= modality * l) & (visible < (modality + 1) * l);
  auto slot = torch::where(in_stage, visible - modality * l, l);  // [B, V]
  auto canvas = mask_token.to(dtype)
                    .expand({b, l + 1, d})
                    .scatter(1, slot.unsqueeze(-1).expand({b, v, d}), patch_tokens);
  const auto positions = pos_embed.to(dtype);  // [1, 1 + L, d]
  auto queries = torch::cat({tokens.narrow(1, 0, 1), canvas.narrow(1, 0, l)}, 1) + positions;
  if (options.cross_blocks() > 0) {
    // Context: each encoder token with its patch's position and its modality's embedding
    // (MultiMAE's generate_context_embeddings); the global token bare. The patch queries
    // take their own modality's embedding too, as MultiMAE's task queries do.
    const auto table = positions[0];  // [1 + L, d]
    const auto patch = visible.remainder(l) + 1, source = visible.div(l, "floor");
    auto context_tokens = patch_tokens + table.index_select(0, patch.flatten()).view({b, v, d}) +
                          context_embed.to(dtype).index_select(0, source.flatten()).view({b, v, d});
    auto query_embed = torch::cat({torch::zeros({1, d}, queries.options()),
                                   context_embed.to(dtype)[modality].expand({l, d})});
    queries = queries + query_embed.unsqueeze(0);
    std::vector<torch::Tensor> kv = {tokens.narrow(1, 0, 1), context_tokens};
    if (previous_in.defined()) {
      TORCH_CHECK(previous_embed.defined(),
                  "DecoderStage: previous stage tokens given to a stage "
                  "built without has_previous");
      auto previous = previous_in.to(dtype);
      kv.push_back(previous.narrow(1, 0, 1));
      kv.push_back(previous.narrow(1, 1, l) + positions.narrow(1, 1, l) + previous_embed.to(dtype));
    }
    auto context_all = torch::cat(kv, 1);
    for (const auto& block : *cross_blocks) {
      queries = block->as<CrossBlock>()->forward(queries, context_all);
    }
  }
  for (const auto& block : *blocks) queries = block->as<Block>()->forward(queries);
  // The head reads only the rows the loss needs: [B * L, d] -> [N, d].
  auto x = queries.narrow(1, 1, l).reshape({b * l, d});
  if (rows.defined()) x = x.index_select(0, rows);
  if (norm) x = norm(x);
  return {queries, at::linear(x, head->weight, head->bias)};
}

}  // namespace c2fmae::models
