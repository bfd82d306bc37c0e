// A process's claim on an output folder of c2fmae_pseudolabel, held while it writes:
// - its part's lock (pseudolabel[-I-of-N].lock): a second process on the same part is refused;
// - a shared lock on pseudolabel.model.lock, which a process that replaces the model record
//   takes alone (no other part may be writing the old model's maps meanwhile);
// - the model record, pseudolabel.model: the model's sha256 and every threshold that shapes a
//   map, and the maps it made. Maps of one output come from one model: a run with another
//   model or other thresholds is refused, and with --overwrite it must relabel every sample
//   (one part) and every map the old model made.
#pragma once
#include <string>

namespace c2fmae::pseudolabel {

struct ClaimRequest {
  std::string out;       ///< the output folder (created)
  std::string stem;      ///< record_stem(): the part's name
  std::string part;      ///< "I/N", for messages
  int64_t parts = 1;     ///< N
  std::string identity;  ///< the model's sha256 and thresholds, one "key value" per line
  bool write_semantic = true;
  bool write_instance = true;
  bool overwrite = false;
};

class OutputClaim {
 public:
  /// Takes the locks and checks or writes the model record. Throws UsageError (exit 2) for a
  /// refusal, PseudolabelIoError (exit 1) for a folder or file that cannot be written.
  explicit OutputClaim(const ClaimRequest& request);
  ~OutputClaim();
  OutputClaim(const OutputClaim&) = delete;
  OutputClaim& operator=(const OutputClaim&) = delete;

 private:
  int part_fd_ = -1;
  int model_fd_ = -1;
};

}  // namespace c2fmae::pseudolabel
