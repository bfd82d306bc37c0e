#include "c2fmae/train/ema_encoder.h"

#include <torch/torch.h>

#include <algorithm>
#include <stdexcept>

#include "c2fmae/train/autocast_scope.h"

namespace c2fmae::train {

EmaEncoder::EmaEncoder(models::C2fmaeImpl& model, double decay) : decay_(decay) {
  const auto& mods = model.modalities();
  const auto it = std::find(mods.begin(), mods.end(), Modality::kRgb);
  if (it == mods.end()) {
    throw std::invalid_argument(
        "EMA encoder: the model has no rgb modality to read attention from");
  }
  rgb_index_ = it - mods.begin();
  torch::NoGradGuard no_grad;
  const auto device = model.backbone->cls_token.device();
  backbone_ = models::VisionTransformer(
      std::dynamic_pointer_cast<models::VisionTransformerImpl>(model.backbone->clone(device)));
  backbone_->eval();
  for (auto& p : backbone_->parameters()) p.set_requires_grad(false);
  modality_embed_ = model.modality_embed[rgb_index_].detach().clone();
}

std::vector<torch::Tensor> EmaEncoder::source(models::C2fmaeImpl& model) const {
  std::vector<torch::Tensor> out;
  for (const auto& p : model.backbone->named_parameters()) out.push_back(p.value());
  for (const auto& b : model.backbone->named_buffers()) out.push_back(b.value());
  out.push_back(model.modality_embed[rgb_index_]);
  return out;
}

std::vector<std::pair<std::string, torch::Tensor>> EmaEncoder::named_tensors() {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& p : backbone_->named_parameters())
    out.emplace_back("backbone." + p.key(), p.value());
  for (const auto& b : backbone_->named_buffers())
    out.emplace_back("backbone." + b.key(), b.value());
  out.emplace_back("modality_embed_rgb", modality_embed_);
  return out;
}

void EmaEncoder::update(models::C2fmaeImpl& model) {
  torch::NoGradGuard no_grad;
  const auto from = source(model);
  const auto to = named_tensors();
  for (size_t i = 0; i < to.size(); ++i) {
    auto& t = to[i].second;
    if (t.is_floating_point()) {
      t.lerp_(from[i].detach(), 1.0 - decay_);  // decay * ema + (1 - decay) * weights
    } else {
      t.copy_(from[i]);
    }
  }
}

void EmaEncoder::reset(models::C2fmaeImpl& model) {
  torch::NoGradGuard no_grad;
  const auto from = source(model);
  const auto to = named_tensors();
  for (size_t i = 0; i < to.size(); ++i) to[i].second.copy_(from[i]);
}

namespace {
constexpr const char* kStatePrefix = "ema_encoder.";
}  // namespace

std::vector<std::pair<std::string, torch::Tensor>> EmaEncoder::state() {
  auto out = named_tensors();
  for (auto& entry : out) entry.first = kStatePrefix + entry.first;
  return out;
}

EmaEncoder::Restored EmaEncoder::restore(
    const std::vector<std::pair<std::string, torch::Tensor>>& stored) {
  Restored r;
  std::map<std::string, torch::Tensor> by_name;
  for (const auto& [name, t] : stored) {
    if (name.rfind(kStatePrefix, 0) == 0) by_name.emplace(name, t);
  }
  if (by_name.empty()) return r;  // kNone
  const auto mine = named_tensors();
  for (const auto& [name, t] : mine) {
    const auto it = by_name.find(kStatePrefix + name);
    if (it == by_name.end() || it->second.sizes() != t.sizes()) {
      r.outcome = Restored::Outcome::kMismatch;
      r.mismatch = name + (it == by_name.end() ? std::string(" is missing")
                                               : " has shape " + c10::str(it->second.sizes()) +
                                                     ", this config's " + c10::str(t.sizes()));
      return r;
    }
  }
  torch::NoGradGuard no_grad;
  for (const auto& [name, t] : mine) t.copy_(by_name.at(kStatePrefix + name));
  r.outcome = Restored::Outcome::kLoaded;
  return r;
}

torch::Tensor EmaEncoder::affinity(const torch::Tensor& rgb, bool autocast) {
  torch::NoGradGuard no_grad;
  AutocastScope scope(autocast);
  const auto device = modality_embed_.device();
  auto tokens = backbone_->patch_tokens(rgb.to(device)) + modality_embed_;
  const int64_t b = tokens.size(0), d = tokens.size(2);
  auto x = torch::cat({backbone_->class_token().expand({b, 1, d}).to(tokens.dtype()), tokens}, 1);
  return backbone_->attention_affinity(x).to(torch::kCPU, torch::kFloat);
}

}  // namespace c2fmae::train
