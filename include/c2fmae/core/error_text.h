// The message of an exception as a user should see it: LibTorch's errors (c10::Error) carry
// a C++ backtrace ("frame #0 ...", "Exception raised from ...") that says nothing to a user
// and is left out here, as are the source locations in its text (and in gloo's).
#pragma once
#include <exception>
#include <string>

namespace c2fmae {

/// e.what(), without LibTorch's backtrace and source locations; a failed CPU allocation
/// reads "out of memory: ..." with a hint naming the keys that drive memory.
std::string error_text(const std::exception& e);

/// `text` without "[<file>.cpp:<line>] " and "[enforce fail at <file>.cpp:<line>] " marks.
std::string without_source_locations(std::string text);

}  // namespace c2fmae
