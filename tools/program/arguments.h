// A program's command line: options and flags bound to variables, parsed by CLI11 in one
// translation unit (arguments.cpp), so that no program's main compiles CLI11 again.
//
//   program::Arguments args("c2fmae_pack: packs folder dataset splits into tar shards");
//   args.option("--root", root, "dataset root").required();
//   args.option("--shard-mb", shard_mb, "largest shard in MiB").show_default();
//   if (const auto code = args.parse(argc, argv)) return *code;   // --help, or a bad line
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace c2fmae::program {

class Arguments {
 public:
  explicit Arguments(const std::string& about);
  ~Arguments();
  Arguments(const Arguments&) = delete;
  Arguments& operator=(const Arguments&) = delete;

  /// Text printed after the options by --help.
  void footer(const std::string& text);

  /// "--name,-n VALUE" bound to `value`; the modifiers below apply to the option added last.
  Arguments& option(const std::string& names, std::string& value, const std::string& help);
  /// Repeatable: every occurrence appends.
  Arguments& option(const std::string& names, std::vector<std::string>& values,
                    const std::string& help);
  Arguments& option(const std::string& names, int64_t& value, const std::string& help);
  /// Repeatable, and one occurrence may hold a list split at `delimiter` ("--threads 1,2").
  Arguments& option(const std::string& names, std::vector<int64_t>& values,
                    const std::string& help);
  Arguments& flag(const std::string& names, bool& value, const std::string& help);

  /// The program refuses to start without this option.
  Arguments& required();
  /// A number in [low, high] (each value of a list).
  Arguments& range(int64_t low, int64_t high);
  /// One occurrence may list values split at `delimiter`.
  Arguments& delimiter(char delimiter);
  /// --help shows the value the variable held before parsing.
  Arguments& show_default();

  /// Whether the option `name` ("--resume") was on the command line.
  bool given(const std::string& name) const;

  /// Parses the command line. Returns the exit code when it ends the program: 0 after --help
  /// (printed), 2 after a bad command line (the problem printed); nothing otherwise.
  std::optional<int> parse(int argc, char** argv);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace c2fmae::program
