#include "c2fmae/core/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "c2fmae/core/file_writer.h"

namespace c2fmae {
namespace {

std::string parent_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

[[noreturn]] void fail(const std::string& what, const std::string& path, int err) {
  throw std::runtime_error("cannot " + what + " " + path + ": " + std::strerror(err));
}

}  // namespace

std::string temporary_path(const std::string& path) { return path + ".tmp"; }

std::string unique_temporary_path(const std::string& path) {
  static std::atomic<uint64_t> counter{0};
  // A long name keeps its first 200 bytes, so that the suffix fits NAME_MAX (255).
  const auto slash = path.find_last_of('/');
  const auto base = slash == std::string::npos ? 0 : slash + 1;
  const auto stem = path.substr(0, base + std::min<size_t>(path.size() - base, 200));
  return stem + ".tmp." + std::to_string(::getpid()) + "." +
         std::to_string(counter.fetch_add(1, std::memory_order_relaxed));
}

void sync_path(const std::string& path, bool directory) {
  const int fd = ::open(path.c_str(), directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) fail("open", path, errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) fail("sync", path, err);
}

void write_file_atomically(const std::string& path,
                           const std::function<void(const std::string& tmp)>& write) {
  // Created here, exclusively and not through a link: a user's <path>.tmp, or a link planted
  // there, is never written through; `write` then opens the empty file as its own.
  const std::string tmp = unique_temporary_path(path);
  FileWriter(tmp, 0666, FileWriter::Existing::kCreateNew).close();
  try {
    write(tmp);
    sync_path(tmp, false);
    if (std::rename(tmp.c_str(), path.c_str()) != 0) fail("rename " + tmp + " to", path, errno);
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
  sync_path(parent_of(path), true);
}

void write_bytes_atomically(const std::string& path, const void* data, size_t size,
                            bool sync_folder) {
  const std::string tmp = unique_temporary_path(path);
  FileWriter out(tmp, 0666, FileWriter::Existing::kCreateNew);  // throws before tmp is ours
  try {
    out.write(data, size);
    out.sync();
    out.close();
    if (std::rename(tmp.c_str(), path.c_str()) != 0) fail("rename " + tmp + " to", path, errno);
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
  if (sync_folder) sync_path(parent_of(path), true);
}

void write_text_atomically(const std::string& path, const std::string& text) {
  write_file_atomically(path, [&](const std::string& tmp) {
    FileWriter out(tmp, 0666);
    out.write(text.data(), text.size());
    out.close();
  });
}

void replace_symlink(const std::string& link, const std::string& target) {
  // A name no other writer uses: a user's <link>.tmp is never touched.
  const std::string tmp = unique_temporary_path(link);
  if (::symlink(target.c_str(), tmp.c_str()) != 0) fail("create the link", tmp, errno);
  if (std::rename(tmp.c_str(), link.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    fail("rename " + tmp + " to", link, err);
  }
  sync_path(parent_of(link), true);
}

}  // namespace c2fmae
