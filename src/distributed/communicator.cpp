#include "c2fmae/distributed/communicator.h"

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/comm.hpp>
#ifdef C2FMAE_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#include <c10/util/Logging.h>
#include <torch/torch.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

#include "c2fmae/core/error_text.h"
#include "c2fmae/core/log.h"
#include "c2fmae/core/usage_error.h"

namespace c2fmae::distributed {
namespace {

using BackendType = c10d::ProcessGroup::BackendType;

/// c10d logs its retries, timeouts and closed connections as warnings and errors with
/// LibTorch's C++ backtrace; what went wrong reaches the user as a PeerError instead.
/// TORCH_CPP_LOG_LEVEL (e.g. INFO) still decides when set.
void quiet_c10d_logs() {
  if (std::getenv("TORCH_CPP_LOG_LEVEL") == nullptr) {
    FLAGS_caffe2_log_level = std::max(FLAGS_caffe2_log_level, 3);  // fatal only
  }
}

c10::intrusive_ptr<c10d::Backend> make_gloo(const c10::intrusive_ptr<c10d::Store>& store,
                                            const LaunchEnv& env,
                                            std::chrono::milliseconds timeout) {
  auto options = c10d::ProcessGroupGloo::Options::create();
  options->timeout = timeout;
  if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME")) {
    options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
  } else {
    options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  }
  return c10::make_intrusive<c10d::ProcessGroupGloo>(
      c10::make_intrusive<c10d::PrefixStore>("gloo", store), static_cast<int>(env.rank),
      static_cast<int>(env.world_size), options);
}

/// Ends the process (exit 1, saying why) if the rendezvous is not done by the deadline:
/// c10d's TCPStore client waits without a timeout for the first answer of a store that
/// accepted its connection (a stopped rank 0, another program on MASTER_PORT).
class RendezvousDeadline {
 public:
  RendezvousDeadline(std::chrono::milliseconds limit, std::string who)
      : thread_([this, limit, who = std::move(who)] {
          std::unique_lock<std::mutex> lock(mutex_);
          if (done_.wait_for(lock, limit, [this] { return finished_; })) return;
          log::error(
              c10::str("the rendezvous at the store did not finish on ", who, " within ",
                       limit.count() / 1000,
                       " s\nhint: the store's port accepts connections but does not answer: rank 0 "
                       "is stopped or hangs, or another program holds MASTER_PORT"));
          std::_Exit(1);
        }) {}
  ~RendezvousDeadline() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      finished_ = true;
    }
    done_.notify_one();
    thread_.join();
  }
  RendezvousDeadline(const RendezvousDeadline&) = delete;
  RendezvousDeadline& operator=(const RendezvousDeadline&) = delete;

 private:
  std::mutex mutex_;
  std::condition_variable done_;
  bool finished_ = false;
  std::thread thread_;  // last: started once the members it reads exist
};

}  // namespace

struct Communicator::Impl {
  LaunchEnv env;
  std::string backend;
  std::chrono::milliseconds timeout{0};
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroup> group;

  /// `tensor` reduced by `op` over the ranks, in place, within the timeout.
  void all_reduce(torch::Tensor& tensor, c10d::ReduceOp op, const Communicator& self) const {
    self.guard("an all-reduce", [&] {
      std::vector<torch::Tensor> tensors = {tensor};
      c10d::AllreduceOptions options;
      options.reduceOp = op;
      options.timeout = timeout;
      group->allreduce(tensors, options)->wait();
    });
  }
  /// Rank 0's `tensor` on every rank, in place, within the timeout.
  void broadcast_from_0(torch::Tensor& tensor, const Communicator& self) const {
    self.guard("a broadcast", [&] {
      std::vector<torch::Tensor> tensors = {tensor};
      c10d::BroadcastOptions options;
      options.rootRank = 0;
      options.timeout = timeout;
      group->broadcast(tensors, options)->wait();
    });
  }
};

void Communicator::guard(const char* what, const std::function<void()>& f) const {
  try {
    f();
  } catch (const std::exception& e) {
    throw PeerError(c10::str(what, " failed on ", impl_->env.describe(), ": ", error_text(e),
                             "\nhint: another rank has stopped or hangs (see its log); the "
                             "others stop after at most dist.timeout_s = ",
                             impl_->timeout.count() / 1000, " s"));
  }
}

