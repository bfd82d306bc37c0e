#include "c2fmae/masking/generator_registry.h"

#include <map>
#include <mutex>
#include <stdexcept>

#include "c2fmae/config/keyframe.h"
#include "c2fmae/masking/block_generator.h"
#include "c2fmae/masking/evolved_generator.h"
#include "c2fmae/masking/instance_generator.h"
#include "c2fmae/masking/random_generator.h"
#include "c2fmae/masking/semantic_generator.h"
#include "c2fmae/masking/semmae_generator.h"

namespace c2fmae::masking {
namespace {

template <class G>
GeneratorFactory factory_of() {
  return [](const MaskSpec& spec, const config::MaskingConfig& config) {
    return std::make_unique<G>(spec, config);
  };
}

struct Registry {
  std::mutex mutex;
  std::map<std::string, GeneratorFactory> factories;
};

/// The registry, created with the built-in generators on first use (so that static
/// registrations in other files may run before or after it).
Registry& registry() {
  static Registry r;
  static std::once_flag built_in;
  std::call_once(built_in, [] {
    // The built-in generators: one line each.
    r.factories.emplace("random", factory_of<RandomGenerator>());
    r.factories.emplace("semantic", factory_of<SemanticGenerator>());
    r.factories.emplace("instance", factory_of<InstanceGenerator>());
    r.factories.emplace("semmae", factory_of<SemmaeGenerator>());
    r.factories.emplace("evolved", factory_of<EvolvedGenerator>());
    r.factories.emplace("block", factory_of<BlockGenerator>());
  });
  return r;
}

}  // namespace

void register_generator(const std::string& name, GeneratorFactory factory) {
  const bool identifier =
      !name.empty() &&
      name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") == std::string::npos;
  if (!identifier || name == "at" || name.rfind(config::kLossWeightKeyPrefix, 0) == 0) {
    throw std::invalid_argument("mask generator name '" + name +
                                "' is not usable as a keyframe key\nhint: use lower-case "
                                "letters, digits and _, not 'at' or 'weight_*'");
  }
  auto& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  if (!r.factories.emplace(name, std::move(factory)).second) {
    throw std::invalid_argument("mask generator '" + name + "' is registered twice");
  }
}

bool is_registered_generator(const std::string& name) {
  auto& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  return r.factories.count(name) > 0;
}

std::vector<std::string> generator_names() {
  auto& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  std::vector<std::string> names;
  for (const auto& f : r.factories) names.push_back(f.first);
  return names;
}

std::unique_ptr<MaskGenerator> make_generator(const std::string& name, const MaskSpec& spec,
                                              const config::MaskingConfig& config) {
  GeneratorFactory factory;
  {
    auto& r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    auto it = r.factories.find(name);
    if (it != r.factories.end()) factory = it->second;
  }
  if (!factory) {
    std::string known;
    for (const auto& n : generator_names()) known += (known.empty() ? "" : ", ") + n;
    throw std::invalid_argument("unknown mask generator '" + name + "'\nhint: known: " + known);
  }
  return factory(spec, config);
}

std::string generators_that(const MaskSpec& spec, const config::MaskingConfig& config,
                            const std::function<bool(const MaskNeeds&)>& accept) {
  std::string names;
  for (const auto& name : generator_names()) {
    bool ok = false;
    try {
      ok = accept(make_generator(name, spec, config)->needs());
    } catch (const std::exception&) {
      // one that cannot be made for this spec is no alternative
    }
    if (ok) names += (names.empty() ? "" : ", ") + name;
  }
  return names;
}

}  // namespace c2fmae::masking
