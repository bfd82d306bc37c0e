#include "c2fmae/core/input_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace c2fmae {

std::string input_file_problem(const std::string& path, bool allow_empty) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      struct stat link {};
      return ::lstat(path.c_str(), &link) == 0 ? "is a broken link (its target does not exist)"
                                               : "does not exist";
    }
    if (errno == ELOOP) return "is a link loop (too many levels of symbolic links)";
    return std::string("cannot be read: ") + std::strerror(errno);
  }
  if (S_ISDIR(st.st_mode)) return "is a directory";
  if (S_ISFIFO(st.st_mode)) return "is a FIFO, not a file";
  if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) return "is a device, not a file";
  if (S_ISSOCK(st.st_mode)) return "is a socket, not a file";
  if (!S_ISREG(st.st_mode)) return "is not a regular file";
  if (::access(path.c_str(), R_OK) != 0) {
    return std::string("cannot be read: ") + std::strerror(errno);
  }
  if (st.st_size == 0 && !allow_empty) return "is empty";
  return "";
}

}  // namespace c2fmae
