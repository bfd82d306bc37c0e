// The one byte writer: every file the library writes byte by byte (tar shards, the shard
// index, safetensors and .npy files, checkpoints, the text files of a run) goes through
// FileWriter, so that short writes, EINTR and the errors of write, fsync and close are
// handled in one place. Torch-free.
#pragma once
#include <cstddef>
#include <stdexcept>
#include <string>

namespace c2fmae {

/// An OS failure on a file (a full disk, a read-only or missing folder, an I/O error): the
/// message is "cannot <what> <path>: <OS reason>".
class FileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// "cannot <what> <path>: <strerror(err)>" as a FileError.
[[noreturn]] void throw_file_error(const std::string& what, const std::string& path, int err);

/// Whether `path` exists (followed through links): false if it does not, true for a regular
/// file, or for a device when `devices` (written to, e.g. /dev/null); throws FileError
/// "cannot use PATH: not a regular file (...)" for anything else: a FIFO would block open()
/// for ever, a device would be read without end, a directory fails later.
bool regular_file_or_none(const std::string& path, bool devices = false);

/// Owns a file descriptor open for writing. write() hands all bytes to the OS (looping over
/// short writes and EINTR, no buffering of its own); failures throw FileError naming the
/// path and the OS reason. A writer destroyed without close() closes the descriptor and
/// reports nothing (the file is abandoned, as on an exception).
class FileWriter {
 public:
  /// What opening does to a file that exists.
  /// kCreateNew: refuse (FileError, EEXIST) a path that exists, a symlink included.
  enum class Existing { kTruncate, kAppend, kCreateNew };
  /// Creates `path` with `mode` (before the umask), close-on-exec, or truncates it (or, with
  /// kAppend, writes after its end). Throws FileError "cannot create PATH: reason".
  explicit FileWriter(const std::string& path, unsigned mode = 0644,
                      Existing existing = Existing::kTruncate);
  ~FileWriter();
  FileWriter(const FileWriter&) = delete;
  FileWriter& operator=(const FileWriter&) = delete;

  /// Writes all `size` bytes. Throws FileError "cannot write PATH: reason" (and for any
  /// failure that try_write recorded earlier).
  void write(const void* data, size_t size);
  /// The non-throwing variant, for callbacks that must not throw (LibTorch's save_to): the
  /// first failure is recorded (error()) and later calls write nothing. False once failed.
  bool try_write(const void* data, size_t size) noexcept;
  /// The errno of the first failed write (0 if none).
  int error() const { return error_; }
  /// fsync. Throws FileError "cannot sync PATH: reason".
  void sync();
  /// Closes the file; a second call does nothing. A write failure that try_write recorded is
  /// thrown first ("cannot write PATH: reason", the file closed all the same); a failed close
  /// throws FileError "cannot close PATH: reason".
  void close();
  bool is_open() const { return fd_ >= 0; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
  int error_ = 0;
};

}  // namespace c2fmae
