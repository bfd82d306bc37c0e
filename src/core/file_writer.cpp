#include "c2fmae/core/file_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

namespace c2fmae {

void throw_file_error(const std::string& what, const std::string& path, int err) {
  throw FileError("cannot " + what + " " + path + ": " + std::strerror(err));
}

bool regular_file_or_none(const std::string& path, bool devices) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return false;
    throw_file_error("use", path, errno);
  }
  const bool device = S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode);
  if (S_ISREG(st.st_mode) || (device && devices)) return true;
  throw FileError("cannot use " + path + ": not a regular file (" +
                  (S_ISDIR(st.st_mode) ? "a directory" : "a device, FIFO or socket") +
                  ")\nhint: remove it; the run keeps a file of its own there");
}

FileWriter::FileWriter(const std::string& path, unsigned mode, Existing existing) : path_(path) {
  const int how = existing == Existing::kAppend      ? O_APPEND
                  : existing == Existing::kCreateNew ? O_EXCL | O_NOFOLLOW
                                                     : O_TRUNC;
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | how | O_CLOEXEC, static_cast<mode_t>(mode));
  if (fd_ < 0) throw_file_error("create", path_, errno);
}

FileWriter::~FileWriter() {
  if (fd_ >= 0) ::close(fd_);
}

bool FileWriter::try_write(const void* data, size_t size) noexcept {
  if (error_ != 0) return false;
  if (fd_ < 0) {
    error_ = EBADF;
    return false;
  }
  const auto* p = static_cast<const uint8_t*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd_, p, std::min<size_t>(size, size_t{1} << 30));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error_ = n < 0 ? errno : EIO;
      return false;
    }
    p += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

void FileWriter::write(const void* data, size_t size) {
  if (!try_write(data, size)) throw_file_error("write", path_, error_);
}

void FileWriter::sync() {
  if (fd_ < 0) throw_file_error("sync", path_, EBADF);
  if (::fsync(fd_) != 0) throw_file_error("sync", path_, errno);
}

void FileWriter::close() {
  if (fd_ < 0) return;
  const int fd = fd_;
  fd_ = -1;
  const int rc = ::close(fd);
  const int err = errno;
  if (error_ != 0) throw_file_error("write", path_, error_);
  if (rc != 0) throw_file_error("close", path_, err);
}

}  // namespace c2fmae
