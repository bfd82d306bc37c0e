#include "c2fmae/formats/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <torch/torch.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "c2fmae/core/atomic_file.h"
#include "c2fmae/core/file_writer.h"
#include "c2fmae/core/json_text.h"
#include "c2fmae/core/usage_error.h"

namespace c2fmae::formats {

// Tensor bytes are copied as they are in memory; safetensors stores them little-endian.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "safetensors reading and writing assume a little-endian host");

namespace {

// The reference reader refuses longer headers (safetensors/src/tensor.rs, MAX_HEADER_SIZE).
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
constexpr uint64_t kMaxBytes = std::numeric_limits<int64_t>::max();
constexpr const char* kJsonSpace = " \t\n\r";
constexpr const char* kTruncated = "the file is truncated: write or download it again";
constexpr const char* kDamaged =
    "the file is damaged or its writer is faulty: write or download it again";
constexpr const char* kNotSafetensors =
    "is it a safetensors file? A PyTorch .pt/.pth checkpoint is not: convert it in Python with "
    "safetensors.torch.save_file(torch.load(f), out)";

struct Dtype {
  const char* name;
  torch::ScalarType type;
};

constexpr Dtype kDtypes[] = {{"F64", torch::kDouble}, {"F32", torch::kFloat},
                             {"F16", torch::kHalf},   {"BF16", torch::kBFloat16},
                             {"I64", torch::kLong},   {"I32", torch::kInt},
                             {"I16", torch::kShort},  {"I8", torch::kChar},
                             {"U8", torch::kByte},    {"BOOL", torch::kBool}};

std::string dtype_names() {
  std::string names;
  for (const auto& d : kDtypes) names += std::string(names.empty() ? "" : ", ") + d.name;
  return names;
}

const Dtype* find_dtype(const std::string& name) {
  for (const auto& d : kDtypes)
    if (name == d.name) return &d;
  return nullptr;
}

const Dtype* find_dtype(torch::ScalarType type) {
  for (const auto& d : kDtypes)
    if (type == d.type) return &d;
  return nullptr;
}

[[noreturn]] void fail(const std::string& path, const std::string& problem,
                       const std::string& hint = {}) {
  const auto message = "safetensors file " + path + ": " + problem;
  throw SafetensorsError(hint.empty() ? message : with_hint(message, hint));
}

// A file read at given offsets; every failure names the file.
class InputFile {
 public:
  explicit InputFile(const std::string& path)
      : path_(path), fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {
    if (fd_ < 0) fail(path_, std::string("cannot be opened: ") + std::strerror(errno));
  }
  ~InputFile() { ::close(fd_); }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  uint64_t size() const {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) fail(path_, std::string("cannot be read: ") + std::strerror(errno));
    if (S_ISDIR(st.st_mode)) fail(path_, std::string("cannot be read: ") + std::strerror(EISDIR));
    return static_cast<uint64_t>(st.st_size);
  }

  void read(void* out, uint64_t count, uint64_t offset) const {
    auto* dst = static_cast<char*>(out);
    while (count > 0) {
      const auto got = ::pread(fd_, dst, std::min<uint64_t>(count, 1 << 30), offset);
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) fail(path_, std::string("cannot be read: ") + std::strerror(errno));
      if (got == 0) fail(path_, "ends early, at byte " + std::to_string(offset), kTruncated);
      dst += got, count -= static_cast<uint64_t>(got), offset += static_cast<uint64_t>(got);
    }
  }

 private:
  std::string path_;
  int fd_;
};

// One past the '}' that closes the JSON object opening at `begin` (npos if none does).
// YAML::Load reads the first document only: text after the object would pass unseen.
size_t object_end(const std::string& text, size_t begin) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = begin; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if ((c == '}' || c == ']') && --depth == 0) {
      return i + 1;
    }
  }
  return std::string::npos;
}

