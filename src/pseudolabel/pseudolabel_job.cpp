#include "c2fmae/pseudolabel/pseudolabel_job.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <signal.h>
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
#include "c2fmae/data/encoded_sample.h"
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

// Whether `path` is a regular file (through links): an output that exists is whole, and a
// folder or anything else of that name is not an output.
bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// Removes the temporary files (<name>.tmp.<pid>.<n>) that a killed run left in `folder`,
// keeping those of processes still alive (another part writing beside this one).
void remove_stale_temporaries(const fs::path& folder) {
  std::error_code ec;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    const auto name = it->path().filename().string();
    const auto at = name.rfind(".tmp.");
    if (at == std::string::npos) continue;
    const auto pid_text = name.substr(at + 5, name.find('.', at + 5) - (at + 5));
    if (pid_text.empty() || pid_text.find_first_not_of("0123456789") != std::string::npos ||
        pid_text.size() > 9)
      continue;
    const auto pid = static_cast<pid_t>(std::stol(pid_text));
    if (pid == ::getpid() || ::kill(pid, 0) == 0 || errno != ESRCH) continue;
    std::error_code ignored;
    fs::remove(it->path(), ignored);
  }
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

// A whole image file (the loader's reader: a FIFO never blocks, size-capped); a missing or
// unreadable one is a bad image.
std::string read_file(const std::string& path) {
  std::string bytes;
  if (!data::read_file_into(path, bytes)) throw formats::DecodeError("no such file");
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
// Larger images are left out as bad: a decoded 16k x 16k image alone takes 1.5 GB per worker.
constexpr int64_t kMaxLabelPixels = int64_t{64} << 20;

torch::Tensor decode_rgb(const uint8_t* data, size_t size) {
  const auto header = formats::read_image_info(data, size);
  if (static_cast<int64_t>(header.width) * header.height > kMaxLabelPixels)
    throw formats::DecodeError("the image is " + std::to_string(header.width) + "x" +
                               std::to_string(header.height) + ", more than the " +
                               std::to_string(kMaxLabelPixels >> 20) + " M pixels labelled");
  auto image = formats::decode_image(data, size);
  auto pixels = torch::from_blob(image.pixels.data(), {image.height, image.width, image.channels},
                                 torch::kUInt16);
  if (image.channels == 3) return pixels.to(torch::kUInt8);  // 8-bit values: exact
  auto values = pixels.to(torch::kInt);                      // gray: 8- or 16-bit values
  if (values.max().item<int>() > 255) values = values.div(257, "floor");
  return values.to(torch::kUInt8).expand({image.height, image.width, 3}).contiguous();
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
  /// `fresh`: start the file anew (--overwrite relabels every sample of this part).
  SegmentLog(const std::string& path, bool fresh)
      : path_(path),
        file_(path, 0644, fresh ? FileWriter::Existing::kTruncate : FileWriter::Existing::kAppend) {
    // A run killed (or out of disk) in the middle of a line: the next line starts afresh, so
    // only the cut line is unreadable.
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    if (in && in.tellg() > 0) {
      in.seekg(-1, std::ios::end);
      if (in.get() != '\n') write_text("\n");
    }
  }
  void write_text(const std::string& text) {
    try {
      file_.write(text.data(), text.size());
    } catch (const FileError& e) {
      throw PseudolabelIoError(e.what());
    }
  }
  void write(const std::string& key, const ImageGeometry& g, const LabelMaps& maps) {
    const std::string line = "{\"key\": " + json_string(key) +
                             ", \"height\": " + std::to_string(g.height) +
                             ", \"width\": " + std::to_string(g.width) +
                             ", \"segments\": " + segments_json(maps.segments) + "}\n";
    std::lock_guard<std::mutex> lock(mutex_);
    write_text(line);
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
    std::string bytes;
    try {
      bytes = read_file(from);
    } catch (const std::exception& e) {
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
  std::atomic<int64_t> previews{0};
  TaskPool writers(o.workers, window);  // after what its tasks use: drained first
  auto last_progress = Clock::now();
  int64_t done = 0;
  // The model ran on this thread; the post-processing, encoding and writing run on the
  // writers, beside the next batch.
  auto hand_over = [&](std::vector<Labelled> labelled) {
    for (auto& l : labelled) {
      const auto i = static_cast<size_t>(l.tag);
      auto rgb = std::move(rgb_of[i]);
      rgb_of[i] = torch::Tensor();
      const bool preview = o.preview && previews.fetch_add(1) < o.preview_count;
      writers.push(
          [&, i, preview, rgb = preview ? rgb : torch::Tensor(), l = std::move(l)]() mutable {
            auto t = Clock::now();
            labeller.post(l);
            const double post = elapsed(t);
            t = Clock::now();
            if (preview) o.preview(items[i].key, rgb, l.maps);
            finish(items[i], std::move(l));
            std::lock_guard<std::mutex> lock(report_mutex);
            w.report.post_seconds += post;
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
  w.report.batch = labeller.batch_size();
}

// --- folder input -----------------------------------------------------------------------

// More instances than a 16-bit map holds: the image is left out as a bad one.
bool too_many_instances(const torch::Tensor& instance) {
  return instance.numel() > 0 && instance.max().item<int64_t>() > 65535;
}

void label_folder_split(SplitWork& w, const std::string& split) {
  const auto& o = w.options;
  auto& r = w.report;
  const auto index = data::scan_folder(o.root, split);
  const fs::path in_split = fs::path(o.root) / split;
  const fs::path out_split = fs::path(o.out) / split;
  const bool in_place = same_file(in_split, out_split);
  r.total = static_cast<int64_t>(index.samples.size());
  if (o.shard_index == 0) {  // entries named as images that are no file: part 0 counts them
    for (const auto& s : index.skipped) {
      ++r.bad;
      if (r.bad_examples.size() < kBadExamples) r.bad_examples.push_back(s);
    }
  }
  std::vector<Item> items;
  for (int64_t p = 0; p < r.total; ++p) {
    if (p % o.shard_count != o.shard_index) continue;
    ++r.selected;
    const auto& s = index.samples[static_cast<size_t>(p)];
    const auto file = fs::path(s.rgb).filename().string();
    const auto cls = s.key.substr(0, s.key.find('/'));
    const auto mask = cls + "/" + mask_file_name(file);
    const auto out_semantic = (out_split / "semseg" / mask).string();
    const auto out_instance = (out_split / "instance" / mask).string();
    Item item;
    item.position = p;
    item.key = s.key;
    item.image = s.rgb;
    if (!in_place) item.rgb = (out_split / "rgb" / cls / file).string();
    // Complete: both maps (and, into another folder, the image) are there.
    if (!o.overwrite && exists(out_semantic) && exists(out_instance) &&
        (item.rgb.empty() || exists(item.rgb))) {
      ++r.skipped;
      continue;
    }
    // A map not asked for is kept where it is, carried along from a MultiMAE input (e.g.
    // MultiMAE's released semseg), or, missing everywhere, made with the other.
    auto plan = [&](bool asked, const std::string& input, const std::string& output,
                    std::string& written) {
      if (asked || (!exists(output) && (in_place || input.empty() || !exists(input)))) {
        written = output;
      } else if (!in_place && !input.empty() && exists(input)) {
        item.carried.emplace_back(input, output);
      }
    };
    plan(o.write_semantic, s.semantic, out_semantic, item.semantic);
    plan(o.write_instance, s.instance, out_instance, item.instance);
    items.push_back(std::move(item));
  }
  std::set<std::string> folders;
  for (const auto& item : items) {
    for (const auto* path : {&item.semantic, &item.instance, &item.rgb}) {
      if (!path->empty()) folders.insert(fs::path(*path).parent_path().string());
    }
    for (const auto& c : item.carried) folders.insert(fs::path(c.second).parent_path().string());
  }
  for (const auto& f : folders) make_folders(f);
  // Every class folder of the output, not only those with work: a killed --overwrite run
  // leaves temporaries beside complete maps.
  for (const char* modality : {"rgb", "semseg", "instance"}) {
    std::error_code ec;
    for (fs::directory_iterator it(out_split / modality, ec), end; !ec && it != end;
         it.increment(ec)) {
      if (it->is_directory(ec)) remove_stale_temporaries(it->path());
    }
  }
  make_folders(out_split);
  SegmentLog log((out_split / (w.stem + ".jsonl")).string(), o.overwrite);
  std::mutex report_mutex;
  const int64_t num_classes = w.model.info().num_classes;
  auto bad = [&](const Item& item, const std::string& reason) {
    std::lock_guard<std::mutex> lock(report_mutex);
    ++r.bad;
    if (r.bad_examples.size() < kBadExamples) r.bad_examples.push_back(item.image + ": " + reason);
  };
  label_items(
      w, items,
      [&](const Item& item) {
        const auto bytes = read_file(item.image);
        return decode_rgb(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
      },
      [&](const Item& item, Labelled&& l) {
        const auto semantic = upscale_labels(l.maps.semantic, l.geometry.height, l.geometry.width);
        const auto instance = upscale_labels(l.maps.instance, l.geometry.height, l.geometry.width);
        if (too_many_instances(instance)) return bad(item, "more than 65535 instances");
        // The file written last makes the sample complete (the image, or in place the last
        // map): its record line goes before it, so a complete sample always has one.
        std::vector<std::function<void()>> steps;
        if (!item.semantic.empty())
          steps.push_back([&] { write_png(item.semantic, semantic_png(semantic, num_classes)); });
        if (!item.instance.empty())
          steps.push_back([&] { write_png(item.instance, instance_png(instance)); });
        for (const auto& c : item.carried)
          steps.push_back([&] { carry_file(c.first, c.second, o.rgb); });
        if (!item.rgb.empty()) steps.push_back([&] { carry_file(item.image, item.rgb, o.rgb); });
        for (size_t i = 0; i + 1 < steps.size(); ++i) steps[i]();
        log.write(item.key, l.geometry, l.maps);
        if (!steps.empty()) steps.back()();
        std::lock_guard<std::mutex> lock(report_mutex);
        ++r.written;
        r.segments += static_cast<int64_t>(l.maps.segments.size());
        for (const auto& s : l.maps.segments) r.instances += s.is_thing ? 1 : 0;
      },
      bad);
}

// --- shards input -----------------------------------------------------------------------

std::string spans_path(const std::string& shard_path) { return shard_path + ".spans"; }

// What an output shard was made from: the input shard's size and its samples' spans (FNV-1a),
// the first line of its spans file. A repacked input gives another, and the shard is redone.
std::string input_fingerprint(const data::ShardIndex& index, int64_t shard,
                              const std::vector<int64_t>& samples) {
  uint64_t hash = 1469598103934665603ull;
  auto mix = [&](uint64_t v) {
    for (int b = 0; b < 8; ++b, v >>= 8) hash = (hash ^ (v & 0xff)) * 1099511628211ull;
  };
  for (const auto p : samples) {
    mix(index.samples[static_cast<size_t>(p)].offset);
    mix(index.samples[static_cast<size_t>(p)].length);
  }
  return "input " + std::to_string(index.shard_sizes[static_cast<size_t>(shard)]) + " " +
         std::to_string(samples.size()) + " " + std::to_string(hash);
}

std::string first_line_of(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

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
    if (!o.overwrite && exists(out_path) && exists(spans_path(out_path)) &&
        first_line_of(spans_path(out_path)) == input_fingerprint(index, s, members)) {
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
  remove_stale_temporaries(o.out);
  SegmentLog log((fs::path(o.out) / split / (w.stem + ".jsonl")).string(), o.overwrite);
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
    std::string spans = input_fingerprint(index, s, samples_of[static_cast<size_t>(s)]) + "\n";
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
        // Ours where asked for, or where the input has none; the input's kept otherwise.
        auto has = [&](const std::string& name) {
          return std::any_of(members.begin(), members.end(),
                             [&](const formats::TarMember& m) { return m.name == name; });
        };
        const bool our_semantic = o.write_semantic || !has(key + ".sem.png");
        const bool our_instance = o.write_instance || !has(key + ".ins.png");
        auto add_maps = [&] {
          if (our_semantic)
            writer.add(key + ".sem.png", result.semantic.data(), result.semantic.size());
          if (our_instance)
            writer.add(key + ".ins.png", result.instance.data(), result.instance.size());
        };
        bool maps_added = false;
        for (const auto& m : members) {
          const bool sem = m.name == key + ".sem.png", ins = m.name == key + ".ins.png";
          if ((sem && our_semantic) || (ins && our_instance)) continue;
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
  auto bad = [&](const Item& item, const std::string& reason) {
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
  };
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
        if (too_many_instances(instance)) return bad(item, "more than 65535 instances");
        result.semantic = semantic_png(semantic, num_classes);  // both: either may fill a gap
        result.instance = instance_png(instance);
        log.write(item.key, l.geometry, l.maps);
        {
          std::lock_guard<std::mutex> lock(report_mutex);
          ++r.written;
          r.segments += static_cast<int64_t>(l.maps.segments.size());
          for (const auto& s : l.maps.segments) r.instances += s.is_thing ? 1 : 0;
        }
        settle(item, std::move(result));
      },
      bad);
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
    std::string fingerprint;
    std::getline(in, fingerprint);
    if (fingerprint != input_fingerprint(index, s, samples_of[static_cast<size_t>(s)]))
      return;  // made from an earlier input: its part redoes it
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
  // Shards of an earlier, larger input that the index no longer lists would still match a
  // reader's <split>-*.tar glob.
  const std::set<std::string> listed(out_index.shard_files.begin(), out_index.shard_files.end());
  std::error_code ec;
  for (fs::directory_iterator it(o.out, ec), end; !ec && it != end; it.increment(ec)) {
    auto name = it->path().filename().string();
    const bool spans = name.size() > 6 && name.compare(name.size() - 6, 6, ".spans") == 0;
    const auto shard = spans ? name.substr(0, name.size() - 6) : name;
    if (shard.rfind(split + "-", 0) != 0 || shard.size() < 4 ||
        shard.compare(shard.size() - 4, 4, ".tar") != 0 || listed.count(shard))
      continue;
    const auto digits = shard.substr(split.size() + 1, shard.size() - split.size() - 5);
    if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    std::error_code ignored;
    fs::remove(it->path(), ignored);
  }
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
