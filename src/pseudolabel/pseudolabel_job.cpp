#include "c2fmae/pseudolabel/pseudolabel_job.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "c2fmae/core/atomic_file.h"
#include "c2fmae/core/error_text.h"
#include "c2fmae/core/file_writer.h"
#include "c2fmae/core/json_text.h"
#include "c2fmae/core/number_text.h"
#include "c2fmae/core/usage_error.h"
#include "c2fmae/data/shard_index.h"
#include "c2fmae/formats/image_codec.h"
#include "c2fmae/formats/tar.h"

namespace c2fmae::pseudolabel {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;
double elapsed(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

constexpr size_t kBadExamples = 20;

[[noreturn]] void io_fail(const std::string& what, const std::string& path, int err) {
  throw PseudolabelIoError("cannot " + what + " " + path + ": " + std::strerror(err));
}

bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

void make_folders(const fs::path& folder) {
  std::error_code ec;
  fs::create_directories(folder, ec);
  if (ec) io_fail("create the folder", folder.string(), ec.value());
}

// Whether two paths name one file or folder (false if either is missing).
bool same_file(const fs::path& a, const fs::path& b) {
  std::error_code ec;
  return fs::equivalent(a, b, ec) && !ec;
}

std::vector<uint8_t> read_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw formats::DecodeError(std::string("cannot open: ") + std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw formats::DecodeError("not a regular file");
  }
  if (static_cast<uint64_t>(st.st_size) > formats::kMaxSampleFileBytes) {
    ::close(fd);
    throw formats::DecodeError("the file is " + std::to_string(st.st_size) +
                               " bytes, larger than any image a dataset holds");
  }
  std::vector<uint8_t> bytes(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < bytes.size()) {
    const auto n = ::read(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      ::close(fd);
      throw formats::DecodeError(std::string("cannot read: ") + std::strerror(err));
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  return bytes;
}

std::vector<uint8_t> read_span(int fd, const data::ShardSpan& span, const std::string& path) {
  std::vector<uint8_t> bytes(span.length);
  size_t done = 0;
  while (done < bytes.size()) {
    const auto n = ::pread(fd, bytes.data() + done, bytes.size() - done,
                           static_cast<off_t>(span.offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) io_fail("read", path, errno);
    if (n == 0) throw formats::DecodeError("the shard ends inside the sample (truncated shard?)");
    done += static_cast<size_t>(n);
  }
  return bytes;
}

bool is_image_member(const std::string& name) {
  auto ends = [&](const char* suffix) {
    const size_t n = std::strlen(suffix);
    return name.size() >= n && name.compare(name.size() - n, n, suffix) == 0;
  };
  if (ends(".sem.png") || ends(".ins.png")) return false;
  return ends(".jpg") || ends(".jpeg") || ends(".png");
}

// The image of a sample as [H, W, 3] uint8: gray images repeated, 16-bit gray scaled.
torch::Tensor decode_rgb(const uint8_t* data, size_t size) {
  auto image = formats::decode_image(data, size);
  auto pixels = torch::from_blob(image.pixels.data(), {image.height, image.width, image.channels},
                                 torch::kUInt16);
  if (image.channels == 3) return pixels.to(torch::kUInt8);  // 8-bit values: exact
  if (pixels.max().item<int>() > 255) pixels = pixels.to(torch::kInt).div(257, "floor");
  return pixels.to(torch::kUInt8).expand({image.height, image.width, 3}).contiguous();
}

// A sample to label: where its image is and where its outputs go.
struct Item {
  int64_t position = 0;     ///< in the split
  mutable std::string key;  ///< <class>/<stem> (shards: set when its image is read)
  std::string image;        ///< folder: the image file; shards: its shard's path (for messages)
  int64_t shard = -1;       ///< shards: the input shard
  data::ShardSpan span;
  // folder output ("" where nothing is written)
  std::string semantic, instance, rgb;
  std::vector<std::pair<std::string, std::string>> carried;  ///< input map -> output path
};

struct Decoded {
  torch::Tensor rgb;  ///< undefined if bad
  std::string error;
  std::exception_ptr fatal;  ///< an I/O failure of the input (not the image's fault)
  double seconds = 0.0;
};

// Reads and decodes items in order on `workers` threads, at most `window` ahead of the
// consumer.
class OrderedDecoder {
 public:
  OrderedDecoder(size_t count, int workers, size_t window,
                 std::function<torch::Tensor(size_t)> decode)
      : slots_(count), window_(window), decode_(std::move(decode)) {
    for (int w = 0; w < workers; ++w) threads_.emplace_back([this] { work(); });
  }
  ~OrderedDecoder() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      closing_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }
  Decoded take(size_t i) {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return slots_[i].has_value(); });
    Decoded d = std::move(*slots_[i]);
    slots_[i].reset();
    consumed_ = i + 1;
    lock.unlock();
    cv_.notify_all();
    if (d.fatal) std::rethrow_exception(d.fatal);
    return d;
  }

 private:
  void work() {
    for (;;) {
      size_t i;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        cv_.wait(lock, [&] {
          return closing_ || (next_ < slots_.size() && next_ < consumed_ + window_);
        });
        if (closing_ || next_ >= slots_.size()) return;
        i = next_++;
      }
      Decoded d;
      const auto start = Clock::now();
      try {
        d.rgb = decode_(i);
      } catch (const formats::FormatError& e) {
        d.error = e.what();
      } catch (const PseudolabelIoError&) {
        d.fatal = std::current_exception();
      } catch (const std::exception& e) {
        d.error = error_text(e);
      }
      d.seconds = elapsed(start);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        slots_[i] = std::move(d);
      }
      cv_.notify_all();
    }
  }

  std::vector<std::optional<Decoded>> slots_;
  size_t window_;
  std::function<torch::Tensor(size_t)> decode_;
  std::mutex mutex_;
  std::condition_variable cv_;
  size_t next_ = 0, consumed_ = 0;
  bool closing_ = false;
  std::vector<std::thread> threads_;
};

