// POSIX tar (ustar) files, as the packed shards hold them (data/shard_index.h): a 512-byte
// header per member, its data padded to whole 512-byte blocks, two zero blocks at the end.
// Readable by tar and by Python's tarfile and webdataset. Torch-free.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "c2fmae/core/file_writer.h"
#include "c2fmae/formats/format_error.h"

namespace c2fmae::formats {

/// The size of a tar header and the unit of every member's data.
constexpr uint64_t kTarBlock = 512;

/// `n` rounded up to whole tar blocks.
inline uint64_t tar_padded(uint64_t n) { return (n + kTarBlock - 1) / kTarBlock * kTarBlock; }

/// Checks that `name` fits a ustar header (up to 100 bytes, or 255 split as prefix / name at
/// a '/'); throws FormatError (with a hint) if it does not.
void check_tar_member_name(const std::string& name);

/// One member of a tar byte range.
struct TarMember {
  std::string name;
  uint64_t offset = 0;  ///< of the member's data, from the start of the range
  uint64_t size = 0;
};

/// Parses the ustar headers of a whole-member byte range (one sample's span): checks each
/// header's checksum and that every member lies inside the range. Regular files only; an
/// all-zero block ends the parse (so a whole tar file parses too). Throws FormatError.
std::vector<TarMember> parse_tar_members(const uint8_t* data, size_t size);

/// Writes a ustar file member by member (names up to 100 bytes, or 255 split as prefix /
/// name at a '/'; longer names and members of 8 GiB or more are a FormatError); close() adds
/// the two zero blocks, flushes and fsyncs. Errors (full disk) throw FileError naming the
/// path and the OS reason. A writer destroyed without close() leaves an incomplete file.
class TarWriter {
 public:
  explicit TarWriter(const std::string& path);
  ~TarWriter();
  TarWriter(const TarWriter&) = delete;
  TarWriter& operator=(const TarWriter&) = delete;
  /// Appends one regular file member (mode 0644, mtime 0, uid/gid 0).
  void add(const std::string& name, const uint8_t* data, size_t size);
  /// Bytes written so far (headers and padding included).
  uint64_t offset() const { return offset_; }
  void close();

 private:
  void write(const void* data, size_t size);
  void flush();
  std::string path_;
  std::unique_ptr<FileWriter> file_;  ///< null once closed
  uint64_t offset_ = 0;
  std::vector<uint8_t> buffer_;  ///< written out in large blocks
};

}  // namespace c2fmae::formats
