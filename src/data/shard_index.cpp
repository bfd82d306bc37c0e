#include "c2fmae/data/shard_index.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <set>
#include <string_view>

#include "c2fmae/core/atomic_file.h"
#include "c2fmae/core/file_writer.h"
#include "c2fmae/core/usage_error.h"
#include "c2fmae/formats/format_error.h"
#include "c2fmae/formats/image_codec.h"
#include "c2fmae/formats/tar.h"

namespace c2fmae::data {
namespace fs = std::filesystem;
namespace {

using formats::TarWriter;

constexpr uint64_t kBlock = formats::kTarBlock;
constexpr const char* kIndexMagic = "c2fmae-shards";
constexpr int kIndexVersion = 1;

uint64_t padded(uint64_t n) { return formats::tar_padded(n); }

[[noreturn]] void io_fail(const std::string& what, const std::string& path, int err) {
  throw ShardIoError("cannot " + what + " " + path + ": " + std::strerror(err));
}

// The formats area throws its own errors; packing's callers rely on ShardIoError (programs
// exit 1) for an OS failure and DatasetError (exit 2) for anything else. Call in a catch block.
[[noreturn]] void rethrow_as_dataset_error() {
  try {
    throw;
  } catch (const formats::FileError& e) {
    throw ShardIoError(e.what());
  } catch (const formats::FormatError& e) {
    throw DatasetError(e.what());
  }
}

// core/atomic_file and core's FileWriter throw std::runtime_error; packing reports OS
// failures as ShardIoError.
template <typename F>
void as_io_error(F&& f) {
  try {
    f();
  } catch (const DatasetError&) {
    throw;
  } catch (const std::runtime_error& e) {
    throw ShardIoError(e.what());
  }
}

// Reads a whole regular file into `out`; false if it does not exist (a missing mask). A FIFO,
// a device, a folder or a file larger than kMaxSampleFileBytes is an error (ShardIoError):
// opened without blocking, so that a FIFO in place of a file cannot hang the pack.
bool read_whole_file(const std::string& path, std::vector<uint8_t>& out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT) return false;
    io_fail("open", path, errno);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    io_fail("stat", path, err);
  }
  if (!S_ISREG(st.st_mode) || static_cast<uint64_t>(st.st_size) > formats::kMaxSampleFileBytes) {
    ::close(fd);
    throw ShardIoError("cannot read " + path + ": " +
                       (S_ISREG(st.st_mode)
                            ? "larger than any image (" + std::to_string(st.st_size) + " bytes)"
                            : std::string("not a regular file")));
  }
  out.resize(static_cast<size_t>(st.st_size));
  size_t filled = 0;
  while (true) {
    if (filled == out.size()) {  // grew since fstat
      if (out.size() >= formats::kMaxSampleFileBytes) {
        ::close(fd);
        throw ShardIoError("cannot read " + path + ": it keeps growing");
      }
      out.resize(out.size() + 65536);
    }
    const ssize_t n = ::read(fd, out.data() + filled, out.size() - filled);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      io_fail("read", path, err);
    }
    if (n == 0) break;
    filled += static_cast<size_t>(n);
  }
  ::close(fd);
  out.resize(filled);
  return true;
}

bool is_png(const std::vector<uint8_t>& bytes) {
  return bytes.size() >= 4 && bytes[0] == 0x89 && bytes[1] == 'P' && bytes[2] == 'N' &&
         bytes[3] == 'G';
}

bool is_jpeg(const std::vector<uint8_t>& bytes) {
  return bytes.size() >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF;
}

// Shard files of a generation: 0 "<split>-NNNNNN.tar", 1 "<split>-NNNNNN.g1.tar". A pack
// over an earlier one (--overwrite) writes the other generation, so the earlier pack's files
// stay whole, and listed by its index, until the new index replaces it.
std::string shard_name(const std::string& split, int64_t number, int generation) {
  char digits[32];
  std::snprintf(digits, sizeof digits, "%06lld", static_cast<long long>(number));
  return split + "-" + digits + (generation == 1 ? ".g1.tar" : ".tar");
}