// Runs tasks on `workers` threads, at most `limit` waiting; the first failure is kept and
// rethrown by finish() (later tasks still run, so every finished file is complete).
class TaskPool {
 public:
  TaskPool(int workers, size_t limit) : limit_(limit) {
    for (int w = 0; w < workers; ++w) threads_.emplace_back([this] { work(); });
  }
  ~TaskPool() { drain(); }
  void push(std::function<void()> task) {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return tasks_.size() < limit_; });
    tasks_.push_back(std::move(task));
    lock.unlock();
    cv_.notify_all();
  }
  bool failed() {
    std::lock_guard<std::mutex> lock(mutex_);
    return error_ != nullptr;
  }
  /// Waits for every task and ends the threads; rethrows the first failure.
  void finish() {
    drain();
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void drain() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      closing_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  void work() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        cv_.wait(lock, [&] { return closing_ || !tasks_.empty(); });
        if (tasks_.empty()) return;
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      cv_.notify_all();
      try {
        task();
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!error_) error_ = std::current_exception();
      }
    }
  }
  size_t limit_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool closing_ = false;
  std::exception_ptr error_;
  std::vector<std::thread> threads_;
};

std::string segments_json(const std::vector<Segment>& segments) {
  std::string out = "[";
  for (size_t i = 0; i < segments.size(); ++i) {
    const auto& s = segments[i];
    out += (i ? ", " : "") + std::string("{\"id\": ") + std::to_string(s.id) +
           ", \"category_id\": " + std::to_string(s.category_id) +
           ", \"isthing\": " + (s.is_thing ? "true" : "false") +
           ", \"area\": " + std::to_string(s.area) + ", \"score\": " + shortest_text(s.score) + "}";
  }
  return out + "]";
}

