// Deterministic seeds derived from (seed, step, ...): masks and batch splits are pure
// functions of these, so a resumed run draws exactly what the uninterrupted run drew.
#pragma once
#include <cstdint>
#include <initializer_list>

namespace c2fmae {

/// splitmix64 finaliser (Steele et al.), a well-mixed 64-bit hash.
inline uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

/// One seed from several parts, e.g. mix_seed({seed, step, sample}).
inline uint64_t mix_seed(std::initializer_list<uint64_t> parts) {
  uint64_t h = 0x2545F4914F6CDD1DULL;
  for (uint64_t p : parts) h = splitmix64(h ^ splitmix64(p));
  return h;
}

}  // namespace c2fmae