YAML::Node parse_header(const std::string& path, const std::string& header) {
  if (!is_utf8(header)) fail(path, "the header is not valid UTF-8", kNotSafetensors);
  const auto first = header.find_first_not_of(kJsonSpace);
  if (first == std::string::npos || header[first] != '{')
    fail(path, "the header does not start with '{', so it is not a JSON object", kNotSafetensors);
  const auto end = object_end(header, first);
  if (end == std::string::npos) fail(path, "the header's JSON object is not closed", kDamaged);
  if (header.find_first_not_of(kJsonSpace, end) != std::string::npos)
    fail(path, "the header has text after its JSON object, at byte " + std::to_string(end));
  YAML::Node root;
  try {
    root = YAML::Load(header);
  } catch (const YAML::Exception& e) {
    fail(path, "the header is not valid JSON: " + e.msg + " at byte " + std::to_string(e.mark.pos) +
                   " of the header");
  }
  if (!root.IsMap()) fail(path, "the header is not a JSON object");
  return root;
}

// A JSON string is a quoted YAML scalar; numbers, true, false and null are plain ones.
bool is_string(const YAML::Node& node) { return node.IsScalar() && node.Tag() == "!"; }

// A JSON integer; magnitudes past 2^64 - 1 saturate (every check below then fails).
struct Integer {
  bool negative;
  uint64_t magnitude;
};

std::optional<Integer> json_integer(const YAML::Node& node) {
  if (!node.IsScalar() || node.Tag() != "?") return std::nullopt;
  const auto& text = node.Scalar();
  const size_t first = !text.empty() && text[0] == '-' ? 1 : 0;
  if (text.size() == first) return std::nullopt;
  uint64_t value = 0;
  for (size_t i = first; i < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
    const uint64_t digit = text[i] - '0';
    const uint64_t max = std::numeric_limits<uint64_t>::max();
    value = value > (max - digit) / 10 ? max : value * 10 + digit;
  }
  return Integer{first == 1 && value != 0, value};
}

std::map<std::string, std::string> parse_metadata(const std::string& path, const YAML::Node& node) {
  if (!node.IsMap()) fail(path, "__metadata__ is not a JSON object of strings");
  std::map<std::string, std::string> metadata;
  for (const auto& item : node) {
    if (!is_string(item.first)) fail(path, "__metadata__ has a key that is not a string");
    const auto& key = item.first.Scalar();
    if (!is_string(item.second))
      fail(path, "__metadata__ value of '" + key + "' is not a string",
           "metadata maps strings to strings: write other values as text");
    if (!metadata.emplace(key, item.second.Scalar()).second)
      fail(path, "__metadata__ has the key '" + key + "' twice");
  }
  return metadata;
}

// A header entry, checked against itself and the buffer; its place among the others is
// checked once all are read.
struct Entry {
  std::string name;
  const Dtype* dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;
};

