#include "c2fmae/optim/adamw.h"

#include <torch/torch.h>

namespace c2fmae::optim {

AdamW::AdamW(std::vector<ParamGroup> groups, AdamWOptions options)
    : groups_(std::move(groups)), options_(options) {
  for (const auto& g : groups_) state_.emplace_back(g.params.size());
}

AdamW::State& AdamW::state_for(size_t group, size_t index) {
  auto& s = state_[group][index];
  if (!s.step.defined()) {
    const auto& p = groups_[group].params[index];
    s.exp_avg = torch::zeros_like(p, torch::MemoryFormat::Preserve);
    s.exp_avg_sq = torch::zeros_like(p, torch::MemoryFormat::Preserve);
    s.step = torch::zeros({}, p.options().dtype(torch::kFloat));
  }
  return s;
}

void AdamW::step(double lr) {
  torch::NoGradGuard no_grad;
  for (size_t g = 0; g < groups_.size(); ++g) {
    std::vector<torch::Tensor> params, grads, avgs, sqs, steps;
    for (size_t i = 0; i < groups_[g].params.size(); ++i) {
      const auto& p = groups_[g].params[i];
      if (!p.grad().defined()) continue;
      auto& s = state_for(g, i);
      params.push_back(p);
      grads.push_back(p.grad());
      avgs.push_back(s.exp_avg);
      sqs.push_back(s.exp_avg_sq);
      steps.push_back(s.step);
    }
    if (params.empty()) continue;
    // The fused kernel expects the step counts already incremented (torch.optim does this
    // before calling it); passing the old counts gives NaN after the first step.
    torch::_foreach_add_(steps, 1.0);
    at::_fused_adamw_(params, grads, avgs, sqs, /*max_exp_avg_sqs=*/{}, steps,
                      lr * groups_[g].lr_scale, options_.beta1, options_.beta2,
                      groups_[g].weight_decay, options_.eps, /*amsgrad=*/false,
                      /*maximize=*/false);
  }
}

void AdamW::zero_grad() {
  for (auto& g : groups_) {
    for (auto& p : g.params) p.mutable_grad() = torch::Tensor();
  }
}

std::vector<torch::Tensor> AdamW::state_tensors() {
  std::vector<torch::Tensor> out;
  for (size_t g = 0; g < groups_.size(); ++g) {
    for (size_t i = 0; i < groups_[g].params.size(); ++i) {
      auto& s = state_for(g, i);
      out.insert(out.end(), {s.exp_avg, s.exp_avg_sq, s.step});
    }
  }
  return out;
}

void AdamW::save(torch::serialize::OutputArchive& archive) const {
  for (size_t g = 0; g < groups_.size(); ++g) {
    for (size_t i = 0; i < groups_[g].params.size(); ++i) {
      const auto& s = state_[g][i];
      if (!s.step.defined()) continue;
      const auto key = "optim." + groups_[g].names[i];
      // On the CPU: a GPU run's checkpoint then loads on any machine.
      archive.write(key + ".exp_avg", s.exp_avg.cpu());
      archive.write(key + ".exp_avg_sq", s.exp_avg_sq.cpu());
      archive.write(key + ".step", s.step.cpu());
    }
  }
}

void AdamW::load(torch::serialize::InputArchive& archive) {
  for (size_t g = 0; g < groups_.size(); ++g) {
    for (size_t i = 0; i < groups_[g].params.size(); ++i) {
      const auto key = "optim." + groups_[g].names[i];
      const auto& p = groups_[g].params[i];
      State s;
      if (!archive.try_read(key + ".step", s.step)) {
        state_[g][i] = State{};  // never updated before the checkpoint
        continue;
      }
      archive.read(key + ".exp_avg", s.exp_avg);
      archive.read(key + ".exp_avg_sq", s.exp_avg_sq);
      if (s.exp_avg.sizes() != p.sizes()) {
        throw std::runtime_error("checkpoint optimizer state for " + groups_[g].names[i] +
                                 " has the wrong shape");
      }
      s.exp_avg = s.exp_avg.to(p.device());
      s.exp_avg_sq = s.exp_avg_sq.to(p.device());
      s.step = s.step.to(p.device());
      state_[g][i] = s;
    }
  }
}

AdamW make_adamw(const torch::OrderedDict<std::string, torch::Tensor>& named_parameters,
                 const config::OptimConfig& optim) {
  return AdamW(weight_decay_groups(named_parameters, optim.weight_decay),
               AdamWOptions{optim.beta1, optim.beta2, optim.eps});
}

}  // namespace c2fmae::optim
