#include "c2fmae/core/number_text.h"

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <system_error>

namespace c2fmae {

std::string shortest_text(double value) {
  char buf[64];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  if (ec != std::errc()) return std::to_string(value);  // unreachable with 64 chars
  return std::string(buf, end);
}

std::optional<double> parse_number(const std::string& text) {
  char* end = nullptr;
  errno = 0;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || errno == ERANGE) return std::nullopt;
  return value;
}

}  // namespace c2fmae
