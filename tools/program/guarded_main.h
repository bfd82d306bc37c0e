// The frame of every program's main: what may go wrong becomes an exit code and one line,
// never a LibTorch backtrace.
#pragma once
#include <functional>
#include <string>

namespace c2fmae::program {

/// Runs `body` as the main of the program `name` and returns its exit code. A closed output
/// pipe and a file-size limit are write errors rather than kills (SIGPIPE and SIGXFSZ are
/// ignored). What escapes `body` is printed on stderr and mapped: config::ConfigError
/// ("config error: ...") and UsageError ("<name>: ...") exit 2, any other exception
/// ("<name>: <what went wrong>") exits 1.
int guarded_main(const std::string& name, const std::function<int()>& body);

}  // namespace c2fmae::program
