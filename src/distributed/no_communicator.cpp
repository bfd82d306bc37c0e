// A build without gloo's headers (the GPU host has none; Debian: libgloo-dev) has no process
// group: joining one is refused with the reason. Compiled instead of communicator.cpp and
// gradient_sync.cpp (CMakeLists.txt); no object of these classes can exist in such a build.
#include <torch/torch.h>

#include "c2fmae/core/error_text.h"
#include "c2fmae/core/usage_error.h"
#include "c2fmae/distributed/communicator.h"
#include "c2fmae/distributed/gradient_sync.h"

namespace c2fmae::distributed {

struct Communicator::Impl {};
struct GradientSync::Impl {};

namespace {
[[noreturn]] void unavailable() {
  throw UsageError(with_hint(
      "this build has no multi-process training: gloo's headers were not found when it was "
      "compiled",
      "install them (Debian / Ubuntu: libgloo-dev) and rebuild, or start one process"));
}
}  // namespace

Communicator::Communicator(const LaunchEnv&, config::DistBackend, const torch::Device&,
                           std::chrono::milliseconds, const std::string&) {
  unavailable();
}
Communicator::~Communicator() = default;
int64_t Communicator::rank() const { unavailable(); }
int64_t Communicator::world_size() const { unavailable(); }
const LaunchEnv& Communicator::env() const { unavailable(); }
const std::string& Communicator::backend() const { unavailable(); }
std::chrono::milliseconds Communicator::timeout() const { unavailable(); }
void Communicator::broadcast_coalesced(const std::vector<torch::Tensor>&, int64_t, int64_t) {
  unavailable();
}
void Communicator::all_reduce_sum(torch::Tensor&) { unavailable(); }
bool Communicator::any(bool) { unavailable(); }
int64_t Communicator::max(int64_t) { unavailable(); }
std::string Communicator::broadcast_text(const std::string&) { unavailable(); }
std::vector<int64_t> Communicator::broadcast_values(std::vector<int64_t>) { unavailable(); }
void Communicator::barrier() { unavailable(); }
c10::intrusive_ptr<c10d::ProcessGroup> Communicator::process_group() const { unavailable(); }
void Communicator::guard(const char*, const std::function<void()>&) const { unavailable(); }

GradientSync::GradientSync(Communicator&, std::vector<torch::Tensor>, int64_t) { unavailable(); }
GradientSync::~GradientSync() = default;
void GradientSync::before_forward() { unavailable(); }
void GradientSync::backward(const torch::Tensor&, bool) { unavailable(); }
int64_t GradientSync::num_buckets() const { unavailable(); }

}  // namespace c2fmae::distributed