Entry parse_entry(const std::string& path, const std::string& name, const YAML::Node& node,
                  uint64_t buffer_size) {
  const auto tensor = "tensor '" + name + "'";
  if (!node.IsMap())
    fail(path, tensor + " is not a JSON object with dtype, shape and data_offsets");
  std::optional<YAML::Node> dtype, shape, offsets;
  for (const auto& field : node) {
    const auto& key = field.first.Scalar();
    auto* slot = key == "dtype"          ? &dtype
                 : key == "shape"        ? &shape
                 : key == "data_offsets" ? &offsets
                                         : nullptr;
    if (!slot) continue;  // other fields are ignored, as the reference reader does
    if (*slot) fail(path, tensor + " has " + key + " twice");
    slot->emplace(field.second);
  }
  for (const auto& [field, key] : {std::pair{&dtype, "dtype"}, std::pair{&shape, "shape"},
                                   std::pair{&offsets, "data_offsets"}})
    if (!*field) fail(path, tensor + " has no " + key);

  if (!is_string(*dtype)) fail(path, tensor + ": dtype is not a string");
  Entry entry{name, find_dtype(dtype->Scalar()), {}, 0, 0};
  if (!entry.dtype)
    fail(path, tensor + " has dtype '" + dtype->Scalar() + "', which is not supported",
         "the dtypes read are " + dtype_names() + ": convert the tensor before saving it");

  if (!shape->IsSequence()) fail(path, tensor + ": shape is not a list of integers");
  std::string shape_text;
  uint64_t numel = 1;
  bool overflow = false;
  for (const auto& dim : *shape) {
    const auto value = json_integer(dim);
    if (!value) fail(path, tensor + ": shape is not a list of integers");
    if (value->negative)
      fail(path, tensor + " has the negative dimension " + dim.Scalar() + " in its shape");
    overflow = overflow || value->magnitude > kMaxBytes ||
               __builtin_mul_overflow(numel, value->magnitude, &numel);
    entry.shape.push_back(static_cast<int64_t>(std::min(value->magnitude, kMaxBytes)));
    shape_text += (shape_text.empty() ? "" : ", ") + dim.Scalar();
  }
  const uint64_t item_size = c10::elementSize(entry.dtype->type);
  uint64_t nbytes = 0;
  overflow = overflow || __builtin_mul_overflow(numel, item_size, &nbytes) || nbytes > kMaxBytes;

  const YAML::Node& pair = *offsets;
  if (!pair.IsSequence() || pair.size() != 2)
    fail(path, tensor + ": data_offsets is not a list of two integers");
  const auto begin = json_integer(pair[0]), end = json_integer(pair[1]);
  if (!begin || !end || begin->negative || end->negative)
    fail(path, tensor + ": data_offsets is not a list of two non-negative integers");
  entry.begin = begin->magnitude, entry.end = end->magnitude;
  const auto offsets_text = "data_offsets [" + pair[0].Scalar() + ", " + pair[1].Scalar() + "]";
  if (entry.end < entry.begin)
    fail(path, tensor + " has " + offsets_text + " that end before they begin");
  if (entry.end > buffer_size)
    fail(path,
         tensor + " has " + offsets_text + " outside the data buffer of " +
             std::to_string(buffer_size) + " bytes",
         kTruncated);
  const auto described = tensor + " (" + entry.dtype->name + ", shape [" + shape_text + "])";
  if (overflow) fail(path, described + " has more bytes than fit in a 64-bit size");
  if (nbytes != entry.end - entry.begin)
    fail(path, described + " needs " + std::to_string(nbytes) + " bytes but its " + offsets_text +
                   " hold " + std::to_string(entry.end - entry.begin));
  return entry;
}

}  // namespace

SafetensorsFile read_safetensors(const std::string& path) {
  const InputFile file(path);
  const uint64_t file_size = file.size();
  if (file_size < 8)
    fail(path,
         "the file is " + std::to_string(file_size) +
             " bytes long, too short for the 8-byte header length",
         kTruncated);
  uint64_t header_size = 0;
  file.read(&header_size, 8, 0);
  if (header_size > kMaxHeaderBytes)
    fail(path, "its header length " + std::to_string(header_size) + " is over the limit of 100 MB",
         kNotSafetensors);
  if (header_size > file_size - 8)
    fail(path,
         "its header length " + std::to_string(header_size) + " runs past the end of the " +
             std::to_string(file_size) + "-byte file",
         kTruncated);
  std::string header(header_size, '\0');
  file.read(header.data(), header_size, 8);
  const YAML::Node root = parse_header(path, header);

  const uint64_t buffer_size = file_size - 8 - header_size;
  SafetensorsFile result{torch::OrderedDict<std::string, torch::Tensor>("tensor"), {}};
  std::vector<Entry> entries;
  std::set<std::string> names;
  for (const auto& item : root) {
    if (!is_string(item.first)) fail(path, "the header has a key that is not a string");
    const auto& name = item.first.Scalar();
    if (!names.insert(name).second) fail(path, "the header names '" + name + "' twice");
    if (name == "__metadata__")
      result.metadata = parse_metadata(path, item.second);
    else
      entries.push_back(parse_entry(path, name, item.second, buffer_size));
  }

  // Writers may list tensors in any order; their data must tile the buffer.
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return std::pair(a.begin, a.end) < std::pair(b.begin, b.end);
  });
  uint64_t covered = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    if (e.begin < covered)
      fail(path,
           "tensor '" + e.name + "' (bytes " + std::to_string(e.begin) + " to " +
               std::to_string(e.end) + ") overlaps tensor '" + entries[i - 1].name +
               "', which ends at byte " + std::to_string(covered),
           kDamaged);
    if (e.begin > covered)
      fail(path,
           "bytes " + std::to_string(covered) + " to " + std::to_string(e.begin) +
               " of the data buffer, before tensor '" + e.name + "', belong to no tensor",
           kDamaged);
    covered = e.end;
  }
  if (covered != buffer_size)
    fail(path,
         "the tensors end at byte " + std::to_string(covered) + " of the " +
             std::to_string(buffer_size) + "-byte data buffer: the rest belongs to no tensor",
         kDamaged);

  const uint64_t data_start = 8 + header_size;
  for (const auto& e : entries) {
    auto tensor = torch::empty(e.shape, torch::TensorOptions().dtype(e.dtype->type));
    file.read(tensor.data_ptr(), e.end - e.begin, data_start + e.begin);
    result.tensors.insert(e.name, std::move(tensor));
  }
  return result;
}

