#include "c2fmae/distributed/communicator.h"

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/torch.h>

#include <cstdlib>

#include "c2fmae/core/error_text.h"
#include "c2fmae/core/usage_error.h"

namespace c2fmae::distributed {

struct Communicator::Impl {
  LaunchEnv env;
  std::chrono::milliseconds timeout{0};
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::Backend> group;

  /// Runs a collective, turning c10d's errors (a timeout, a closed connection) into a
  /// PeerError that names what was being done and by whom.
  template <class F>
  void run(const char* what, F&& f) {
    try {
      f();
    } catch (const std::exception& e) {
      throw PeerError(c10::str(what, " failed on ", env.describe(), ": ", error_text(e),
                               "\nhint: another rank has stopped or hangs (see its log); the "
                               "others stop after dist.timeout_s = ",
                               timeout.count() / 1000, " s"));
    }
  }
};

Communicator::Communicator(const LaunchEnv& env, const std::string& backend,
                           std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
  impl_->env = env;
  impl_->timeout = timeout;
  if (backend != "auto" && backend != "gloo") {
    throw UsageError(with_hint("dist.backend = " + backend + ": this build has Gloo only",
                               "use dist.backend = gloo (or auto) for CPU training"));
  }
  impl_->run("the rendezvous at the store", [&] {
    c10d::TCPStoreOptions options;
    options.port = static_cast<uint16_t>(env.master_port);
    // Under torchrun's agent the store already exists: every rank is a client, under the
    // prefix of this restart, so a restarted job never meets the keys of the last attempt.
    options.isServer = !env.agent_store && env.rank == 0;
    options.numWorkers = static_cast<int>(env.world_size);
    options.timeout = timeout;
    options.waitWorkers = false;
    auto tcp = c10::make_intrusive<c10d::TCPStore>(env.master_addr, options);
    const std::string prefix = env.agent_store
                                   ? "/worker/attempt_" + std::to_string(env.restart_count)
                                   : "c2fmae";
    impl_->store = c10::make_intrusive<c10d::PrefixStore>(prefix, tcp);
    auto gloo = c10d::ProcessGroupGloo::Options::create();
    gloo->timeout = timeout;
    if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME")) {
      gloo->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
    } else {
      gloo->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    }
    impl_->group = c10::make_intrusive<c10d::ProcessGroupGloo>(
        impl_->store, static_cast<int>(env.rank), static_cast<int>(env.world_size), gloo);
  });
}

Communicator::~Communicator() = default;

int64_t Communicator::rank() const { return impl_->env.rank; }
int64_t Communicator::world_size() const { return impl_->env.world_size; }

void Communicator::broadcast(std::vector<torch::Tensor>& tensors, int64_t root) {
  impl_->run("a broadcast", [&] {
    c10d::BroadcastOptions options;
    options.rootRank = root;
    options.timeout = impl_->timeout;
    impl_->group->broadcast(tensors, options)->wait();
  });
}

void Communicator::all_reduce_sum(torch::Tensor& tensor) {
  impl_->run("an all-reduce", [&] {
    std::vector<torch::Tensor> tensors = {tensor};
    c10d::AllreduceOptions options;
    options.reduceOp = c10d::ReduceOp::SUM;
    options.timeout = impl_->timeout;
    impl_->group->allreduce(tensors, options)->wait();
  });
}

bool Communicator::any(bool flag) {
  auto t = torch::full({1}, flag ? 1 : 0, torch::kInt);
  all_reduce_sum(t);
  return t.item<int>() > 0;
}

void Communicator::barrier() {
  impl_->run("a barrier", [&] {
    c10d::BarrierOptions options;
    options.timeout = impl_->timeout;
    impl_->group->barrier(options)->wait();
  });
}

}  // namespace c2fmae::distributed
