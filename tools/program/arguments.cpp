#include "arguments.h"

#include <CLI/CLI.hpp>
#include <stdexcept>

namespace c2fmae::program {

struct Arguments::Impl {
  explicit Impl(const std::string& about) : app(about) {}
  CLI::App app;
  CLI::Option* last = nullptr;

  CLI::Option& current() {
    if (!last) throw std::logic_error("program::Arguments: a modifier before any option");
    return *last;
  }
};

Arguments::Arguments(const std::string& about) : impl_(std::make_unique<Impl>(about)) {}
Arguments::~Arguments() = default;

void Arguments::footer(const std::string& text) { impl_->app.footer(text); }

Arguments& Arguments::option(const std::string& names, std::string& value,
                             const std::string& help) {
  impl_->last = impl_->app.add_option(names, value, help);
  return *this;
}

Arguments& Arguments::option(const std::string& names, std::vector<std::string>& values,
                             const std::string& help) {
  impl_->last = impl_->app.add_option(names, values, help);
  return *this;
}

Arguments& Arguments::option(const std::string& names, int64_t& value, const std::string& help) {
  impl_->last = impl_->app.add_option(names, value, help);
  return *this;
}

Arguments& Arguments::option(const std::string& names, std::vector<int64_t>& values,
                             const std::string& help) {
  impl_->last = impl_->app.add_option(names, values, help);
  return *this;
}

Arguments& Arguments::flag(const std::string& names, bool& value, const std::string& help) {
  impl_->last = impl_->app.add_flag(names, value, help);
  return *this;
}

Arguments& Arguments::required() {
  impl_->current().required();
  return *this;
}

Arguments& Arguments::range(int64_t low, int64_t high) {
  impl_->current().check(CLI::Range(low, high));
  return *this;
}

Arguments& Arguments::delimiter(char delimiter) {
  impl_->current().delimiter(delimiter);
  return *this;
}

Arguments& Arguments::show_default() {
  impl_->current().capture_default_str();
  return *this;
}

bool Arguments::given(const std::string& name) const { return impl_->app.count(name) > 0; }

std::optional<int> Arguments::parse(int argc, char** argv) {
  try {
    impl_->app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return impl_->app.exit(e) == 0 ? 0 : 2;
  }
  return std::nullopt;
}

}  // namespace c2fmae::program
