#include "c2fmae/core/number_text.h"

#include <charconv>
#include <system_error>

namespace c2fmae {

std::string shortest_text(double value) {
  char buf[64];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  if (ec != std::errc()) return std::to_string(value);  // unreachable with 64 chars
  return std::string(buf, end);
}

}  // namespace c2fmae
