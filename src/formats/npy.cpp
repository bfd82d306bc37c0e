#include "c2fmae/formats/npy.h"

#include <torch/torch.h>

#include <stdexcept>

#include "c2fmae/core/atomic_file.h"

namespace c2fmae::formats {

// The data are written in the machine's byte order, which the header declares as little.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "write_npy assumes a little-endian host");

std::string npy_dtype(torch::ScalarType type) {
  switch (type) {
    case torch::kUInt8:
      return "|u1";
    case torch::kLong:
      return "<i8";
    case torch::kFloat:
      return "<f4";
    default:
      throw std::invalid_argument(std::string("write_npy: dtype ") + c10::toString(type) +
                                  " is not supported\nhint: convert to uint8, int64 or float32");
  }
}

std::string npy_header(const std::string& dtype, const std::vector<int64_t>& shape) {
  std::string dims;
  for (const auto d : shape) dims += std::to_string(d) + ", ";
  if (shape.size() > 1) dims.resize(dims.size() - 2);  // (2, 3) but (2,) and ()
  if (shape.size() == 1) dims.pop_back();
  std::string dict =
      "{'descr': '" + dtype + "', 'fortran_order': False, 'shape': (" + dims + "), }";
  const size_t preamble = 10;  // magic (6) + version (2) + header length (2)
  dict.append((64 - (preamble + dict.size() + 1) % 64) % 64, ' ');
  dict += '\n';
  if (dict.size() > 65535) throw std::invalid_argument("write_npy: shape too long for .npy 1.0");
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(dict.size() & 0xFF);
  out += static_cast<char>(dict.size() >> 8);
  return out + dict;
}

void write_npy(const std::string& path, const torch::Tensor& tensor) {
  const auto dtype = npy_dtype(tensor.scalar_type());
  const auto data = tensor.cpu().contiguous();
  std::string bytes = npy_header(dtype, data.sizes().vec());
  bytes.append(static_cast<const char*>(data.data_ptr()), data.nbytes());
  // On POSIX a text write is byte for byte: the writer's error handling serves binary too.
  write_text_atomically(path, bytes);
}

}  // namespace c2fmae::formats