// The shard number of "<split>-NNNNNN.tar" or "<split>-NNNNNN.g1.tar" (six or more digits),
// -1 for any other name; `generation` gets 0 or 1.
int64_t shard_number(const std::string& split, const std::string& name, int* generation = nullptr) {
  const std::string head = split + "-";
  const bool g1 = name.size() >= 7 && name.compare(name.size() - 7, 7, ".g1.tar") == 0;
  const std::string tail = g1 ? ".g1.tar" : ".tar";
  if (generation) *generation = g1 ? 1 : 0;
  if (name.size() < head.size() + 6 + tail.size() || name.compare(0, head.size(), head) != 0 ||
      name.compare(name.size() - tail.size(), tail.size(), tail) != 0) {
    return -1;
  }
  const std::string_view digits(name.data() + head.size(), name.size() - head.size() - tail.size());
  int64_t number = -1;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), number);
  if (ec != std::errc() || end != digits.data() + digits.size()) return -1;
  return number;
}

bool has_suffix(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void check_split_name(const std::string& split) {
  if (split.empty() || split == "." || split == ".." ||
      split.find_first_of("/\n\r") != std::string::npos) {
    throw DatasetError("split name '" + split +
                       "' cannot name shard files: expected a folder name such as train or val");
  }
}

// The index holds one class name a line.
void check_class_names(const std::vector<std::string>& classes) {
  for (const auto& name : classes) {
    if (name.empty() || name.find_first_of("\n\r") != std::string::npos) {
      throw DatasetError("class name '" + name + "' cannot be written one per line in an index");
    }
  }
}

// The text of the index file, one line at a time, with line numbers for messages.
class IndexLines {
 public:
  IndexLines(std::string path, std::string text) : path_(std::move(path)), text_(std::move(text)) {}

  [[noreturn]] void fail(const std::string& problem) const {
    throw DatasetError(with_hint(path_ + ":" + std::to_string(line_) + ": " + problem,
                                 "pack the split again (c2fmae_pack --overwrite)"));
  }
  /// The next line (without '\n'); fails with `expected` at the end of the text.
  std::string_view next(const std::string& expected) {
    if (pos_ >= text_.size()) {
      ++line_;
      fail("the file ends here, but " + expected + " was expected");
    }
    const size_t end = std::min(text_.find('\n', pos_), text_.size());
    const std::string_view line(text_.data() + pos_, end - pos_);
    pos_ = end + 1;
    ++line_;
    if (!line.empty() && line.back() == '\r') {
      fail(
          "the line ends in CR LF (an editor or a transfer changed the line endings); the index "
          "is written with LF only");
    }
    return line;
  }
  bool at_end() const { return pos_ >= text_.size(); }
  int64_t line() const { return line_; }
  size_t bytes_left() const { return pos_ >= text_.size() ? 0 : text_.size() - pos_; }

  /// "<word> <count>" -> count.
  uint64_t counted(const std::string& word) {
    const std::string_view line = next("the line '" + word + " <count>'");
    if (line.substr(0, word.size() + 1) != word + " ") {
      fail("expected '" + word + " <count>', but got '" + std::string(line) + "'");
    }
    return number(line.substr(word.size() + 1), word + " count");
  }
  uint64_t number(std::string_view text, const std::string& what) const {
    uint64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
      fail("expected a " + what + " (a non-negative integer), but got '" + std::string(text) + "'");
    }
    return value;
  }

 private:
  std::string path_;
  std::string text_;
  size_t pos_ = 0;
  int64_t line_ = 0;
};

}  // namespace

std::string shard_index_path(const std::string& root, const std::string& split) {
  return (fs::path(root) / (split + ".index")).string();
}

