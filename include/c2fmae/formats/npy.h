// Tensors as NumPy .npy files (format version 1.0), for results that Python tools read with
// numpy.load: a 10-byte preamble ("\x93NUMPY", version 1.0, little-endian uint16 header
// length), a Python dict literal naming dtype, order and shape, padded with spaces to a
// multiple of 64 bytes and ended by "\n", then the raw data in C order. Format:
// https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
#pragma once
#include <torch/types.h>

#include <string>
#include <vector>

namespace c2fmae::formats {

/// The NumPy dtype string of a tensor type this writer supports: uint8 "|u1", int64 "<i8",
/// float32 "<f4"; throws std::invalid_argument for any other.
std::string npy_dtype(torch::ScalarType type);

/// The preamble and header of an .npy file holding a C-order array of `dtype` (e.g. "<i8")
/// and `shape`: its length is a multiple of 64 and it ends with "\n".
std::string npy_header(const std::string& dtype, const std::vector<int64_t>& shape);

/// Writes `tensor` (uint8, int64 or float32, any shape and device) to `path` as an .npy
/// file, atomically (core/atomic_file.h). Throws std::invalid_argument for another dtype and
/// std::runtime_error naming the path and the OS reason when the file cannot be written.
void write_npy(const std::string& path, const torch::Tensor& tensor);

}  // namespace c2fmae::formats