Communicator::Communicator(const LaunchEnv& env, config::DistBackend backend,
                           const torch::Device& device, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
  impl_->env = env;
  impl_->timeout = timeout;
  const bool nccl = device.is_cuda() && backend != config::DistBackend::kGloo;
  if (backend == config::DistBackend::kNccl && !device.is_cuda()) {
    throw UsageError(with_hint("dist.backend = nccl needs CUDA, but this run trains on the CPU",
                               "use dist.backend = gloo (or auto) for CPU training"));
  }
#ifndef C2FMAE_WITH_NCCL
  if (nccl) {
    throw UsageError(
        with_hint("this build has no NCCL (nccl.h was not found when it was compiled)",
                  "rebuild where nccl.h is found (CUDA toolkit or the wheel's nvidia/nccl), or use "
                  "dist.backend = gloo (slow for CUDA tensors)"));
  }
#endif
  impl_->backend = nccl ? "nccl" : "gloo";
  quiet_c10d_logs();
  // c10d's own timeouts end the rendezvous first; this deadline only catches its one
  // unbounded wait.
  RendezvousDeadline deadline(timeout + std::chrono::seconds(15), env.describe());
  guard("the rendezvous at the store", [&] {
    c10d::TCPStoreOptions options;
    options.port = static_cast<uint16_t>(env.master_port);
    // Under torchrun's agent the store already exists: every rank is a client, under the
    // prefix of this restart, so a restarted job never meets the keys of the last attempt.
    options.isServer = !env.agent_store && env.rank == 0;
    options.numWorkers = static_cast<int>(env.world_size);
    options.timeout = timeout;
    options.waitWorkers = false;
    auto tcp = c10::make_intrusive<c10d::TCPStore>(env.master_addr, options);
    const std::string prefix =
        env.agent_store ? "/worker/attempt_" + std::to_string(env.restart_count) : "c2fmae";
    impl_->store = c10::make_intrusive<c10d::PrefixStore>(prefix, tcp);
    auto group = c10::make_intrusive<c10d::ProcessGroup>(impl_->store, static_cast<int>(env.rank),
                                                         static_cast<int>(env.world_size));
    // Gloo carries CPU tensors (and the decisions) in every run.
    group->setDefaultBackend(nccl ? BackendType::NCCL : BackendType::GLOO);
    group->setBackend(c10::DeviceType::CPU, BackendType::GLOO,
                      make_gloo(impl_->store, env, timeout));
#ifdef C2FMAE_WITH_NCCL
    if (nccl) {
      auto options = c10d::ProcessGroupNCCL::Options::create();
      options->timeout = timeout;
      group->setBackend(c10::DeviceType::CUDA, BackendType::NCCL,
                        c10::make_intrusive<c10d::ProcessGroupNCCL>(
                            c10::make_intrusive<c10d::PrefixStore>("nccl", impl_->store),
                            static_cast<int>(env.rank), static_cast<int>(env.world_size), options));
    }
#endif
    impl_->group = group;
  });
}

Communicator::~Communicator() = default;

int64_t Communicator::rank() const { return impl_->env.rank; }
int64_t Communicator::world_size() const { return impl_->env.world_size; }
const LaunchEnv& Communicator::env() const { return impl_->env; }
const std::string& Communicator::backend() const { return impl_->backend; }
std::chrono::milliseconds Communicator::timeout() const { return impl_->timeout; }
c10::intrusive_ptr<c10d::ProcessGroup> Communicator::process_group() const { return impl_->group; }

void Communicator::broadcast_coalesced(const std::vector<torch::Tensor>& tensors,
                                       int64_t buffer_bytes, int64_t root) {
  if (tensors.empty()) return;
  guard("a broadcast", [&] {
    torch::NoGradGuard no_grad;  // parameters are written in place
    c10d::broadcast_coalesced(impl_->group, tensors, static_cast<size_t>(buffer_bytes),
                              static_cast<int>(root));
    if (tensors.front().is_cuda()) {
      // The copies out of the buffers are asynchronous: done before anyone reads them.
      tensors.front().cpu();
    }
  });
}

void Communicator::all_reduce_sum(torch::Tensor& tensor) {
  impl_->all_reduce(tensor, c10d::ReduceOp::SUM, *this);
}

bool Communicator::any(bool flag) { return max(flag ? 1 : 0) > 0; }

int64_t Communicator::max(int64_t value) {
  auto t = torch::full({1}, value, torch::kLong);
  impl_->all_reduce(t, c10d::ReduceOp::MAX, *this);
  return t.item<int64_t>();
}

std::string Communicator::broadcast_text(const std::string& text) {
  const auto size = broadcast_values({static_cast<int64_t>(text.size())})[0];
  auto bytes = torch::zeros({size}, torch::kUInt8);
  if (rank() == 0) std::memcpy(bytes.data_ptr<uint8_t>(), text.data(), text.size());
  impl_->broadcast_from_0(bytes, *this);
  return std::string(reinterpret_cast<const char*>(bytes.data_ptr<uint8_t>()),
                     static_cast<size_t>(size));
}

std::vector<int64_t> Communicator::broadcast_values(std::vector<int64_t> values) {
  auto t = torch::tensor(values, torch::kLong);
  impl_->broadcast_from_0(t, *this);
  const auto* p = t.data_ptr<int64_t>();
  return {p, p + t.numel()};
}

void Communicator::barrier() {
  // An all-reduce on the CPU: ProcessGroup::barrier would pick the NCCL backend on CUDA.
  (void)any(false);
}

}  // namespace c2fmae::distributed
