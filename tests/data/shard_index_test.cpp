#include "c2fmae/data/shard_index.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "c2fmae/formats/tar.h"
#include "data_fixture.h"

namespace c2fmae::data {
namespace {
namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

using TempDir = testing::ScratchDir;

using testing::read_bytes;

void write_bytes(const std::string& path, const Bytes& bytes) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

std::string read_text(const std::string& path) {
  const auto bytes = read_bytes(path);
  return std::string(bytes.begin(), bytes.end());
}

void write_text(const std::string& path, const std::string& text) {
  write_bytes(path, Bytes(text.begin(), text.end()));
}

using testing::fake_file;
using testing::kJpegMagic;
using testing::kPngMagic;

/// The members a packed sample must hold: name -> bytes.
using Expected = std::map<std::string, Bytes>;

/// A MultiMAE split of `per_class` samples in each of `classes` classes, sizes 100..6000
/// bytes; every fifth sample lacks its instance mask, sample 3 is a PNG and sample 7 is
/// neither JPEG nor PNG. Returns the members expected per sample, in folder order.
std::vector<Expected> make_multimae(const std::string& root, const std::string& split, int classes,
                                    int per_class) {
  std::vector<Expected> expected;
  int n = 0;
  for (int c = 0; c < classes; ++c) {
    const std::string name = "class" + std::to_string(c);
    for (int i = 0; i < per_class; ++i, ++n) {
      const std::string stem = "img." + std::to_string(i);  // the key becomes img_<i>
      const std::string key = name + "/img_" + std::to_string(i);
      const auto size = static_cast<size_t>(100 + (n * 977) % 5900);
      Expected members;
      Bytes image = n == 3   ? fake_file(kPngMagic, size, n)
                    : n == 7 ? fake_file({'G', 'I', 'F', '8'}, size, n)
                             : fake_file(kJpegMagic, size, n);
      write_bytes(root + "/" + split + "/rgb/" + name + "/" + stem + (n == 3 ? ".png" : ".JPEG"),
                  image);
      members[key + (n == 3 ? ".png" : ".jpg")] = image;
      const Bytes sem = fake_file(kPngMagic, size / 3, n + 1000);
      write_bytes(root + "/" + split + "/semseg/" + name + "/" + stem + ".png", sem);
      members[key + ".sem.png"] = sem;
      if (n % 5 != 0) {
        const Bytes ins = fake_file(kPngMagic, size / 2, n + 2000);
        write_bytes(root + "/" + split + "/instance/" + name + "/" + stem + ".png", ins);
        members[key + ".ins.png"] = ins;
      }
      const std::string label = std::to_string(c);
      members[key + ".cls"] = Bytes(label.begin(), label.end());
      expected.push_back(std::move(members));
    }
  }
  return expected;
}

Bytes pread_span(const std::string& path, uint64_t offset, uint64_t length) {
  Bytes bytes(length);
  const int fd = ::open(path.c_str(), O_RDONLY);
  EXPECT_GE(fd, 0) << path;
  const ssize_t n = ::pread(fd, bytes.data(), length, static_cast<off_t>(offset));
  ::close(fd);
  EXPECT_EQ(n, static_cast<ssize_t>(length)) << path;
  return bytes;
}

/// Reads every sample of a packed split by its span, as the loader does.
std::vector<Expected> unpack(const std::string& out, const std::string& split) {
  const ShardIndex index = read_shard_index(out, split);
  std::vector<Expected> samples;
  for (const auto& span : index.samples) {
    const Bytes bytes =
        pread_span(out + "/" + index.shard_files[span.shard], span.offset, span.length);
    Expected members;
    for (const auto& m : formats::parse_tar_members(bytes.data(), bytes.size())) {
      members[m.name] = Bytes(bytes.begin() + m.offset, bytes.begin() + m.offset + m.size);
    }
    samples.push_back(std::move(members));
  }
  return samples;
}

template <typename E>
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  ADD_FAILURE() << "no exception";
  return "";
}

std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::string run(const std::string& command) {
  std::string output;
  FILE* pipe = ::popen(("(" + command + ") 2>&1").c_str(), "r");
  if (!pipe) return "popen failed";
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) output.append(buf, n);
  const int status = ::pclose(pipe);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) output += "\n[command failed]";
  return output;
}

