#include "c2fmae/formats/zip_checksums.h"

#include <zip.h>

#include <memory>
#include <vector>

namespace c2fmae::formats {
namespace {

std::string zip_error_text(int code) {
  zip_error_t error;
  zip_error_init_with_code(&error, code);
  std::string text = zip_error_strerror(&error);
  zip_error_fini(&error);
  return text;
}

// libzip's codes for an archive that is there but damaged, as opposed to an OS failure.
bool is_damage(int code) {
  switch (code) {
    case ZIP_ER_NOZIP:
    case ZIP_ER_INCONS:
    case ZIP_ER_CRC:
    case ZIP_ER_COMPNOTSUPP:
    case ZIP_ER_EOF:
    case ZIP_ER_ZLIB:
    case ZIP_ER_ENCRNOTSUPP:
      return true;
    default:
      return false;
  }
}

[[noreturn]] void fail(const std::string& path, const std::string& where, int code,
                       const std::string& text) {
  if (is_damage(code)) throw FormatError(where + text);
  throw FileError("cannot read " + path + ": " + where + text);
}

}  // namespace

void verify_zip_checksums(const std::string& path) {
  int code = 0;
  std::unique_ptr<zip_t, decltype(&zip_discard)> archive(
      zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code), &zip_discard);
  if (!archive) fail(path, "", code, zip_error_text(code));
  const zip_int64_t entries = zip_get_num_entries(archive.get(), 0);
  std::vector<char> buffer(1 << 20);
  for (zip_int64_t i = 0; i < entries; ++i) {
    const char* name = zip_get_name(archive.get(), static_cast<zip_uint64_t>(i), 0);
    const std::string where = std::string("entry ") + (name ? name : std::to_string(i)) + ": ";
    zip_file_t* file = zip_fopen_index(archive.get(), static_cast<zip_uint64_t>(i), 0);
    if (!file) {
      zip_error_t* error = zip_get_error(archive.get());
      fail(path, where, zip_error_code_zip(error), zip_error_strerror(error));
    }
    std::unique_ptr<zip_file_t, decltype(&zip_fclose)> open(file, &zip_fclose);
    for (;;) {
      const zip_int64_t got = zip_fread(file, buffer.data(), buffer.size());
      if (got == 0) break;
      if (got < 0) {
        zip_error_t* error = zip_file_get_error(file);
        fail(path, where, zip_error_code_zip(error), zip_error_strerror(error));
      }
    }
  }
}

}  // namespace c2fmae::formats
