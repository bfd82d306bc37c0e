// Mask generators by name. A new generator is one file (its class, constructed from the
// MaskSpec and the masking section) plus one line in the built-in list of
// src/masking/generator_registry.cpp; code outside the library (a test, a plug-in) adds
// one at run time:
//
//   static masking::GeneratorRegistration toy("toy", [](const auto& spec, const auto& cfg) {
//     return std::make_unique<ToyGenerator>(spec, cfg);
//   });
//
// after which curriculum keyframes may name it: {at: 0, toy: 0.5, random: 0.5}.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "c2fmae/masking/mask_generator.h"

namespace c2fmae::masking {

using GeneratorFactory = std::function<std::unique_ptr<MaskGenerator>(
    const MaskSpec& spec, const config::MaskingConfig& config)>;

/// Adds a generator; throws std::invalid_argument if the name is taken or not a plain
/// identifier, or if it collides with a keyframe key ("at", "weight_*").
void register_generator(const std::string& name, GeneratorFactory factory);
/// Whether `name` is registered.
bool is_registered_generator(const std::string& name);
/// Registered names, sorted.
std::vector<std::string> generator_names();
/// The registered generators whose needs, made for `spec` and `config`, `accept` allows,
/// joined with ", " ("block, evolved, random"): the hints that name the alternatives.
std::string generators_that(const MaskSpec& spec, const config::MaskingConfig& config,
                            const std::function<bool(const MaskNeeds&)>& accept);
/// A new generator called `name`; throws std::invalid_argument listing the known names.
std::unique_ptr<MaskGenerator> make_generator(const std::string& name, const MaskSpec& spec,
                                              const config::MaskingConfig& config);

/// Registers a generator when constructed (a static object in the file that defines it).
struct GeneratorRegistration {
  GeneratorRegistration(const std::string& name, GeneratorFactory factory) {
    register_generator(name, std::move(factory));
  }
};

}  // namespace c2fmae::masking