TEST(ShardIndex, PackedSpansHoldTheFolderFilesAcrossShards) {
  TempDir dir;
  const auto expected = make_multimae(dir / "data", "train", 3, 7);
  PackOptions options;
  options.shard_bytes = 16 << 10;
  std::vector<int64_t> progress;
  options.progress_every = 5;
  options.progress = [&](const PackReport& r) {
    EXPECT_EQ(r.total_samples, 21);
    progress.push_back(r.samples);
  };
  const auto report = pack_folder(dir / "data", "train", dir / "out", options);
  EXPECT_EQ(progress, (std::vector<int64_t>{0, 5, 10, 15, 20}));
  EXPECT_EQ(report.samples, 21);
  EXPECT_EQ(report.total_samples, 21);
  EXPECT_EQ(report.missing_masks, 5);  // samples 0, 5, 10, 15, 20 lack their instance mask
  EXPECT_NE(report.first_missing_mask.find("instance/class0/img.0.png"), std::string::npos);
  EXPECT_EQ(report.unknown_images, 1);
  EXPECT_NE(report.first_unknown_image.find("rgb/class1/img.0.JPEG"), std::string::npos);
  EXPECT_EQ(report.layout, FolderLayout::kMultiMae);
  EXPECT_GE(report.shards, 3);

  const ShardIndex index = read_shard_index(dir / "out", "train");
  EXPECT_EQ(index.split, "train");
  EXPECT_EQ(index.layout, FolderLayout::kMultiMae);
  EXPECT_EQ(index.classes, (std::vector<std::string>{"class0", "class1", "class2"}));
  ASSERT_EQ(static_cast<int64_t>(index.shard_files.size()), report.shards);
  uint64_t bytes = 0;
  for (size_t s = 0; s < index.shard_files.size(); ++s) {
    char name[32];
    std::snprintf(name, sizeof name, "train-%06zu.tar", s);
    EXPECT_EQ(index.shard_files[s], name);
    EXPECT_LE(index.shard_sizes[s], options.shard_bytes);
    bytes += index.shard_sizes[s];
  }
  EXPECT_EQ(report.bytes, bytes);
  // Only the shards and the index: no temporary file is left.
  std::vector<std::string> names = index.shard_files;
  names.push_back("train.index");
  EXPECT_EQ(files_in(dir / "out"), names);

  const auto samples = unpack(dir / "out", "train");
  ASSERT_EQ(samples.size(), expected.size());
  for (size_t i = 0; i < samples.size(); ++i) EXPECT_EQ(samples[i], expected[i]) << "sample " << i;
  // Spans tile each shard in order.
  for (size_t i = 1; i < index.samples.size(); ++i) {
    const auto &a = index.samples[i - 1], &b = index.samples[i];
    if (a.shard == b.shard) {
      EXPECT_EQ(a.offset + a.length, b.offset);
    }
  }
}

TEST(ShardIndex, PacksAnImageFolderSplitWithoutMasks) {
  TempDir dir;
  const Bytes a = fake_file(kJpegMagic, 300, 1), b = fake_file(kPngMagic, 200, 2);
  write_bytes(dir / "data/val/x/a.JPEG", a);
  write_bytes(dir / "data/val/y/b.c.png", b);
  const auto report = pack_folder(dir / "data", "val", dir / "out", {});
  EXPECT_EQ(report.shards, 1);
  EXPECT_EQ(report.missing_masks, 0);
  EXPECT_EQ(read_shard_index(dir / "out", "val").layout, FolderLayout::kImageFolder);
  const auto samples = unpack(dir / "out", "val");
  ASSERT_EQ(samples.size(), 2u);
  EXPECT_EQ(samples[0], (Expected{{"x/a.jpg", a}, {"x/a.cls", {'0'}}}));
  EXPECT_EQ(samples[1], (Expected{{"y/b_c.png", b}, {"y/b_c.cls", {'1'}}}));
}

