#include "c2fmae/core/error_text.h"

#include <c10/util/Exception.h>

#include <cstdio>
#include <regex>

namespace c2fmae {

std::string without_source_locations(std::string text) {
  // "[enforce fail at alloc_cpu.cpp:117] ", "[/pytorch/third_party/gloo/gloo/transport/tcp/
  // pair.cc:446] ": where in LibTorch's (or gloo's) sources the error was raised.
  static const std::regex location(
      R"(\[(enforce fail at )?[^\]\s]*\.(cc|cpp|cxx|h|hpp|cu|cuh|c):[0-9]+\] ?)");
  return std::regex_replace(text, location, "");
}

std::string error_text(const std::exception& e) {
  std::string text = e.what();
  if (const auto* c10_error = dynamic_cast<const c10::Error*>(&e)) {
    text = c10_error->what_without_backtrace();
    // Some messages still end with "Exception raised from <function> at <file>:<line>".
    const auto raised = text.find("\nException raised from ");
    if (raised != std::string::npos) text.erase(raised);
  }
  text = without_source_locations(std::move(text));
  // The CPU allocator's words for a failed allocation; CUDA's OutOfMemoryError says more.
  if (text.find("DefaultCPUAllocator: not enough memory") != std::string::npos ||
      text.find("DefaultCPUAllocator: can't allocate memory") != std::string::npos) {
    static const std::regex bytes(R"(allocate ([0-9]+) bytes)");
    std::smatch m;
    std::string size;
    if (std::regex_search(text, m, bytes)) {
      char gib[64];
      std::snprintf(gib, sizeof gib, " of %.1f GiB", std::stod(m[1].str()) / (1 << 30));
      size = gib;
    }
    text = "out of memory: an allocation" + size + " failed (the CPU allocator)" +
           "\nhint: lower data.batch_size (raise optim.accum_steps to keep the effective batch), "
           "data.prefetch or model.img_size; the start-up table's memory estimate shows what "
           "the run needs";
  }
  return text;
}

}  // namespace c2fmae
