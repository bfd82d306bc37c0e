// Tensors as safetensors files, the format timm and the Hugging Face hub load weights from:
// an 8-byte little-endian uint64 N, then N bytes of UTF-8 JSON header, then the data buffer.
// The header maps each tensor name to {"dtype": "F32", "shape": [..], "data_offsets":
// [begin, end]} (byte offsets into the buffer) and may hold "__metadata__", a map of
// strings. Data are little-endian, in C order, one tensor after the other with no gaps.
// Format and the checks a reader makes: https://github.com/huggingface/safetensors
// (safetensors/src/tensor.rs).
#pragma once
#include <torch/types.h>
// After types.h: ordered_dict.h uses TORCH_CHECK without including its header.
#include <torch/ordered_dict.h>

#include <map>
#include <stdexcept>
#include <string>

namespace c2fmae::formats {

/// A file that is not a valid safetensors file: the message names the file and what is wrong.
struct SafetensorsError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// The content of a safetensors file.
struct SafetensorsFile {
  /// In file order (by data offset), on the CPU, contiguous, each owning its memory.
  torch::OrderedDict<std::string, torch::Tensor> tensors;
  /// The header's "__metadata__" (empty when it has none).
  std::map<std::string, std::string> metadata;
};

/// Reads `path`. The dtypes read are those write_safetensors writes. Throws SafetensorsError
/// naming `path` and the problem for: a missing or unreadable file (with the OS reason), a
/// file shorter than 8 bytes, a header length beyond the file or over 100 MB (the reference
/// reader's limit), a header that is not UTF-8 or not one JSON object, an entry without
/// dtype, shape or data_offsets or with a value of the wrong type, an unknown dtype, a
/// negative dimension, offsets outside the buffer, tensors that overlap, leave gaps or do not
/// cover the buffer, a byte size other than dtype size x number of elements (or one that
/// overflows 64 bits), a name given twice, and metadata that is not string to string.
/// The header is parsed with yaml-cpp (JSON is YAML's flow syntax): every JSON header reads
/// as JSON says, and a few non-JSON spellings (a trailing comma) are tolerated.
SafetensorsFile read_safetensors(const std::string& path);

/// Writes `tensors` (any device, any strides: copied to the CPU in C order) and `metadata`
/// to `path` atomically (core/atomic_file.h). Dtypes: float64, float32, float16, bfloat16,
/// int64, int32, int16, int8, uint8 and bool (F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL); any
/// other, a non-strided tensor, the name "__metadata__" or text that is not UTF-8 throws
/// std::invalid_argument. The header is compact JSON padded with spaces to a multiple of 8
/// bytes, as the Python library writes it. Tensors are stored by decreasing element size and,
/// within one size, in the given order, so that every tensor's data is aligned to its element
/// size (the Python library sorts by dtype for the same reason); read_safetensors returns
/// them in that order. A failed write throws std::runtime_error naming the path and the OS
/// reason.
void write_safetensors(const std::string& path,
                       const torch::OrderedDict<std::string, torch::Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace c2fmae::formats