TEST(ShardIndex, PythonTarfileReadsTheShards) {
  if (!fs::exists("/usr/bin/python3")) GTEST_SKIP() << "no /usr/bin/python3";
  TempDir dir;
  const auto expected = make_multimae(dir / "data", "train", 2, 4);
  PackOptions options;
  options.shard_bytes = 12 << 10;
  const auto report = pack_folder(dir / "data", "train", dir / "out", options);
  ASSERT_GE(report.shards, 2);
  // Every member with its size and byte sum, as Python's tarfile sees them.
  std::string ours;
  for (const auto& sample : expected) {
    for (const auto& [name, bytes] : sample) {
      uint64_t sum = 0;
      for (uint8_t v : bytes) sum += v;
      ours += name + " " + std::to_string(bytes.size()) + " " + std::to_string(sum) + "\n";
    }
  }
  std::string theirs;
  for (const auto& shard : read_shard_index(dir / "out", "train").shard_files) {
    theirs +=
        run("/usr/bin/python3 -c 'import sys, tarfile\n"
            "with tarfile.open(sys.argv[1]) as t:\n"
            "    for m in sorted(t.getmembers(), key=lambda m: m.name):\n"
            "        assert m.isfile() and m.mode == 0o644, m\n"
            "        print(m.name, m.size, sum(t.extractfile(m).read()))' " +
            dir / ("out/" + shard));
  }
  // Members sorted by name inside each shard; samples of one class stay in one order.
  std::istringstream a(ours), b(theirs);
  std::vector<std::string> ours_lines, theirs_lines;
  for (std::string line; std::getline(a, line);) ours_lines.push_back(line);
  for (std::string line; std::getline(b, line);) theirs_lines.push_back(line);
  std::sort(ours_lines.begin(), ours_lines.end());
  std::sort(theirs_lines.begin(), theirs_lines.end());
  EXPECT_EQ(theirs_lines, ours_lines) << theirs;
}

TEST(ShardIndex, RefusesExistingOutputUnlessOverwriteAndRemovesStaleShards) {
  TempDir dir;
  make_multimae(dir / "data", "train", 3, 6);
  make_multimae(dir / "data", "val", 1, 2);
  PackOptions options;
  options.shard_bytes = 8 << 10;
  const auto first = pack_folder(dir / "data", "train", dir / "out", options);
  pack_folder(dir / "data", "val", dir / "out", options);  // another split beside it is fine
  ASSERT_GE(first.shards, 4);

  auto message =
      error_of<DatasetError>([&] { pack_folder(dir / "data", "train", dir / "out", options); });
  EXPECT_NE(message.find(dir / "out"), std::string::npos) << message;
  EXPECT_NE(message.find("already holds split 'train'"), std::string::npos) << message;
  EXPECT_NE(message.find("--overwrite"), std::string::npos) << message;
  // Shards without an index are refused too.
  fs::rename(dir / "out/train.index", dir / "train.index");
  EXPECT_THROW(pack_folder(dir / "data", "train", dir / "out", options), DatasetError);
  fs::rename(dir / "train.index", dir / "out/train.index");

  // Fewer samples: the shards past the new count go.
  fs::remove_all(dir / "data/train/rgb/class1");
  fs::remove_all(dir / "data/train/rgb/class2");
  options.overwrite = true;
  const auto second = pack_folder(dir / "data", "train", dir / "out", options);
  EXPECT_EQ(second.samples, 6);
  EXPECT_LT(second.shards, first.shards);
  const ShardIndex index = read_shard_index(dir / "out", "train");
  EXPECT_EQ(index.samples.size(), 6u);
  std::vector<std::string> names = index.shard_files;
  for (const auto& s : read_shard_index(dir / "out", "val").shard_files) names.push_back(s);
  names.push_back("train.index");
  names.push_back("val.index");
  std::sort(names.begin(), names.end());
  EXPECT_EQ(files_in(dir / "out"), names);
  EXPECT_EQ(unpack(dir / "out", "val").size(), 2u);
}