// One process's records of a split: the JSON lines file, appended under a lock.
class SegmentLog {
 public:
  explicit SegmentLog(const std::string& path)
      : path_(path), file_(path, 0644, FileWriter::Existing::kAppend) {}
  void write(const std::string& key, const ImageGeometry& g, const LabelMaps& maps) {
    const std::string line = "{\"key\": " + json_string(key) +
                             ", \"height\": " + std::to_string(g.height) +
                             ", \"width\": " + std::to_string(g.width) +
                             ", \"segments\": " + segments_json(maps.segments) + "}\n";
    std::lock_guard<std::mutex> lock(mutex_);
    try {
      file_.write(line.data(), line.size());
    } catch (const FileError& e) {
      throw PseudolabelIoError(e.what());
    }
  }

 private:
  std::string path_;
  std::mutex mutex_;
  FileWriter file_;
};

// Copies `from` to `to` atomically, or links it (hard link falling back to a copy, or a
// symlink), replacing what `to` holds.
void carry_file(const std::string& from, const std::string& to, RgbOutput how) {
  // Already the same file (a hard link made before): renaming a link over itself would do
  // nothing and leave the temporary name behind.
  if (how != RgbOutput::kCopy && same_file(from, to)) return;
  const std::string tmp = to + ".tmp." + std::to_string(::getpid()) + ".link";
  std::remove(tmp.c_str());
  if (how == RgbOutput::kSymlink) {
    const auto target = fs::absolute(from).string();
    if (::symlink(target.c_str(), tmp.c_str()) != 0) io_fail("create the link", tmp, errno);
  } else if (how == RgbOutput::kLink && ::link(from.c_str(), tmp.c_str()) == 0) {
    // linked
  } else {
    if (how == RgbOutput::kLink && errno != EXDEV && errno != EPERM && errno != EMLINK)
      io_fail("link " + from + " to", tmp, errno);
    std::vector<uint8_t> bytes;
    try {
      bytes = read_file(from);
    } catch (const formats::DecodeError& e) {
      throw PseudolabelIoError("cannot copy " + from + ": " + e.what());
    }
    try {
      write_bytes_atomically(to, bytes.data(), bytes.size(), false);
    } catch (const std::exception& e) {
      throw PseudolabelIoError(error_text(e));
    }
    return;
  }
  if (std::rename(tmp.c_str(), to.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    io_fail("rename " + tmp + " to", to, err);
  }
  std::remove(tmp.c_str());  // left if `to` became a link to the same file meanwhile
}

void write_png(const std::string& path, const std::vector<uint8_t>& bytes) {
  try {
    write_bytes_atomically(path, bytes.data(), bytes.size(), false);
  } catch (const std::exception& e) {
    throw PseudolabelIoError(error_text(e));
  }
}

// Whether the split's images are too often bad: the loader's rule.
void check_bad_fraction(const SplitReport& r, double max_bad_fraction) {
  const int64_t seen = r.written + r.bad;
  if (r.bad == 0 || seen == 0) return;
  if (static_cast<double>(r.bad) <= max_bad_fraction * static_cast<double>(r.selected)) return;
  throw data::DatasetError(with_hint(
      "split " + r.split + ": " + std::to_string(r.bad) + " of " + std::to_string(r.selected) +
          " images could not be read or decoded, more than --max-bad-fraction " +
          shortest_text(max_bad_fraction) + " (first: " + r.bad_examples.front() + ")",
      "repair or remove the damaged images, or raise --max-bad-fraction"));
}

struct SplitWork {
  const JobOptions& options;
  Segmenter& model;
  SplitReport& report;
  const std::string& stem;
};

// The shared loop: decode in order, label, hand each labelled image to `finish` on the
// writer threads. `decode(i)` throws FormatError for a bad image; `bad(i, reason)` records
// one.
void label_items(SplitWork& w, const std::vector<Item>& items,
                 const std::function<torch::Tensor(const Item&)>& decode,
                 const std::function<void(const Item&, Labelled&&)>& finish,
                 const std::function<void(const Item&, const std::string&)>& bad) {
  const auto& o = w.options;
  const auto start = Clock::now();
  Labeller labeller(w.model, o.labels, o.batch, o.max_pixels);
  const size_t window = static_cast<size_t>(4 * labeller.batch_size() + 2 * o.workers);
  std::mutex report_mutex;
  std::vector<torch::Tensor> rgb_of(items.size());  // kept until labelled (previews)
  TaskPool writers(o.workers, window);              // after what its tasks use: drained first
  int64_t previews = 0;
  auto last_progress = Clock::now();
  int64_t done = 0;
  auto hand_over = [&](std::vector<Labelled> labelled) {
    for (auto& l : labelled) {
      const auto i = static_cast<size_t>(l.tag);
      auto rgb = std::move(rgb_of[i]);
      rgb_of[i] = torch::Tensor();
      if (o.preview && previews < o.preview_count) {
        ++previews;
        o.preview(items[i].key, rgb, l.maps);
      }
      writers.push([&, i, l = std::move(l)]() mutable {
        const auto t = Clock::now();
        finish(items[i], std::move(l));
        std::lock_guard<std::mutex> lock(report_mutex);
        w.report.encode_write_seconds += elapsed(t);
      });
      ++done;
    }
  };
  {
    OrderedDecoder decoder(items.size(), o.workers, window,
                           [&](size_t i) { return decode(items[i]); });
    for (size_t i = 0; i < items.size(); ++i) {
      if ((o.stop && o.stop->load()) || writers.failed()) break;
      auto d = decoder.take(i);
      w.report.read_decode_seconds += d.seconds;
      if (!d.rgb.defined()) {
        bad(items[i], d.error);
        ++done;
        continue;
      }
      rgb_of[i] = d.rgb;
      hand_over(labeller.add(static_cast<int64_t>(i), std::move(d.rgb)));
      if (o.progress && elapsed(last_progress) >= o.progress_seconds) {
        last_progress = Clock::now();
        o.progress({w.report.split, done, w.report.selected - w.report.skipped, elapsed(start)});
      }
    }
  }
  hand_over(labeller.finish());
  writers.finish();
  w.report.labeller = labeller.times();
}

// --- folder input -----------------------------------------------------------------------

void label_folder_split(SplitWork& w, const std::string& split) {
  const auto& o = w.options;
  auto& r = w.report;
  const auto index = data::scan_folder(o.root, split);
  const fs::path in_split = fs::path(o.root) / split;
  const fs::path out_split = fs::path(o.out) / split;
  const bool in_place = same_file(in_split, out_split);
  r.total = static_cast<int64_t>(index.samples.size());
  std::vector<Item> items;
  for (int64_t p = 0; p < r.total; ++p) {
    if (p % o.shard_count != o.shard_index) continue;
    ++r.selected;
    const auto& s = index.samples[static_cast<size_t>(p)];
    const auto file = fs::path(s.rgb).filename().string();
    const auto cls = s.key.substr(0, s.key.find('/'));
    const auto mask = cls + "/" + mask_file_name(file);
    Item item;
    item.position = p;
    item.key = s.key;
    item.image = s.rgb;
    const auto out_semantic = (out_split / "semseg" / mask).string();
    const auto out_instance = (out_split / "instance" / mask).string();
    if (o.write_semantic) item.semantic = out_semantic;
    if (o.write_instance) item.instance = out_instance;
    if (!in_place) {
      item.rgb = (out_split / "rgb" / cls / file).string();
      // Maps of a MultiMAE input that are not rewritten go along (e.g. MultiMAE's semseg).
      if (!o.write_semantic && !s.semantic.empty() && exists(s.semantic))
        item.carried.emplace_back(s.semantic, out_semantic);
      if (!o.write_instance && !s.instance.empty() && exists(s.instance))
        item.carried.emplace_back(s.instance, out_instance);
    }
    bool complete = !o.overwrite;
    for (const auto* path : {&item.semantic, &item.instance, &item.rgb}) {
      complete = complete && (path->empty() || exists(*path));
    }
    for (const auto& c : item.carried) complete = complete && exists(c.second);
    if (complete) {
      ++r.skipped;
      continue;
    }
    items.push_back(std::move(item));
  }
  std::set<std::string> folders;
  for (const auto& item : items) {
    for (const auto* path : {&item.semantic, &item.instance, &item.rgb}) {
      if (!path->empty()) folders.insert(fs::path(*path).parent_path().string());
    }
  }
  for (const auto& f : folders) make_folders(f);
  make_folders(out_split);
  SegmentLog log((out_split / (w.stem + ".jsonl")).string());
  std::mutex report_mutex;
  const int64_t num_classes = w.model.info().num_classes;
  label_items(
      w, items,
      [&](const Item& item) {
        const auto bytes = read_file(item.image);
        return decode_rgb(bytes.data(), bytes.size());
      },
      [&](const Item& item, Labelled&& l) {
        const auto semantic = upscale_labels(l.maps.semantic, l.geometry.height, l.geometry.width);
        const auto instance = upscale_labels(l.maps.instance, l.geometry.height, l.geometry.width);
        if (!item.semantic.empty()) write_png(item.semantic, semantic_png(semantic, num_classes));
        if (!item.instance.empty()) write_png(item.instance, instance_png(instance));
        for (const auto& [from, to] : item.carried) carry_file(from, to, o.rgb);
        if (!item.rgb.empty()) carry_file(item.image, item.rgb, o.rgb);  // last: now complete
        log.write(item.key, l.geometry, l.maps);
        std::lock_guard<std::mutex> lock(report_mutex);
        ++r.written;
        r.segments += static_cast<int64_t>(l.maps.segments.size());
        for (const auto& s : l.maps.segments) r.instances += s.is_thing ? 1 : 0;
      },
      [&](const Item& item, const std::string& reason) {
        ++r.bad;
        if (r.bad_examples.size() < kBadExamples)
          r.bad_examples.push_back(item.image + ": " + reason);
      });
}

// --- shards input -----------------------------------------------------------------------

std::string spans_path(const std::string& shard_path) { return shard_path + ".spans"; }

struct ShardResult {
  std::vector<uint8_t> semantic, instance;  ///< encoded maps ("" if not written)
  bool bad = false;
};

void label_shard_split(SplitWork& w, const std::string& split) {
  const auto& o = w.options;
  auto& r = w.report;
  const auto index = data::read_shard_index(o.root, split);
  r.total = static_cast<int64_t>(index.samples.size());
  const auto num_shards = static_cast<int64_t>(index.shard_files.size());
  std::vector<int> fds(static_cast<size_t>(num_shards), -1);
  struct Closer {
    std::vector<int>& fds;
    ~Closer() {
      for (int fd : fds)
        if (fd >= 0) ::close(fd);
    }
  } closer{fds};
  std::vector<std::vector<int64_t>> samples_of(static_cast<size_t>(num_shards));
  for (int64_t p = 0; p < r.total; ++p)
    samples_of[static_cast<size_t>(index.samples[static_cast<size_t>(p)].shard)].push_back(p);
  std::vector<Item> items;
  std::vector<int64_t> shards_to_do;
  for (int64_t s = 0; s < num_shards; ++s) {
    if (s % o.shard_count != o.shard_index) continue;
    const auto& members = samples_of[static_cast<size_t>(s)];
    r.selected += static_cast<int64_t>(members.size());
    const auto out_path = (fs::path(o.out) / index.shard_files[static_cast<size_t>(s)]).string();
    if (!o.overwrite && exists(out_path) && exists(spans_path(out_path))) {
      r.skipped += static_cast<int64_t>(members.size());
      continue;
    }
    const auto in_path = (fs::path(o.root) / index.shard_files[static_cast<size_t>(s)]).string();
    fds[static_cast<size_t>(s)] = ::open(in_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fds[static_cast<size_t>(s)] < 0) io_fail("open", in_path, errno);
    shards_to_do.push_back(s);
    for (const auto p : members) {
      Item item;
      item.position = p;
      item.shard = s;
      item.span = index.samples[static_cast<size_t>(p)];
      item.image = in_path;
      items.push_back(std::move(item));
    }
  }
  make_folders(o.out);
  make_folders(fs::path(o.out) / split);
  SegmentLog log((fs::path(o.out) / split / (w.stem + ".jsonl")).string());
  const int64_t num_classes = w.model.info().num_classes;

  // Each sample's maps wait until its shard is whole, then the shard is written.
  std::mutex mutex;
  std::map<int64_t, std::map<int64_t, ShardResult>> waiting;  // shard -> position -> maps
  auto member_key = [](const std::vector<formats::TarMember>& members) {
    for (const auto& m : members) {
      if (is_image_member(m.name)) return m.name.substr(0, m.name.rfind('.'));
    }
    return members.empty() ? std::string()
                           : members.front().name.substr(0, members.front().name.find('.'));
  };
  auto write_shard = [&](int64_t s, std::map<int64_t, ShardResult> results) {
    const auto name = index.shard_files[static_cast<size_t>(s)];
    const auto out_path = (fs::path(o.out) / name).string();
    const auto tmp = out_path + ".tmp." + std::to_string(::getpid());
    std::string spans;
    try {
      formats::TarWriter writer(tmp);
      for (const auto p : samples_of[static_cast<size_t>(s)]) {
        const auto& result = results.at(p);
        if (result.bad) continue;  // left out, as the folder output leaves it out
        const auto bytes =
            read_span(fds[static_cast<size_t>(s)], index.samples[static_cast<size_t>(p)],
                      (fs::path(o.root) / name).string());
        const auto members = formats::parse_tar_members(bytes.data(), bytes.size());
        const auto key = member_key(members);
        const uint64_t begin = writer.offset();
        auto add_maps = [&] {
          if (!result.semantic.empty())
            writer.add(key + ".sem.png", result.semantic.data(), result.semantic.size());
          if (!result.instance.empty())
            writer.add(key + ".ins.png", result.instance.data(), result.instance.size());
        };
        bool maps_added = false;
        for (const auto& m : members) {
          const bool sem = m.name == key + ".sem.png", ins = m.name == key + ".ins.png";
          if ((sem && !result.semantic.empty()) || (ins && !result.instance.empty())) continue;
          if (!maps_added && (sem || ins || !is_image_member(m.name))) {
            add_maps();  // maps follow the image, as c2fmae_pack orders them
            maps_added = true;
          }
          writer.add(m.name, bytes.data() + m.offset, m.size);
        }
        if (!maps_added) add_maps();
        spans += std::to_string(begin) + " " + std::to_string(writer.offset() - begin) + "\n";
      }
      writer.close();
      write_text_atomically(spans_path(out_path), spans);
      if (std::rename(tmp.c_str(), out_path.c_str()) != 0)
        io_fail("rename " + tmp + " to", out_path, errno);
    } catch (const formats::FileError& e) {
      std::remove(tmp.c_str());
      throw PseudolabelIoError(e.what());
    } catch (const formats::FormatError& e) {
      std::remove(tmp.c_str());
      throw data::DatasetError(out_path + ": " + e.what());
    } catch (const PseudolabelIoError&) {
      std::remove(tmp.c_str());
      throw;
    } catch (const std::runtime_error& e) {
      std::remove(tmp.c_str());
      throw PseudolabelIoError(error_text(e));
    }
  };
  auto settle = [&](const Item& item, ShardResult result) {
    std::map<int64_t, ShardResult> whole;
    {
      std::lock_guard<std::mutex> lock(mutex);
      auto& shard = waiting[item.shard];
      shard.emplace(item.position, std::move(result));
      if (shard.size() != samples_of[static_cast<size_t>(item.shard)].size()) return;
      whole = std::move(shard);
      waiting.erase(item.shard);
    }
    write_shard(item.shard, std::move(whole));
  };
  std::mutex report_mutex;
  label_items(
      w, items,
      [&](const Item& item) {
        const auto bytes = read_span(fds[static_cast<size_t>(item.shard)], item.span, item.image);
        const auto members = formats::parse_tar_members(bytes.data(), bytes.size());
        for (const auto& m : members) {
          if (!is_image_member(m.name)) continue;
          item.key = m.name.substr(0, m.name.rfind('.'));
          return decode_rgb(bytes.data() + m.offset, m.size);
        }
        throw formats::DecodeError("the sample has no image member (.jpg, .jpeg or .png)");
      },
      [&](const Item& item, Labelled&& l) {
        ShardResult result;
        const auto semantic = upscale_labels(l.maps.semantic, l.geometry.height, l.geometry.width);
        const auto instance = upscale_labels(l.maps.instance, l.geometry.height, l.geometry.width);
        if (o.write_semantic) result.semantic = semantic_png(semantic, num_classes);
        if (o.write_instance) result.instance = instance_png(instance);
        log.write(item.key, l.geometry, l.maps);
        {
          std::lock_guard<std::mutex> lock(report_mutex);
          ++r.written;
          r.segments += static_cast<int64_t>(l.maps.segments.size());
          for (const auto& s : l.maps.segments) r.instances += s.is_thing ? 1 : 0;
        }
        settle(item, std::move(result));
      },
      [&](const Item& item, const std::string& reason) {
        {
          std::lock_guard<std::mutex> lock(report_mutex);
          ++r.bad;
          if (r.bad_examples.size() < kBadExamples)
            r.bad_examples.push_back(item.image + " at byte " + std::to_string(item.span.offset) +
                                     ": " + reason);
        }
        ShardResult result;
        result.bad = true;
        settle(item, std::move(result));
      });
  if (o.stop && o.stop->load()) return;
  // The split's index, once every shard is whole (this process's or another's).
  data::ShardIndex out_index;
  out_index.split = split;
  out_index.layout = data::FolderLayout::kMultiMae;
  out_index.classes = index.classes;
  for (int64_t s = 0; s < num_shards; ++s) {
    const auto name = index.shard_files[static_cast<size_t>(s)];
    const auto out_path = (fs::path(o.out) / name).string();
    if (!exists(out_path) || !exists(spans_path(out_path))) return;  // another process's, not yet
    std::ifstream in(spans_path(out_path));
    uint64_t offset = 0, length = 0;
    while (in >> offset >> length) out_index.samples.push_back({s, offset, length});
    std::error_code ec;
    const auto size = fs::file_size(out_path, ec);
    if (ec) io_fail("read the size of", out_path, ec.value());
    out_index.shard_files.push_back(name);
    out_index.shard_sizes.push_back(size);
  }
  data::write_shard_index(o.out, out_index);
  r.index_written = true;
}

}  // namespace

