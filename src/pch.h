// Precompiled header shared by the library, the tools and the tests: LibTorch dominates
// compile time (about 24 s per translation unit without it, 8 s with it; DESIGN.md §5).
#pragma once
#include <ATen/ATen.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>