TEST(ShardIndex, InterruptedPackLeavesTheEarlierPackOrNothing) {
  TempDir dir;
  make_multimae(dir / "data", "train", 2, 6);
  PackOptions options;
  options.shard_bytes = 8 << 10;
  options.progress_every = 7;
  options.progress = [](const PackReport& r) {
    if (r.samples == 7) throw std::runtime_error("interrupted");
  };
  // Nothing before: nothing after.
  EXPECT_THROW(pack_folder(dir / "data", "train", dir / "out", options), std::runtime_error);
  EXPECT_TRUE(files_in(dir / "out").empty());
  EXPECT_THROW(read_shard_index(dir / "out", "train"), DatasetError);

  // An earlier pack survives an interrupted overwrite whole.
  PackOptions plain;
  plain.shard_bytes = options.shard_bytes;
  pack_folder(dir / "data", "train", dir / "out", plain);
  const auto before = files_in(dir / "out");
  const auto samples = unpack(dir / "out", "train");
  write_bytes(dir / "data/train/rgb/class0/img.0.JPEG", fake_file(kJpegMagic, 9000, 9));
  options.overwrite = true;
  EXPECT_THROW(pack_folder(dir / "data", "train", dir / "out", options), std::runtime_error);
  EXPECT_EQ(files_in(dir / "out"), before);
  EXPECT_EQ(unpack(dir / "out", "train"), samples);

  // A killed pack leaves temporary files: the next pack removes them and is not refused.
  write_bytes(dir / "out2/train-000003.tar.tmp", {1, 2, 3});
  write_bytes(dir / "out2/train.index.tmp", {1});
  write_bytes(dir / "out2/val-000000.tar.tmp", {1});  // another split's: left alone
  const auto report = pack_folder(dir / "data", "train", dir / "out2", plain);
  std::vector<std::string> names = read_shard_index(dir / "out2", "train").shard_files;
  names.push_back("train.index");
  names.push_back("val-000000.tar.tmp");
  EXPECT_EQ(files_in(dir / "out2"), names);
  EXPECT_EQ(report.samples, 12);
}

TEST(ShardIndex, AnOverwriteWritesTheOtherGenerationSoAKillBeforeItsIndexKeepsTheEarlierPack) {
  TempDir dir;
  make_multimae(dir / "data", "train", 2, 6);
  PackOptions options;
  options.shard_bytes = 8 << 10;
  pack_folder(dir / "data", "train", dir / "out", options);
  const auto first = read_shard_index(dir / "out", "train").shard_files;
  ASSERT_GT(first.size(), 1u);
  EXPECT_EQ(first.front(), "train-000000.tar");
  const auto samples = unpack(dir / "out", "train");
  fs::copy(dir / "out", dir / "earlier", fs::copy_options::recursive);
  // The overwrite's shards take the other generation's names; the earlier files go.
  write_bytes(dir / "data/train/rgb/class0/img.0.JPEG", fake_file(kJpegMagic, 9000, 9));
  options.overwrite = true;
  pack_folder(dir / "data", "train", dir / "out", options);
  const auto second = read_shard_index(dir / "out", "train").shard_files;
  EXPECT_EQ(second.front(), "train-000000.g1.tar");
  auto names = second;
  names.push_back("train.index");
  std::sort(names.begin(), names.end());
  EXPECT_EQ(files_in(dir / "out"), names);
  const auto repacked = unpack(dir / "out", "train");
  EXPECT_NE(repacked, samples);
  // A pack killed after its shards took their names but before its index did: the earlier
  // index and shards are whole, the new shards lie unlisted beside them.
  for (const auto& name : second)
    fs::copy_file(fs::path(dir / "out") / name, fs::path(dir / "earlier") / name);
  EXPECT_EQ(unpack(dir / "earlier", "train"), samples);
  // The next overwrite of that folder goes to generation 1 again and leaves nothing stale.
  pack_folder(dir / "data", "train", dir / "earlier", options);
  EXPECT_EQ(files_in(dir / "earlier"), names);
  EXPECT_EQ(unpack(dir / "earlier", "train"), repacked);
  // And a third pack of the first folder returns to generation 0.
  pack_folder(dir / "data", "train", dir / "out", options);
  EXPECT_EQ(read_shard_index(dir / "out", "train").shard_files.front(), "train-000000.tar");
  EXPECT_EQ(unpack(dir / "out", "train"), repacked);
}

