#include "c2fmae/data/shard_dataset.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "c2fmae/core/affix.h"
#include "c2fmae/data/encoded_sample.h"
#include "c2fmae/formats/tar.h"

namespace c2fmae::data {
namespace fs = std::filesystem;
ShardDataset::ShardDataset(const std::string& root, const std::string& split)
    : root_(root), index_(read_shard_index(root, split)) {
  for (const auto& name : index_.shard_files) {
    const auto path = (fs::path(root_) / name).string();
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      const std::string reason = std::strerror(errno);
      for (int f : fds_) ::close(f);
      throw DatasetError("shard " + path + ": " + reason);
    }
    // Samples are read in shuffled order, but each one is a single contiguous read.
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);
    fds_.push_back(fd);
  }
}

ShardDataset::~ShardDataset() {
  for (int fd : fds_) ::close(fd);
}

std::string ShardDataset::describe(int64_t index) const {
  const auto& s = index_.samples.at(static_cast<size_t>(index));
  return c10::str((fs::path(root_) / index_.shard_files.at(s.shard)).string(), " at byte ",
                  s.offset, " (sample ", index, ")");
}

int64_t ShardDataset::load(int64_t index, uint64_t seed, const SampleOptions& options,
                           const SampleSlot& slot) const {
  const auto& s = index_.samples.at(static_cast<size_t>(index));
  thread_local std::vector<uint8_t> buffer;
  if (s.length > 3 * formats::kMaxSampleFileBytes + 4096) {
    throw BadSample("a span of " + std::to_string(s.length) + " bytes, larger than any sample");
  }
  buffer.resize(s.length);
  size_t done = 0;
  while (done < s.length) {
    const auto n = ::pread(fds_[s.shard], buffer.data() + done, s.length - done,
                           static_cast<off_t>(s.offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw BadSample(std::string("read: ") + std::strerror(errno));
    if (n == 0) throw BadSample("read: the shard ends inside the sample (truncated shard?)");
    done += static_cast<size_t>(n);
  }
  std::vector<formats::TarMember> members;
  try {
    members = formats::parse_tar_members(buffer.data(), buffer.size());
  } catch (const formats::FormatError& e) {
    throw BadSample(std::string("tar: ") + e.what());
  }
  EncodedSample e;
  int64_t label = -1;
  for (const auto& m : members) {
    const auto* data = buffer.data() + m.offset;
    const auto size = static_cast<size_t>(m.size);
    if (ends_with(m.name, ".sem.png")) {
      e.semantic = data, e.semantic_size = size;
    } else if (ends_with(m.name, ".ins.png")) {
      e.instance = data, e.instance_size = size;
    } else if (ends_with(m.name, ".cls")) {
      std::string text(reinterpret_cast<const char*>(data), size);
      char* end = nullptr;
      errno = 0;
      const long long v = std::strtoll(text.c_str(), &end, 10);
      while (end && (*end == '\n' || *end == '\r' || *end == ' '))
        ++end;  // "3\n" as written by hand
      if (errno != 0 || end == text.c_str() || *end != '\0' || v < 0 || v >= num_classes()) {
        throw BadSample("class '" + text + "' is not an index below " +
                        std::to_string(num_classes()));
      }
      label = v;
    } else if (ends_with(m.name, ".jpg") || ends_with(m.name, ".png") ||
               ends_with(m.name, ".jpeg")) {
      e.rgb = data, e.rgb_size = size;
    }
  }
  if (label < 0) throw BadSample("no .cls member");
  if (!options.masks) e.semantic = e.instance = nullptr;
  decode_sample(e, seed, options, slot);
  if (buffer.capacity() > (size_t{32} << 20)) std::vector<uint8_t>().swap(buffer);
  return label;
}

}  // namespace c2fmae::data