void write_safetensors(const std::string& path,
                       const torch::OrderedDict<std::string, torch::Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  const auto refuse = [&](const std::string& problem, const std::string& hint) {
    throw std::invalid_argument(with_hint("write_safetensors " + path + ": " + problem, hint));
  };
  struct Item {
    const std::string* name;
    const torch::Tensor* tensor;
    const Dtype* dtype;
  };
  std::vector<Item> items;
  for (const auto& item : tensors) {
    const auto& name = item.key();
    const auto& tensor = item.value();
    if (name == "__metadata__")
      refuse("a tensor is named __metadata__", "the format reserves that name: rename the tensor");
    if (!is_utf8(name)) refuse("tensor name '" + name + "' is not UTF-8", "rename the tensor");
    if (!tensor.defined() || tensor.layout() != torch::kStrided)
      refuse("tensor '" + name + "' is undefined or not dense", "store dense tensors only");
    const auto* dtype = find_dtype(tensor.scalar_type());
    if (!dtype)
      refuse("tensor '" + name + "' has dtype " + c10::toString(tensor.scalar_type()) +
                 ", which is not supported",
             "convert it to float64, float32, float16, bfloat16, int64, int32, int16, int8, "
             "uint8 or bool");
    items.push_back({&name, &tensor, dtype});
  }
  for (const auto& [key, value] : metadata)
    if (!is_utf8(key) || !is_utf8(value))
      refuse("metadata '" + key + "' is not UTF-8", "store text as UTF-8");
  std::stable_sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    return c10::elementSize(a.dtype->type) > c10::elementSize(b.dtype->type);
  });

  std::string header = "{";
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    for (const auto& [key, value] : metadata)
      header += json_string(key) + ":" + json_string(value) + ",";
    header.back() = '}';
    header += ',';
  }
  uint64_t offset = 0;
  for (const auto& item : items) {
    std::string dims;
    for (const auto d : item.tensor->sizes()) dims += (dims.empty() ? "" : ",") + std::to_string(d);
    const uint64_t nbytes = item.tensor->numel() * c10::elementSize(item.dtype->type);
    header += json_string(*item.name) + ":{\"dtype\":\"" + item.dtype->name + "\",\"shape\":[" +
              dims + "],\"data_offsets\":[" + std::to_string(offset) + "," +
              std::to_string(offset + nbytes) + "]},";
    offset += nbytes;
  }
  if (header.back() == ',') header.pop_back();
  header += '}';
  // Padding to 8 bytes keeps the buffer, and so every tensor, aligned (tensor.rs `prepare`).
  header.append((8 - header.size() % 8) % 8, ' ');
  if (header.size() > kMaxHeaderBytes)
    refuse("the header would be " + std::to_string(header.size()) +
               " bytes, over the 100 MB readers accept",
           "split the tensors over several files");

  write_file_atomically(path, [&](const std::string& tmp) {
    FileWriter out(tmp, 0666);
    const uint64_t header_size = header.size();
    out.write(&header_size, 8);
    out.write(header.data(), header.size());
    for (const auto& item : items) {
      const auto data = item.tensor->cpu().contiguous();
      out.write(data.data_ptr(), data.nbytes());
    }
    out.close();
  });
}

}  // namespace c2fmae::formats
