#include "c2fmae/pseudolabel/output_claim.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>

#include "c2fmae/core/atomic_file.h"
#include "c2fmae/core/error_text.h"
#include "c2fmae/core/usage_error.h"
#include "c2fmae/pseudolabel/pseudolabel_job.h"

namespace c2fmae::pseudolabel {
namespace fs = std::filesystem;
namespace {

constexpr const char* kMapsKey = "maps ";

int open_lock(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw PseudolabelIoError("cannot create " + path + ": " + std::strerror(errno));
  return fd;
}

// The record's identity lines and its maps line, apart.
std::pair<std::string, std::set<std::string>> parse_record(const std::string& text) {
  std::istringstream in(text);
  std::string line, identity;
  std::set<std::string> maps;
  while (std::getline(in, line)) {
    if (line.rfind(kMapsKey, 0) == 0) {
      std::istringstream list(line.substr(std::strlen(kMapsKey)));
      std::string map;
      while (list >> map) maps.insert(map);
    } else {
      identity += line + "\n";
    }
  }
  return {identity, maps};
}

std::string record_text(const std::string& identity, const std::set<std::string>& maps) {
  std::string text = identity + kMapsKey;
  for (const auto& m : maps) text += m + " ";
  text.back() = '\n';
  return text;
}

}  // namespace

OutputClaim::OutputClaim(const ClaimRequest& r) {
  std::error_code ec;
  fs::create_directories(r.out, ec);
  if (ec) throw PseudolabelIoError("cannot create the folder " + r.out + ": " + ec.message());
  const auto part_lock = (fs::path(r.out) / (r.stem + ".lock")).string();
  part_fd_ = open_lock(part_lock);
  if (::flock(part_fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(part_fd_);
    throw UsageError(with_hint("another c2fmae_pseudolabel is writing " + r.out + " as part " +
                                   r.part + " (" + part_lock + " is locked)",
                               "wait for it, or give this process another --shard"));
  }
  const auto model_lock = (fs::path(r.out) / "pseudolabel.model.lock").string();
  model_fd_ = open_lock(model_lock);
  const auto fail = [&](const std::string& problem, const std::string& hint) {
    ::close(part_fd_);
    ::close(model_fd_);
    throw UsageError(with_hint(problem, hint));
  };
  if (::flock(model_fd_, LOCK_SH) != 0) fail("cannot lock " + model_lock, std::strerror(errno));

  std::set<std::string> maps;
  if (r.write_semantic) maps.insert("semseg");
  if (r.write_instance) maps.insert("instance");
  const auto path = (fs::path(r.out) / "pseudolabel.model").string();
  std::string text;
  if (std::ifstream in(path, std::ios::binary); in) {
    const auto [identity, old_maps] =
        parse_record(std::string(std::istreambuf_iterator<char>(in), {}));
    if (identity == r.identity) {
      maps.insert(old_maps.begin(), old_maps.end());
    } else {
      const auto shown = path + ":\n" + identity + "now:\n" + r.identity;
      if (!r.overwrite)
        fail(r.out + " holds maps made with another model or other thresholds (" + shown + ")",
             "write into another --out, or relabel everything with --overwrite");
      // Replacing the model: every sample, every map it made, and no other part meanwhile.
      if (r.parts > 1)
        fail("--overwrite with another model or other thresholds relabels every sample of " +
                 r.out + ", but this process is part " + r.part + " (" + shown + ")",
             "run it as one process (--shard 0/1), or write into another --out");
      for (const auto& m : old_maps) {
        if (!maps.count(m))
          fail("--overwrite would keep the " + m + " maps of the earlier model in " + r.out + " (" +
                   shown + ")",
               "give --write semseg,instance, or write into another --out");
      }
      if (::flock(model_fd_, LOCK_EX | LOCK_NB) != 0)
        fail("other c2fmae_pseudolabel processes are writing " + r.out + " with the earlier model",
             "wait for them to end, then relabel with --overwrite");
    }
  }
  text = record_text(r.identity, maps);
  try {
    std::ifstream in(path, std::ios::binary);
    if (!in || std::string(std::istreambuf_iterator<char>(in), {}) != text)
      write_text_atomically(path, text);
  } catch (const std::exception& e) {
    ::close(part_fd_);
    ::close(model_fd_);
    throw PseudolabelIoError(error_text(e));
  }
  ::flock(model_fd_, LOCK_SH);  // others may join now
}

OutputClaim::~OutputClaim() {
  if (part_fd_ >= 0) ::close(part_fd_);
  if (model_fd_ >= 0) ::close(model_fd_);
}

}  // namespace c2fmae::pseudolabel
