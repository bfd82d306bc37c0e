// What the training programs (c2fmae_pretrain, c2fmae_finetune) share around their run: the
// stop-signal handlers while they build and run, the checks of --resume / --overwrite /
// --output-dir, and the command that resumes a run.
#pragma once
#include <filesystem>
#include <string>

#include "c2fmae/core/error_text.h"
#include "c2fmae/train/stop_signal.h"

namespace c2fmae::tools {

/// `arg` as one word for a POSIX shell: unchanged when it holds only safe characters, else
/// single-quoted.
inline std::string shell_quote(const std::string& arg) {
  const bool safe = !arg.empty() && arg.find_first_not_of(
                                        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        "0123456789-_./=:,+@%") == std::string::npos;
  if (safe) return arg;
  std::string out = "'";
  for (char c : arg) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

/// The command that resumes this run, printed when a signal stops it: ours without --resume
/// and --overwrite, each argument quoted for a POSIX shell where needed.
inline std::string resume_command(int argc, char** argv) {
  std::string command_line;
  for (int i = 0; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--resume" || arg == "--overwrite") {
      i += arg == "--resume";
      continue;
    }
    if (arg.rfind("--resume=", 0) == 0 || arg.rfind("--overwrite=", 0) == 0) continue;
    command_line += (i ? " " : "") + shell_quote(arg);
  }
  return command_line;
}

/// Arguments that contradict each other or say nothing: the problem with its hint, or "" if
/// none. `resume_given` / `output_dir_given`: whether the option was on the command line.
inline std::string run_argument_problem(bool resume_given, const std::string& resume,
                                        bool overwrite, bool output_dir_given,
                                        const std::string& output_dir) {
  if (resume_given && overwrite) {
    return with_hint("--resume and --overwrite contradict each other",
                     "continue the run with --resume, or start it over with --overwrite");
  }
  if (output_dir_given && output_dir.empty()) {
    return with_hint("--output-dir is empty", "give the run directory, e.g. --output-dir runs/my_run");
  }
  if (resume_given && resume.empty()) {
    return with_hint("--resume is empty", "use --resume auto or --resume PATH/checkpoint-N.pt");
  }
  if (!resume.empty() && resume != "auto") {
    std::error_code ec;
    if (!std::filesystem::exists(resume, ec)) {
      return with_hint("--resume " + resume + ": no such file",
                       "give an existing checkpoint, or --resume auto to continue the run "
                       "directory's newest one");
    }
    if (std::filesystem::is_directory(resume, ec)) {
      return with_hint("--resume " + resume + " is a directory",
                       "give a checkpoint file in it, or --resume auto with --output-dir " + resume);
    }
  }
  return "";
}

/// The stop signals' handlers while the program builds and runs (train/stop_signal.h).
struct StopHandlers {
  StopHandlers() { train::install_stop_handlers(); }
  ~StopHandlers() { train::remove_stop_handlers(); }
  StopHandlers(const StopHandlers&) = delete;
  StopHandlers& operator=(const StopHandlers&) = delete;
};

}  // namespace c2fmae::tools
