#include "guarded_main.h"

#include <csignal>
#include <iostream>

#include "c2fmae/config/config_error.h"
#include "c2fmae/core/error_text.h"
#include "c2fmae/core/usage_error.h"

namespace c2fmae::program {

int guarded_main(const std::string& name, const std::function<int()>& body) {
  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGXFSZ, SIG_IGN);
  try {
    return body();
  } catch (const config::ConfigError& e) {
    std::cerr << "config error: " << e.what() << "\n";
    return 2;
  } catch (const UsageError& e) {
    std::cerr << name << ": " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << name << ": " << error_text(e) << "\n";
    return 1;
  }
}

}  // namespace c2fmae::program
