// The message of an exception as a user should see it: LibTorch's errors (c10::Error) carry
// a C++ backtrace ("frame #0 ...", "Exception raised from ...") that says nothing to a user
// and is left out here.
#pragma once
#include <exception>
#include <string>

namespace c2fmae {

/// e.what(), without LibTorch's backtrace.
std::string error_text(const std::exception& e);

}  // namespace c2fmae
