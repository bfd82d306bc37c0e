// Writing a file so that readers see the old content or the new, never a part: write a
// temporary file beside it, fsync it, rename it over the target, fsync the folder. Every
// file a run writes goes through here. A failure (a full disk, a read-only folder) removes
// the temporary file and throws std::runtime_error naming the path and the OS reason.
#pragma once
#include <cstddef>
#include <functional>
#include <string>

namespace c2fmae {

/// path + ".tmp": the temporary name of a writer that holds a lock on its folder (c2fmae_pack).
std::string temporary_path(const std::string& path);

/// A temporary name for `path` that no other writer uses: path + ".tmp.<pid>.<n>" (a file
/// name longer than 200 bytes is cut to 200 first, so that the name fits NAME_MAX).
std::string unique_temporary_path(const std::string& path);

/// Creates a unique temporary file (unique_temporary_path, exclusively, not through a link),
/// calls `write(tmp)` to fill it (it may throw), then syncs and renames it over `path`.
void write_file_atomically(const std::string& path,
                           const std::function<void(const std::string& tmp)>& write);

/// Writes `size` bytes to `path` atomically through a temporary file of a name no other
/// writer uses (path + ".tmp.<pid>.<n>"), created exclusively and never through a link, so
/// that threads and processes may write beside each other. With `sync_folder` false the
/// folder is not synced: a crash may then lose the rename (the file is absent), never leave
/// a partial file.
void write_bytes_atomically(const std::string& path, const void* data, size_t size,
                            bool sync_folder = true);

/// Writes `text` to `path` atomically.
void write_text_atomically(const std::string& path, const std::string& text);

/// Points the symlink `link` at `target` atomically (a temporary link renamed over it).
void replace_symlink(const std::string& link, const std::string& target);

/// fsync of a file or folder; throws std::runtime_error with the OS reason.
void sync_path(const std::string& path, bool directory);

}  // namespace c2fmae
