#include "c2fmae/formats/tar.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "c2fmae/core/usage_error.h"

namespace c2fmae::formats {
namespace {

constexpr uint64_t kBlock = kTarBlock;
constexpr size_t kWriteBuffer = size_t{4} << 20;
// The size field holds 11 octal digits; GNU's base-256 extension is read but not written.
constexpr uint64_t kMaxMemberSize = (uint64_t{1} << 33) - 1;

uint64_t padded(uint64_t n) { return tar_padded(n); }

// ustar header fields: offset and width.
struct Field {
  size_t offset, width;
};
constexpr Field kName{0, 100}, kMode{100, 8}, kUid{108, 8}, kGid{116, 8}, kSize{124, 12},
    kMtime{136, 12}, kChecksum{148, 8}, kType{156, 1}, kMagic{257, 6}, kVersion{263, 2},
    kPrefix{345, 155};

void put_octal(uint8_t* header, Field f, uint64_t value) {
  header[f.offset + f.width - 1] = '\0';
  for (size_t i = f.width - 1; i-- > 0; value >>= 3) header[f.offset + i] = '0' + (value & 7);
}

// Splits a member name into ustar's prefix and name fields at a '/'; false if it cannot.
bool split_member_name(const std::string& name, std::string* prefix, std::string* base) {
  if (name.empty() || name.find('\0') != std::string::npos) return false;
  if (name.size() <= kName.width) {
    prefix->clear();
    *base = name;
    return true;
  }
  // The first '/' that leaves at most 100 bytes after it.
  for (size_t slash = name.find('/', name.size() - kName.width - 1); slash != std::string::npos;
       slash = name.find('/', slash + 1)) {
    if (slash == 0 || slash > kPrefix.width || slash + 1 == name.size()) break;
    *prefix = name.substr(0, slash);
    *base = name.substr(slash + 1);
    return true;
  }
  return false;
}

}  // namespace

void check_tar_member_name(const std::string& name) {
  std::string prefix, base;
  if (!split_member_name(name, &prefix, &base)) {
    throw FormatError(
        with_hint("tar member name " + name + " (" + std::to_string(name.size()) +
                      " bytes) does not fit a ustar header",
                  "ustar holds names up to 100 bytes, or up to 255 split at a '/' into 155 + 100; "
                  "shorten the class folder or file name"));
  }
}

namespace {

uint64_t unsigned_sum(const uint8_t* header) {
  uint64_t sum = 0;
  for (size_t i = 0; i < kBlock; ++i) {
    const bool in_checksum = i >= kChecksum.offset && i < kChecksum.offset + kChecksum.width;
    sum += in_checksum ? ' ' : header[i];
  }
  return sum;
}

// Some old tars summed signed chars; tar and Python's tarfile accept either sum.
int64_t signed_sum(const uint8_t* header) {
  int64_t sum = 0;
  for (size_t i = 0; i < kBlock; ++i) {
    const bool in_checksum = i >= kChecksum.offset && i < kChecksum.offset + kChecksum.width;
    sum += in_checksum ? ' ' : static_cast<int8_t>(header[i]);
  }
  return sum;
}

// Octal (leading spaces, ended by NUL or space) or GNU base-256 (high bit of the first byte).
bool parse_number(const uint8_t* header, Field f, uint64_t* value) {
  const uint8_t* p = header + f.offset;
  *value = 0;
  if (p[0] & 0x80) {
    if (p[0] & 0x40) return false;  // negative
    uint64_t v = p[0] & 0x3f;
    for (size_t i = 1; i < f.width; ++i) {
      if (v >> 56) return false;
      v = (v << 8) | p[i];
    }
    *value = v;
    return true;
  }
  size_t i = 0;
  while (i < f.width && p[i] == ' ') ++i;
  bool digits = false;
  for (; i < f.width && p[i] >= '0' && p[i] <= '7'; ++i) {
    if (*value >> 60) return false;
    *value = (*value << 3) | static_cast<uint64_t>(p[i] - '0');
    digits = true;
  }
  for (; i < f.width; ++i) {
    if (p[i] != ' ' && p[i] != '\0') return false;
  }
  return digits;
}

std::string field_text(const uint8_t* header, Field f) {
  const auto* p = reinterpret_cast<const char*>(header + f.offset);
  return std::string(p, strnlen(p, f.width));
}

bool all_zero(const uint8_t* block) {
  return std::all_of(block, block + kBlock, [](uint8_t b) { return b == 0; });
}

}  // namespace

std::vector<TarMember> parse_tar_members(const uint8_t* data, size_t size) {
  std::vector<TarMember> members;
  uint64_t pos = 0;
  while (pos < size) {
    // Built only on failure: this runs for every sample the loader reads.
    auto fail = [&](const std::string& problem) {
      throw FormatError("tar header at byte " + std::to_string(pos) + " of a " +
                        std::to_string(size) + "-byte range: " + problem);
    };
    if (size - pos < kBlock) fail("the range ends inside the header");
    const uint8_t* header = data + pos;
    if (all_zero(header)) break;  // end of archive
    uint64_t checksum = 0;
    if (!parse_number(header, kChecksum, &checksum) ||
        (checksum != unsigned_sum(header) &&
         static_cast<int64_t>(checksum) != signed_sum(header))) {
      fail("the checksum does not match (not a tar header, or damaged)");
    }
    std::string name = field_text(header, kName);
    if (field_text(header, kMagic) == "ustar") {
      const std::string prefix = field_text(header, kPrefix);
      if (!prefix.empty()) name = prefix + "/" + name;
    }
    const char type = static_cast<char>(header[kType.offset]);
    if (type != '0' && type != '\0') {
      fail("member " + name + " has type '" + std::string(1, type) +
           "'; only regular files are read");
    }
    uint64_t member_size = 0;
    if (!parse_number(header, kSize, &member_size)) {
      fail("member " + name + " has an unreadable size field");
    }
    const uint64_t start = pos + kBlock;
    if (member_size > size - start) {
      fail("member " + name + " (" + std::to_string(member_size) +
           " bytes) runs past the end of the range");
    }
    members.push_back({std::move(name), start, member_size});
    // The last member's padding may lie outside a range that ends with its data.
    pos = std::min<uint64_t>(start + padded(member_size), size);
  }
  return members;
}

TarWriter::TarWriter(const std::string& path)
    : path_(path), file_(std::make_unique<FileWriter>(path, 0644)) {
  buffer_.reserve(kWriteBuffer);
}

// Without close() the file is abandoned: no end blocks, no fsync; pack_folder removes it.
TarWriter::~TarWriter() = default;

void TarWriter::add(const std::string& name, const uint8_t* data, size_t size) {
  if (!file_) throw std::logic_error("TarWriter::add after close: " + path_);
  std::string prefix, base;
  if (!split_member_name(name, &prefix, &base)) check_tar_member_name(name);
  if (size > kMaxMemberSize) {
    throw FormatError("tar member " + name + " is " + std::to_string(size) +
                      " bytes; ustar members hold less than 8 GiB");
  }
  uint8_t header[kBlock] = {};
  std::memcpy(header + kName.offset, base.data(), base.size());
  std::memcpy(header + kPrefix.offset, prefix.data(), prefix.size());
  put_octal(header, kMode, 0644);
  put_octal(header, kUid, 0);
  put_octal(header, kGid, 0);
  put_octal(header, kSize, size);
  put_octal(header, kMtime, 0);
  header[kType.offset] = '0';
  std::memcpy(header + kMagic.offset, "ustar", 6);
  std::memcpy(header + kVersion.offset, "00", 2);
  // Six octal digits, NUL, space: what tar writes.
  const uint64_t sum = unsigned_sum(header);
  put_octal(header, {kChecksum.offset, 7}, sum);
  header[kChecksum.offset + 7] = ' ';
  write(header, kBlock);
  if (size > 0) write(data, size);
  static const uint8_t kZeros[kBlock] = {};
  write(kZeros, padded(size) - size);
}

void TarWriter::write(const void* data, size_t size) {
  if (buffer_.size() + size > kWriteBuffer) flush();
  if (size >= kWriteBuffer) {
    file_->write(data, size);
  } else {
    const auto* p = static_cast<const uint8_t*>(data);
    buffer_.insert(buffer_.end(), p, p + size);
  }
  offset_ += size;
}

void TarWriter::flush() {
  file_->write(buffer_.data(), buffer_.size());
  buffer_.clear();
}

void TarWriter::close() {
  if (!file_) return;
  try {
    static const uint8_t kEnd[2 * kBlock] = {};
    write(kEnd, sizeof kEnd);
    flush();
    file_->sync();
  } catch (...) {
    file_.reset();  // closed without a check: the file is abandoned
    throw;
  }
  const std::unique_ptr<FileWriter> file = std::move(file_);
  file->close();
}

}  // namespace c2fmae::formats