ShardIndex read_shard_index(const std::string& root, const std::string& split) {
  const std::string path = shard_index_path(root, split);
  std::string text;
  {
    std::vector<uint8_t> bytes;
    if (!read_whole_file(path, bytes)) {
      throw DatasetError(with_hint(
          "no shard index " + path + " (split '" + split + "')",
          "pack the split first: c2fmae_pack --root DATASET --out " + root + " --split " + split));
    }
    text.assign(bytes.begin(), bytes.end());
  }
  IndexLines lines(path, std::move(text));
  ShardIndex index;

  const std::string magic = std::string(kIndexMagic) + " ";
  const std::string_view first = lines.next("the line 'c2fmae-shards 1'");
  if (first.substr(0, magic.size()) != magic) {
    lines.fail("not a c2fmae shard index: expected 'c2fmae-shards " +
               std::to_string(kIndexVersion) + "' on the first line");
  }
  const uint64_t version = lines.number(first.substr(magic.size()), "format version");
  if (version != kIndexVersion) {
    lines.fail("format version " + std::to_string(version) +
               " is not supported (this build reads " + std::to_string(kIndexVersion) + ")");
  }

  const std::string_view split_line = lines.next("the line 'split <name>'");
  if (split_line.substr(0, 6) != "split ") {
    lines.fail("expected 'split <name>', but got '" + std::string(split_line) + "'");
  }
  index.split = std::string(split_line.substr(6));
  if (index.split != split) {
    lines.fail("the index is of split '" + index.split + "', but its file name says '" + split +
               "'");
  }

  const std::string_view layout = lines.next("the line 'layout multimae|imagefolder'");
  if (layout == "layout multimae") {
    index.layout = FolderLayout::kMultiMae;
  } else if (layout == "layout imagefolder") {
    index.layout = FolderLayout::kImageFolder;
  } else {
    lines.fail("expected 'layout multimae' or 'layout imagefolder', but got '" +
               std::string(layout) + "'");
  }

  // Counts come from the file: nothing is reserved beyond what its remaining bytes can hold.
  const uint64_t num_classes = lines.counted("classes");
  index.classes.reserve(std::min<uint64_t>(num_classes, lines.bytes_left() / 2));
  std::set<std::string_view> seen;  // views into the file's text, which outlives the loop
  for (uint64_t c = 0; c < num_classes; ++c) {
    const std::string_view name =
        lines.next("class " + std::to_string(c) + " of " + std::to_string(num_classes));
    if (name.empty()) lines.fail("empty class name");
    if (!seen.insert(name).second) {
      lines.fail("class name '" + std::string(name) +
                 "' is listed twice: two labels would mean one class");
    }
    index.classes.emplace_back(name);
  }

  const uint64_t num_shards = lines.counted("shards");
  for (uint64_t s = 0; s < num_shards; ++s) {
    const std::string_view line =
        lines.next("shard " + std::to_string(s) + " of " + std::to_string(num_shards));
    const size_t space = line.rfind(' ');
    if (space == std::string_view::npos || space == 0) {
      lines.fail("expected '<file name> <size>', but got '" + std::string(line) + "'");
    }
    const std::string name(line.substr(0, space));
    if (name.find('/') != std::string::npos || name == "." || name == "..") {
      lines.fail("shard file name " + name + " is not a file name in the index's folder");
    }
    const uint64_t size = lines.number(line.substr(space + 1), "shard size");
    const std::string shard_path = (fs::path(root) / name).string();
    struct stat st {};
    if (::stat(shard_path.c_str(), &st) != 0) {
      lines.fail("shard " + shard_path + ": " + std::strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) lines.fail("shard " + shard_path + " is not a regular file");
    if (static_cast<uint64_t>(st.st_size) != size) {
      lines.fail("shard " + shard_path + " is " + std::to_string(st.st_size) +
                 " bytes, but the index says " + std::to_string(size) +
                 " (written again or damaged since the index was)");
    }
    index.shard_files.push_back(name);
    index.shard_sizes.push_back(size);
  }

  const uint64_t num_samples = lines.counted("samples");
  if (num_samples == 0) lines.fail("the index lists no samples");
  index.samples.reserve(std::min<uint64_t>(num_samples, lines.bytes_left() / 6));
  // Where each shard's last span ended: spans within a shard increase and do not overlap, or a
  // hand-edited index could serve one sample twice.
  std::vector<uint64_t> span_end(num_shards, 0);
  for (uint64_t i = 0; i < num_samples; ++i) {
    const std::string_view line =
        lines.next("sample " + std::to_string(i) + " of " + std::to_string(num_samples));
    const size_t a = line.find(' '), b = a == std::string_view::npos ? a : line.find(' ', a + 1);
    if (b == std::string_view::npos) {
      lines.fail("expected '<shard> <offset> <length>', but got '" + std::string(line) + "'");
    }
    const uint64_t shard = lines.number(line.substr(0, a), "shard number");
    const uint64_t offset = lines.number(line.substr(a + 1, b - a - 1), "byte offset");
    const uint64_t length = lines.number(line.substr(b + 1), "byte length");
    if (shard >= num_shards) {
      lines.fail("shard " + std::to_string(shard) + " does not exist (the index lists " +
                 std::to_string(num_shards) + ")");
    }
    const uint64_t shard_size = index.shard_sizes[shard];
    if (offset % kBlock != 0 || length < kBlock || length > shard_size ||
        offset > shard_size - length) {
      lines.fail("the span " + std::to_string(offset) + " + " + std::to_string(length) +
                 " is not whole tar blocks inside shard " + index.shard_files[shard] + " (" +
                 std::to_string(shard_size) + " bytes)");
    }
    if (offset < span_end[shard]) {
      lines.fail("the span " + std::to_string(offset) + " + " + std::to_string(length) +
                 " overlaps or comes before the span of the sample before it in shard " +
                 index.shard_files[shard] + " (which ends at byte " +
                 std::to_string(span_end[shard]) + ")");
    }
    span_end[shard] = offset + length;
    index.samples.push_back({static_cast<int64_t>(shard), offset, length});
  }
  if (!lines.at_end()) {
    lines.next("");
    lines.fail("unexpected text after the " + std::to_string(num_samples) + " sample lines");
  }
  return index;
}

namespace {

std::string shard_index_text(const ShardIndex& index) {
  check_split_name(index.split);
  check_class_names(index.classes);
  if (index.shard_sizes.size() != index.shard_files.size()) {
    throw std::invalid_argument("write_shard_index: " + std::to_string(index.shard_files.size()) +
                                " shard files, but " + std::to_string(index.shard_sizes.size()) +
                                " sizes");
  }
  for (const auto& name : index.shard_files) {
    if (name.empty() || name.find_first_of("/\n\r") != std::string::npos) {
      throw DatasetError("shard file name '" + name + "' is not a file name");
    }
  }
  std::string text = std::string(kIndexMagic) + " " + std::to_string(kIndexVersion) + "\n";
  text += "split " + index.split + "\n";
  text += std::string("layout ") +
          (index.layout == FolderLayout::kMultiMae ? "multimae" : "imagefolder") + "\n";
  text += "classes " + std::to_string(index.classes.size()) + "\n";
  for (const auto& name : index.classes) text += name + "\n";
  text += "shards " + std::to_string(index.shard_files.size()) + "\n";
  for (size_t s = 0; s < index.shard_files.size(); ++s) {
    text += index.shard_files[s] + " " + std::to_string(index.shard_sizes[s]) + "\n";
  }
  text += "samples " + std::to_string(index.samples.size()) + "\n";
  text.reserve(text.size() + index.samples.size() * 24);
  for (const auto& span : index.samples) {
    if (span.shard < 0 || static_cast<size_t>(span.shard) >= index.shard_files.size()) {
      throw std::invalid_argument("write_shard_index: a sample in shard " +
                                  std::to_string(span.shard) + " of " +
                                  std::to_string(index.shard_files.size()));
    }
    text += std::to_string(span.shard) + " " + std::to_string(span.offset) + " " +
            std::to_string(span.length) + "\n";
  }
  return text;
}

/// Writes `text` to `path` (created or truncated) and fsyncs it; FileError on failure.
void write_synced(const std::string& path, const std::string& text) {
  FileWriter out(path);
  out.write(text.data(), text.size());
  out.sync();
  out.close();
}

}  // namespace

void write_shard_index(const std::string& root, const ShardIndex& index) {
  const std::string text = shard_index_text(index);
  const std::string path = shard_index_path(root, index.split);
  as_io_error([&] {
    write_file_atomically(path, [&](const std::string& tmp) {
      FileWriter out(tmp);
      out.write(text.data(), text.size());
      out.close();
    });
  });
}

PackReport pack_folder(const std::string& root, const std::string& split, const std::string& out,
                       const PackOptions& options) {
  check_split_name(split);
  if (options.shard_bytes == 0) throw std::invalid_argument("pack_folder: shard_bytes is 0");
  const FolderIndex folder = scan_folder(root, split);
  // A name that does not fit is found now rather than hours into ImageNet. The longest
  // suffix decides: every member of a sample splits at the same '/'.
  check_class_names(folder.classes);
  try {
    for (const auto& sample : folder.samples) {
      formats::check_tar_member_name(sample.key + (folder.has_masks() ? ".sem.png" : ".jpg"));
    }
  } catch (const formats::FormatError&) {
    rethrow_as_dataset_error();
  }

  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) throw ShardIoError("cannot create the shard folder " + out + ": " + ec.message());
  // One pack per shard folder at a time: a second one would take the first's temporary
  // files for stale ones. The lock is on the folder itself (no file left behind); the
  // kernel drops it when the process dies.
  struct Lock {
    int fd = -1;
    ~Lock() {
      if (fd >= 0) ::close(fd);
    }
  } lock;
  lock.fd = ::open(out.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (lock.fd < 0) io_fail("open", out, errno);
  if (::flock(lock.fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      throw DatasetError(with_hint("another c2fmae_pack is writing into " + out,
                                   "wait for it to finish, or pack into another folder"));
    }
    io_fail("lock", out, errno);
  }
  const std::string index_path = shard_index_path(out, split);
  const std::string index_tmp = temporary_path(index_path);
  std::vector<std::string> old_shards, stale_temporaries;
  for (fs::directory_iterator it(out, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (shard_number(split, name) >= 0) old_shards.push_back(name);
    if (has_suffix(name, ".tmp") && shard_number(split, name.substr(0, name.size() - 4)) >= 0) {
      stale_temporaries.push_back(name);
    }
  }
  if (ec) throw ShardIoError("cannot list the shard folder " + out + ": " + ec.message());
  const bool old_index = fs::exists(index_path, ec);
  if (!options.overwrite && (old_index || !old_shards.empty())) {
    throw DatasetError(
        with_hint(out + " already holds split '" + split + "' (" +
                      (old_index ? split + ".index, " : std::string()) +
                      std::to_string(old_shards.size()) + " shard files)",
                  "pack into another folder, or replace them (c2fmae_pack --overwrite)"));
  }
  // The generation the earlier index does not use (0 without one, or when it is unreadable).
  int generation = 0;
  if (old_index) {
    try {
      const auto earlier = read_shard_index(out, split);
      if (!earlier.shard_files.empty()) {
        int used = 0;
        shard_number(split, earlier.shard_files.front(), &used);
        generation = 1 - used;
      }
    } catch (const std::exception&) {
    }
  }
  // Left by a pack that was killed; nothing refers to them.
  for (const auto& name : stale_temporaries) fs::remove(fs::path(out) / name, ec);
  fs::remove(index_tmp, ec);

  PackReport report;
  report.total_samples = static_cast<int64_t>(folder.samples.size());
  report.layout = folder.layout;
  report.skipped = folder.skipped;
  if (options.progress) options.progress(report);

  ShardIndex index;
  index.split = split;
  index.layout = folder.layout;
  index.classes = folder.classes;
  std::unique_ptr<TarWriter> writer;
  std::vector<std::string> temporaries;
  uint64_t closed_bytes = 0;
  int64_t in_shard = 0;
  auto finish_shard = [&] {
    writer->close();
    index.shard_sizes.push_back(writer->offset());
    closed_bytes += writer->offset();
    writer.reset();
  };
  try {
    std::vector<uint8_t> image, semantic, instance;
    // A file that cannot be read (gone, not a regular file, far too large) does not stop the
    // pack: a mask is left out and an image packed empty, so that the loader skips and
    // counts the sample exactly as it would in the folder, at the same position.
    auto read_mask = [&](const std::string& path, std::vector<uint8_t>& bytes) {
      if (!folder.has_masks()) return false;
      try {
        if (read_whole_file(path, bytes)) return true;
      } catch (const ShardIoError& e) {
        if (report.first_missing_mask.empty()) report.first_missing_mask = e.what();
        ++report.missing_masks;
        return false;
      }
      if (report.first_missing_mask.empty()) report.first_missing_mask = path;
      ++report.missing_masks;
      return false;
    };
    for (const auto& sample : folder.samples) {
      bool readable = false;
      try {
        readable = read_whole_file(sample.rgb, image);
      } catch (const ShardIoError& e) {
        if (report.first_unknown_image.empty()) report.first_unknown_image = e.what();
      }
      if (!readable) {
        if (report.first_unknown_image.empty()) report.first_unknown_image = sample.rgb + ": gone";
        image.clear();
      }
      const bool png = is_png(image);
      // Neither JPEG nor PNG: packed as .jpg all the same, so the loader fails and counts
      // it at load time exactly as it would the file in the folder.
      if (!png && !is_jpeg(image)) {
        if (report.first_unknown_image.empty()) report.first_unknown_image = sample.rgb;
        ++report.unknown_images;
      }
      const bool has_semantic = read_mask(sample.semantic, semantic);
      const bool has_instance = read_mask(sample.instance, instance);
      const std::string label = std::to_string(sample.label);
      const uint64_t span = 3 * kBlock + padded(image.size()) + padded(label.size()) +
                            (has_semantic ? kBlock + padded(semantic.size()) : 0) +
                            (has_instance ? kBlock + padded(instance.size()) : 0);
      if (writer && in_shard > 0 && writer->offset() + span + 2 * kBlock > options.shard_bytes) {
        finish_shard();
      }
      if (!writer) {
        const std::string name =
            shard_name(split, static_cast<int64_t>(index.shard_files.size()), generation);
        temporaries.push_back(temporary_path((fs::path(out) / name).string()));
        writer = std::make_unique<TarWriter>(temporaries.back());
        index.shard_files.push_back(name);
        in_shard = 0;
      }
      const uint64_t start = writer->offset();
      writer->add(sample.key + (png ? ".png" : ".jpg"), image.data(), image.size());
      if (has_semantic) writer->add(sample.key + ".sem.png", semantic.data(), semantic.size());
      if (has_instance) writer->add(sample.key + ".ins.png", instance.data(), instance.size());
      writer->add(sample.key + ".cls", reinterpret_cast<const uint8_t*>(label.data()),
                  label.size());
      index.samples.push_back(
          {static_cast<int64_t>(index.shard_files.size()) - 1, start, writer->offset() - start});
      ++in_shard;
      ++report.samples;
      if (options.progress && options.progress_every > 0 &&
          report.samples % options.progress_every == 0) {
        report.shards = static_cast<int64_t>(index.shard_files.size());
        report.bytes = closed_bytes + writer->offset();
        options.progress(report);
      }
    }
    if (writer) finish_shard();

    // Publish. The new shards take their names (another generation's than the earlier
    // index lists, so the earlier pack stays whole and usable), then the new index replaces
    // the old one in one rename: a pack killed at any point leaves the earlier split or the
    // new one. The earlier pack's files, and stale ones, go last.
    as_io_error([&] { write_synced(index_tmp, shard_index_text(index)); });
    as_io_error([&] {
      for (size_t s = 0; s < temporaries.size(); ++s) {
        const std::string final_path = (fs::path(out) / index.shard_files[s]).string();
        if (std::rename(temporaries[s].c_str(), final_path.c_str()) != 0) {
          io_fail("rename " + temporaries[s] + " to", final_path, errno);
        }
      }
      sync_path(out, true);
      if (std::rename(index_tmp.c_str(), index_path.c_str()) != 0) {
        io_fail("rename " + index_tmp + " to", index_path, errno);
      }
      sync_path(out, true);
      const std::set<std::string> listed(index.shard_files.begin(), index.shard_files.end());
      for (const auto& name : old_shards) {
        if (listed.count(name)) continue;
        const std::string stale = (fs::path(out) / name).string();
        if (!fs::remove(stale, ec) && ec) io_fail("remove", stale, ec.value());
      }
    });
  } catch (...) {
    writer.reset();
    for (const auto& path : temporaries) std::remove(path.c_str());
    std::remove(index_tmp.c_str());
    rethrow_as_dataset_error();
  }
  report.shards = static_cast<int64_t>(index.shard_files.size());
  report.bytes = closed_bytes;
  return report;
}

}  // namespace c2fmae::data
