#include "c2fmae/core/error_text.h"

#include <c10/util/Exception.h>

namespace c2fmae {

std::string error_text(const std::exception& e) {
  if (const auto* c10_error = dynamic_cast<const c10::Error*>(&e)) {
    std::string text = c10_error->what_without_backtrace();
    // Some messages still end with "Exception raised from <function> at <file>:<line>".
    const auto raised = text.find("\nException raised from ");
    if (raised != std::string::npos) text.erase(raised);
    return text;
  }
  return e.what();
}

}  // namespace c2fmae
