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
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <torch/torch.h>
#include <unistd.h>

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

/// Whether something accepts TCP connections at `host`:`port` (within 2 s): tells a rank 0
/// that never listened from one that listens but does not answer.
bool port_listens(const std::string& host, int64_t port) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0) return false;
  bool listens = false;
  for (addrinfo* a = found; a && !listens; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
      listens = true;
    } else if (errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      int error = 0;
      socklen_t size = sizeof error;
      listens = ::poll(&p, 1, 2000) == 1 &&
                ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size) == 0 && error == 0;
    }
    ::close(fd);
  }
  ::freeaddrinfo(found);
  return listens;
}

/// What a rank that cannot finish the rendezvous is told about the store's port.
std::string store_hint(const LaunchEnv& env) {
  const auto where = env.master_addr + ":" + std::to_string(env.master_port);
  if (!port_listens(env.master_addr, env.master_port)) {
    return "nothing listens at " + where +
           ": rank 0 has not started, or stopped before it listened (see its log); every rank "
           "must start within dist.timeout_s, with the same MASTER_ADDR and MASTER_PORT";
  }
  return "the store's port " + where +
         " accepts connections but does not answer: rank 0 is stopped or hangs, or another "
         "program holds MASTER_PORT";
}

/// One rank's launch as the rendezvous compares it: WORLD_SIZE, the program, the job's id.
struct LaunchRecord {
  int64_t world_size = 0;
  std::string job, job_id;

  std::string text() const { return std::to_string(world_size) + "\n" + job + "\n" + job_id; }
  static LaunchRecord parse(const std::vector<uint8_t>& bytes) {
    LaunchRecord r;
    const std::string text(bytes.begin(), bytes.end());
    const auto a = text.find('\n'), b = text.find('\n', a + 1);
    r.world_size = std::atoll(text.substr(0, a).c_str());
    if (a != std::string::npos) r.job = text.substr(a + 1, b == std::string::npos ? b : b - a - 1);
    if (b != std::string::npos) r.job_id = text.substr(b + 1);
    return r;
  }
  std::string describe() const { return job + (job_id.empty() ? "" : " (job " + job_id + ")"); }
};

/// Right after the store is reached, before any process group waits for peers: each rank
/// compares its launch with rank 0's, and rank 0 with each rank's, so that a rank of another
/// job, or ranks started with different WORLD_SIZE, fail at once naming it (exit 2).
void check_launch(c10d::Store& store, const LaunchEnv& env, const std::string& job) {
  LaunchRecord mine{env.world_size, job, env.job_id};
  const auto bytes = [](const std::string& t) { return std::vector<uint8_t>(t.begin(), t.end()); };
  auto compare = [&](int64_t rank, const LaunchRecord& theirs) {
    if (theirs.job != mine.job || theirs.job_id != mine.job_id) {
      throw UsageError(with_hint(
          c10::str("the store at ", env.master_addr, ":", env.master_port,
                   " belongs to another job: its rank ", rank, " runs ", theirs.describe(),
                   ", this process (rank ", env.rank, ") ", mine.describe()),
          "give each job its own MASTER_PORT (tools/launch/local.sh picks a free one)"));
    }
    if (theirs.world_size != mine.world_size) {
      throw UsageError(with_hint(
          c10::str("the ranks were started with different WORLD_SIZE: rank ", rank, " has ",
                   theirs.world_size, ", this rank (", env.rank, ") ", mine.world_size),
          "start every rank with the same WORLD_SIZE (tools/launch/local.sh, torchrun and srun "
          "do)"));
    }
  };
  // One process per rank: a second one started with the same RANK is named as such.
  if (store.add("launch/claimed/" + std::to_string(env.rank), 1) > 1) {
    throw UsageError(with_hint(c10::str("two processes were started as rank ", env.rank, " of ",
                                        env.world_size, " (the same RANK)"),
                               "give each process its own RANK (tools/launch/local.sh, torchrun "
                               "and srun do)"));
  }
  if (env.rank == 0) {
    store.set("launch/0", bytes(mine.text()));
    for (int64_t r = 1; r < env.world_size; ++r) {
      std::vector<uint8_t> record;
      try {
        record = store.get("launch/" + std::to_string(r));
      } catch (const std::exception&) {
        throw std::runtime_error(c10::str("rank ", r, " did not reach the store in time"));
      }
      compare(r, LaunchRecord::parse(record));
    }
    return;
  }
  const auto theirs = LaunchRecord::parse(store.get("launch/0"));
  // A rank of this job with another WORLD_SIZE leaves its record, so rank 0 stops too; a
  // process of another job leaves that job alone.
  if (theirs.job == mine.job && theirs.job_id == mine.job_id) {
    store.set("launch/" + std::to_string(env.rank), bytes(mine.text()));
  }
  compare(0, theirs);
}