TEST(ShardIndex, LongNamesAndBadSplitNamesAreRefusedBeforeWriting) {
  TempDir dir;
  write_bytes(dir / ("data/train/c/" + std::string(100, 'x') + ".jpg"), kJpegMagic);
  const auto message =
      error_of<DatasetError>([&] { pack_folder(dir / "data", "train", dir / "out", {}); });
  EXPECT_NE(message.find(std::string(100, 'x') + ".jpg"), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(dir / "out"));
  EXPECT_THROW(pack_folder(dir / "data", "a/b", dir / "out", {}), DatasetError);
  EXPECT_THROW(pack_folder(dir / "data", "", dir / "out", {}), DatasetError);
  // A missing root is a dataset problem, not an I/O error.
  try {
    pack_folder(dir / "nope", "train", dir / "out", {});
    ADD_FAILURE() << "no exception";
  } catch (const ShardIoError& e) {
    ADD_FAILURE() << "an I/O error: " << e.what();
  } catch (const DatasetError& e) {
    EXPECT_NE(std::string(e.what()).find("does not exist"), std::string::npos);
  }
}

TEST(ShardIndex, IndexRoundTripAndFormat) {
  TempDir dir;
  write_bytes(dir / "s-000000.tar", Bytes(4096));
  write_bytes(dir / "s-000001.tar", Bytes(2048));
  ShardIndex index;
  index.split = "s";
  index.layout = FolderLayout::kImageFolder;
  index.classes = {"a b", "c"};  // spaces are kept
  index.shard_files = {"s-000000.tar", "s-000001.tar"};
  index.shard_sizes = {4096, 2048};
  index.samples = {{0, 0, 1024}, {0, 1024, 2048}, {1, 0, 1024}};
  write_shard_index(dir.str(), index);
  EXPECT_EQ(read_text(dir / "s.index"),
            "c2fmae-shards 1\nsplit s\nlayout imagefolder\nclasses 2\na b\nc\nshards 2\n"
            "s-000000.tar 4096\ns-000001.tar 2048\nsamples 3\n0 0 1024\n0 1024 2048\n1 0 1024\n");
  EXPECT_FALSE(fs::exists(dir / "s.index.tmp"));
  const ShardIndex back = read_shard_index(dir.str(), "s");
  EXPECT_EQ(back.split, "s");
  EXPECT_EQ(back.layout, FolderLayout::kImageFolder);
  EXPECT_EQ(back.classes, index.classes);
  EXPECT_EQ(back.shard_files, index.shard_files);
  EXPECT_EQ(back.shard_sizes, index.shard_sizes);
  ASSERT_EQ(back.samples.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(back.samples[i].shard, index.samples[i].shard);
    EXPECT_EQ(back.samples[i].offset, index.samples[i].offset);
    EXPECT_EQ(back.samples[i].length, index.samples[i].length);
  }
  index.classes = {"a\nb"};
  EXPECT_THROW(write_shard_index(dir.str(), index), DatasetError);
}