std::string record_stem(const JobOptions& o) {
  if (o.shard_count == 1) return "pseudolabel";
  return "pseudolabel-" + std::to_string(o.shard_index) + "-of-" + std::to_string(o.shard_count);
}

std::string mask_file_name(const std::string& image_file_name) {
  return image_file_name.substr(0, image_file_name.rfind('.')) + ".png";
}

std::vector<uint8_t> semantic_png(const torch::Tensor& semantic, int64_t num_classes) {
  const auto map = semantic.cpu().contiguous();
  const int h = static_cast<int>(map.size(0)), w = static_cast<int>(map.size(1));
  if (num_classes > 255) {
    const auto values = map.to(torch::kInt).clamp(0, 65535).to(torch::kUInt16).contiguous();
    return formats::encode_png_gray(values.data_ptr(), w, h, 16);
  }
  const auto values = map.to(torch::kUInt8).contiguous();
  return formats::encode_png_gray(values.data_ptr(), w, h, 8);
}

std::vector<uint8_t> instance_png(const torch::Tensor& instance) {
  const auto map = instance.cpu().to(torch::kInt);
  if (map.numel() > 0 && map.max().item<int>() > 65535)
    throw std::runtime_error("more than 65535 instances in one image");
  const auto values = map.to(torch::kUInt16).contiguous();
  return formats::encode_png_gray(values.data_ptr(), static_cast<int>(map.size(1)),
                                  static_cast<int>(map.size(0)), 16);
}

