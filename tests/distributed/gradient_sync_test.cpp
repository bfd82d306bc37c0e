#ifdef C2FMAE_WITH_GLOO
// Pins what GradientSync uses of c10d's Reducer (internal API, pytorch issue 88006): averaged
// gradients, buckets rebuilt by backward's order, no communication when not synchronising.
#include "c2fmae/distributed/gradient_sync.h"

#include <chrono>

#include "distributed/ranks_fixture.h"
#include "test_helpers.h"

namespace c2fmae::distributed {
namespace {

using testing::env_of;
using testing::free_port;
using testing::on_ranks;

torch::nn::Sequential model() {
  torch::manual_seed(3);
  return torch::nn::Sequential(torch::nn::Linear(4, 8), torch::nn::Tanh(), torch::nn::Linear(8, 2));
}

/// Rank r's input of micro-batch k.
torch::Tensor input(int64_t rank, int64_t k) {
  torch::manual_seed(100 + 10 * rank + k);
  return torch::randn({5, 4});
}

/// The gradients of `micro` micro-batches of rank `rank`, summed, computed alone.
std::vector<torch::Tensor> local_grads(int64_t rank, int64_t micro) {
  auto m = model();
  for (int64_t k = 0; k < micro; ++k) m->forward(input(rank, k)).pow(2).sum().backward();
  std::vector<torch::Tensor> out;
  for (const auto& p : m->parameters()) out.push_back(p.grad().clone());
  return out;
}

bool close(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  bool ok = a.size() == b.size();
  for (size_t i = 0; ok && i < a.size(); ++i) ok = torch::allclose(a[i], b[i], 1e-5, 1e-6);
  return ok;
}

TEST(GradientSync, AveragesOverRanksOnlyWhenSynchronisingInBuckets) {
  const auto port = free_port();
  const bool ok = on_ranks(3, [&](int64_t rank) {
    Communicator group(env_of(rank, 3, port), config::DistBackend::kGloo, torch::kCPU,
                       std::chrono::seconds(30));
    auto m = model();
    GradientSync sync(group, m->parameters(), /*bucket_bytes=*/64);
    auto grads = [&] {
      std::vector<torch::Tensor> out;
      for (const auto& p : m->parameters()) out.push_back(p.grad().clone());
      for (auto& p : m->parameters()) p.mutable_grad() = torch::Tensor();
      return out;
    };
    auto mean_over_ranks = [&](int64_t micro) {
      std::vector<torch::Tensor> sum;
      for (int64_t r = 0; r < 3; ++r) {
        const auto g = local_grads(r, micro);
        if (sum.empty())
          sum = g;
        else
          for (size_t i = 0; i < g.size(); ++i) sum[i] += g[i];
      }
      for (auto& s : sum) s /= 3.0;
      return sum;
    };
    // One synchronised step: the mean of the ranks' gradients.
    sync.before_forward();
    sync.backward(m->forward(input(rank, 0)).pow(2).sum(), /*sync=*/true);
    bool ok = close(grads(), mean_over_ranks(1));
    // Accumulation: the first backward stays local, the second averages the sum.
    sync.backward(m->forward(input(rank, 0)).pow(2).sum(), /*sync=*/false);
    std::vector<torch::Tensor> after_first;
    for (const auto& p : m->parameters()) after_first.push_back(p.grad().clone());
    ok = ok && close(after_first, local_grads(rank, 1));
    sync.before_forward();
    sync.backward(m->forward(input(rank, 1)).pow(2).sum(), /*sync=*/true);
    ok = ok && close(grads(), mean_over_ranks(2));
    // 64-byte buckets: the 4 tensors (128, 32, 64 and 8 bytes) cannot all share one.
    ok = ok && sync.num_buckets() >= 2;
    return ok;
  });
  EXPECT_TRUE(ok);
}

TEST(GradientSync, AFreshSyncSumsAsALaterStepOfAnOlderOneDoes) {
  // A resumed run's first step must give the gradients, bit for bit, that the uninterrupted
  // run's step gave: the same bucket layout, so that 3 processes sum in the same order.
  const auto port = free_port();
  const bool ok = on_ranks(3, [&](int64_t rank) {
    Communicator group(env_of(rank, 3, port), config::DistBackend::kGloo, torch::kCPU,
                       std::chrono::seconds(30));
    auto step = [&](GradientSync& sync, torch::nn::Sequential& m, int64_t k) {
      for (auto& p : m->parameters()) p.mutable_grad() = torch::Tensor();
      sync.before_forward();
      sync.backward(m->forward(input(rank, k)).pow(2).sum() * 1.37, /*sync=*/true);
      std::vector<torch::Tensor> out;
      for (const auto& p : m->parameters()) out.push_back(p.grad().clone());
      return out;
    };
    auto older_model = model();
    GradientSync older(group, older_model->parameters(), /*bucket_bytes=*/64);
    step(older, older_model, 0);
    const auto later = step(older, older_model, 1);
    auto fresh_model = model();
    GradientSync fresh(group, fresh_model->parameters(), /*bucket_bytes=*/64);
    const auto first = step(fresh, fresh_model, 1);
    bool same = later.size() == first.size() && older.num_buckets() == fresh.num_buckets();
    for (size_t i = 0; same && i < later.size(); ++i) same = torch::equal(later[i], first[i]);
    return same;
  });
  EXPECT_TRUE(ok);
}

}  // namespace
}  // namespace c2fmae::distributed
#endif  // C2FMAE_WITH_GLOO
