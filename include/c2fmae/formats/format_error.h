// The errors of the formats area. The formats know nothing of datasets or checkpoints: their
// callers (data, train, tools) translate these into their own errors where their callers
// rely on them (data/shard_index: FormatError -> DatasetError, FileError -> ShardIoError).
#pragma once
#include <stdexcept>

#include "c2fmae/core/file_writer.h"

namespace c2fmae::formats {

/// Bytes that are not in the format (a damaged tar header, a member past the end of its
/// range), or input the format cannot represent (a name too long for ustar). The message
/// says what is wrong and where.
class FormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// An OS failure on a file: "cannot <what> <path>: <OS reason>". It is core's FileError,
/// the one that core's FileWriter throws, so a writer's failure needs no translation here.
using FileError = c2fmae::FileError;

}  // namespace c2fmae::formats
