// What stands between a program and an input file a user named (--pretrained, --checkpoint,
// --resume PATH): one check before anything opens it, so that a FIFO never blocks open() for
// ever, a device is never read without end, and a link loop is not called "no such file".
// Torch-free.
#pragma once
#include <string>

namespace c2fmae {

/// Why `path` (followed through links) cannot be read as a whole file, or "" when it can: a
/// readable regular file. The reasons read after the path: "does not exist", "is a link
/// loop (too many levels of symbolic links)", "is a directory", "is a FIFO, not a file",
/// "is a device, not a file", "is a socket, not a file", "cannot be read: <OS reason>", and
/// "is empty" unless `allow_empty`.
std::string input_file_problem(const std::string& path, bool allow_empty = false);

}  // namespace c2fmae