/// Ends the process (exit 1, saying why) if the rendezvous is not done by the deadline:
/// c10d's TCPStore client waits without a timeout for the first answer of a store that
/// accepted its connection (a stopped rank 0, another program on MASTER_PORT).
class RendezvousDeadline {
 public:
  RendezvousDeadline(std::chrono::milliseconds limit, LaunchEnv env)
      : thread_([this, limit, env = std::move(env)] {
          std::unique_lock<std::mutex> lock(mutex_);
          if (done_.wait_for(lock, limit, [this] { return finished_; })) return;
          log::error(c10::str("the rendezvous at the store did not finish on ", env.describe(),
                              " within ", limit.count() / 1000, " s\nhint: ", store_hint(env)));
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
                           const torch::Device& device, std::chrono::milliseconds timeout,
                           const std::string& job)
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
  RendezvousDeadline deadline(timeout + std::chrono::seconds(15), env);
  c10d::TCPStoreOptions options;
  options.port = static_cast<uint16_t>(env.master_port);
  // Under torchrun's agent the store already exists: every rank is a client, under the
  // prefix of this restart, so a restarted job never meets the keys of the last attempt.
  options.isServer = !env.agent_store && env.rank == 0;
  options.numWorkers = static_cast<int>(env.world_size);
  options.timeout = timeout;
  options.waitWorkers = false;
  {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const int rc = ::getaddrinfo(env.master_addr.c_str(), nullptr, &hints, &found);
    if (found) ::freeaddrinfo(found);
    if (rc == EAI_NONAME || rc == EAI_FAIL) {
      throw UsageError(with_hint("MASTER_ADDR=" + env.master_addr + " does not resolve to an " +
                                     "address (" + ::gai_strerror(rc) + ") on " + env.describe(),
                                 "give rank 0's host name or address (the launchers set it)"));
    }
  }
  c10::intrusive_ptr<c10d::TCPStore> tcp;
  try {
    tcp = c10::make_intrusive<c10d::TCPStore>(env.master_addr, options);
  } catch (const std::exception& e) {
    const auto text = error_text(e);
    if (options.isServer && (text.find("EADDRINUSE") != std::string::npos ||
                             text.find("address already in use") != std::string::npos)) {
      throw UsageError(with_hint(
          c10::str("MASTER_PORT ", env.master_port,
                   " is taken on this host by another process (address already in use), so "
                   "rank 0 cannot host the store"),
          "give this job a free MASTER_PORT (tools/launch/local.sh picks one); two jobs on one "
          "host need two ports"));
    }
    throw PeerError(c10::str(
        "the rendezvous at the store failed on ", env.describe(), ": ", text,
        "\nhint: ", options.isServer ? "rank 0 could not host the store" : store_hint(env)));
  }
  const std::string prefix =
      env.agent_store ? "/worker/attempt_" + std::to_string(env.restart_count) : "c2fmae";
  impl_->store = c10::make_intrusive<c10d::PrefixStore>(prefix, tcp);
  try {
    check_launch(*impl_->store, env, job);
  } catch (const UsageError&) {
    throw;
  } catch (const std::exception& e) {
    throw PeerError(c10::str("the rendezvous at the store failed on ", env.describe(), ": ",
                             error_text(e), "\nhint: ",
                             env.rank == 0 ? "see that rank's log: was it started within "
                                             "dist.timeout_s, with the same MASTER_ADDR and "
                                             "MASTER_PORT?"
                                           : store_hint(env)));
  }
  guard("the rendezvous at the store", [&] {
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