std::string file_sha256(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) io_fail("open", path, errno);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  std::vector<uint8_t> buffer(size_t{1} << 20);
  for (;;) {
    const auto n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      EVP_MD_CTX_free(ctx);
      io_fail("read", path, err);
    }
    if (n == 0) break;
    EVP_DigestUpdate(ctx, buffer.data(), static_cast<size_t>(n));
  }
  ::close(fd);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_DigestFinal_ex(ctx, digest, &size);
  EVP_MD_CTX_free(ctx);
  std::string hex;
  char byte[3];
  for (unsigned i = 0; i < size; ++i) {
    std::snprintf(byte, sizeof byte, "%02x", digest[i]);
    hex += byte;
  }
  return hex;
}

void check_job(const JobOptions& o) {
  for (const auto& split : o.splits) {
    if (o.source == InputSource::kShards) {
      data::read_shard_index(o.root, split);  // throws the DatasetError that says why
      if (same_file(o.root, o.out)) {
        throw data::DatasetError(with_hint(
            "--out " + o.out + " is the input shard folder",
            "write the labelled shards into another folder: the input shards stay as they are"));
      }
      continue;
    }
    const auto index = data::scan_folder(o.root, split);
    const fs::path out_split = fs::path(o.out) / split;
    // Maps written inside the split would become a class folder of it on the next scan.
    std::error_code ec;
    const auto in_canonical = fs::weakly_canonical(fs::path(o.root) / split, ec);
    const auto out_canonical = fs::weakly_canonical(out_split, ec);
    const auto [in_end, out_at] = std::mismatch(in_canonical.begin(), in_canonical.end(),
                                                out_canonical.begin(), out_canonical.end());
    if (!ec && in_end == in_canonical.end() && out_at != out_canonical.end()) {
      throw data::DatasetError(
          with_hint("--out " + o.out + " puts split " + split + "'s maps inside the input split " +
                        (fs::path(o.root) / split).string(),
                    "give an --out outside the dataset (or --out = --root for a MultiMAE folder)"));
    }
    if (index.layout == data::FolderLayout::kImageFolder &&
        same_file(fs::path(o.root) / split, out_split)) {
      throw data::DatasetError(
          with_hint("--out " + o.out +
                        " is the input, an ImageFolder split: its class folders cannot sit "
                        "beside rgb/, semseg/ and instance/",
                    "give another --out; the images are linked there, not copied"));
    }
    // Two images of one class with one stem (a.jpg, a.png) would share their mask files.
    std::map<std::string, std::string> owner;
    for (const auto& s : index.samples) {
      const auto cls = s.key.substr(0, s.key.find('/'));
      const auto file = fs::path(s.rgb).filename().string();
      const auto mask = cls + "/" + mask_file_name(file);
      const auto [it, fresh] = owner.emplace(mask, s.rgb);
      if (!fresh) {
        throw data::DatasetError(with_hint("split " + split + ": " + it->second + " and " + s.rgb +
                                               " would share the mask " + mask +
                                               " (the loader names masks by the image's stem)",
                                           "rename one of the two images"));
      }
    }
  }
}

JobReport run_job(Segmenter& model, const JobOptions& o) {
  JobReport job;
  const auto stem = record_stem(o);
  for (const auto& split : o.splits) {
    if (o.stop && o.stop->load()) {
      job.stopped = true;
      break;
    }
    job.splits.emplace_back();
    auto& r = job.splits.back();
    r.split = split;
    const auto start = Clock::now();
    SplitWork w{o, model, r, stem};
    if (o.source == InputSource::kShards) {
      label_shard_split(w, split);
    } else {
      label_folder_split(w, split);
    }
    r.seconds = elapsed(start);
    if (o.stop && o.stop->load()) job.stopped = true;
    check_bad_fraction(r, o.max_bad_fraction);
    if (job.stopped) break;
  }
  return job;
}

}  // namespace c2fmae::pseudolabel