TEST(ShardIndex, TamperedIndexOrShardsAreRefusedWithPathAndLine) {
  TempDir dir;
  make_multimae(dir / "data", "train", 2, 5);
  PackOptions options;
  options.shard_bytes = 8 << 10;
  pack_folder(dir / "data", "train", dir / "out", options);
  const std::string path = dir / "out/train.index";
  const std::string good = read_text(path);
  // Line numbers: 1 magic, 2 split, 3 layout, 4 classes 2, 5-6 classes, 7 shards, 8.. shards.
  auto expect_refused = [&](const std::string& text, const std::string& where,
                            const std::string& what) {
    write_text(path, text);
    const auto message = error_of<DatasetError>([&] { read_shard_index(dir / "out", "train"); });
    EXPECT_NE(message.find(path + ":" + where + ": "), std::string::npos) << message;
    EXPECT_NE(message.find(what), std::string::npos) << message;
    write_text(path, good);
  };
  auto replaced = [&](const std::string& from, const std::string& to) {
    std::string text = good;
    const auto at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return text.replace(at, from.size(), to);
  };
  const ShardIndex index = read_shard_index(dir / "out", "train");
  const size_t num_shards = index.shard_files.size();
  const std::string last_line = std::to_string(8 + num_shards + 10);

  expect_refused("", "1", "ends here");
  expect_refused(replaced("c2fmae-shards 1", "tar-index 1"), "1", "not a c2fmae shard index");
  expect_refused(replaced("c2fmae-shards 1", "c2fmae-shards 2"), "1", "version 2");
  expect_refused(replaced("split train", "split val"), "2", "split 'val'");
  expect_refused(replaced("layout multimae", "layout other"), "3", "layout");
  expect_refused(replaced("classes 2", "classes x"), "4", "got 'x'");
  expect_refused(replaced("class0\nclass1\n", "class0\nclass0\n"), "6", "listed twice");
  expect_refused(replaced("samples 10", "samples 11"), std::to_string(8 + num_shards + 11),
                 "ends here");
  expect_refused(replaced("samples 10", "samples 9"), last_line, "unexpected text");
  expect_refused(good + "\n", std::to_string(8 + num_shards + 11), "unexpected text");
  // The first sample: a span outside its shard, a shard that does not exist, not numbers.
  const std::string first = "\n0 0 " + std::to_string(index.samples[0].length) + "\n";
  expect_refused(replaced(first, "\n0 " + std::to_string(index.shard_sizes[0]) + " 512\n"),
                 std::to_string(9 + num_shards), "inside shard train-000000.tar");
  expect_refused(replaced(first, "\n0 100 512\n"), std::to_string(9 + num_shards),
                 "not whole tar blocks");
  expect_refused(replaced(first, "\n" + std::to_string(num_shards) + " 0 512\n"),
                 std::to_string(9 + num_shards), "does not exist");
  expect_refused(replaced(first, "\n0 0 -512\n"), std::to_string(9 + num_shards), "got '-512'");
  expect_refused(replaced(first, "\n0 0\n"), std::to_string(9 + num_shards), "expected");
  // The second sample's span moved onto the first one's: that sample would be read twice.
  const std::string second = first + std::to_string(index.samples[1].shard) + " " +
                             std::to_string(index.samples[1].offset) + " " +
                             std::to_string(index.samples[1].length) + "\n";
  expect_refused(replaced(second, first + "0 0 " + std::to_string(index.samples[0].length) + "\n"),
                 std::to_string(10 + num_shards), "overlaps");

  // A shard of another size, a missing shard.
  const std::string shard1 = dir / ("out/" + index.shard_files[1]);
  const Bytes saved = read_bytes(shard1);
  Bytes longer = saved;
  longer.resize(saved.size() + 512);
  write_bytes(shard1, longer);
  auto message = error_of<DatasetError>([&] { read_shard_index(dir / "out", "train"); });
  EXPECT_NE(message.find(path + ":9: shard " + shard1 + " is " + std::to_string(longer.size()) +
                         " bytes, but the index says " + std::to_string(saved.size())),
            std::string::npos)
      << message;
  fs::remove(shard1);
  message = error_of<DatasetError>([&] { read_shard_index(dir / "out", "train"); });
  EXPECT_NE(message.find(path + ":9: shard " + shard1), std::string::npos) << message;
  EXPECT_NE(message.find("No such file"), std::string::npos) << message;
  write_bytes(shard1, saved);
  EXPECT_EQ(read_shard_index(dir / "out", "train").samples.size(), 10u);

  fs::remove(path);
  message = error_of<DatasetError>([&] { read_shard_index(dir / "out", "train"); });
  EXPECT_NE(message.find("no shard index " + path), std::string::npos) << message;
}

}  // namespace
}  // namespace c2fmae::data
