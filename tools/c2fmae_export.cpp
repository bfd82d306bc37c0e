// c2fmae_export: writes a checkpoint's encoder as a safetensors file under timm's ViT names,
// which timm, detectron2's ViTDet and mmsegmentation load (README, "Export"), or with
// --part all the whole model under our own names (to continue pre-training elsewhere).
//
//   c2fmae_export --checkpoint runs/pre/latest.pt --out vit_base_c2fmae.safetensors
//   c2fmae_export --checkpoint runs/ft/best.pt --out vit_base_ft.safetensors   # with its head
//   c2fmae_export --checkpoint runs/pre/latest.pt --out full.safetensors --part all
//
// Exit codes: 0 written, 1 the file could not be written (the OS reason is printed), 2 bad
// arguments (a missing or foreign checkpoint, an unknown part, an --out that is a directory,
// a link, a device or the checkpoint itself, or an existing file without --overwrite).
#include <filesystem>
#include <iostream>
#include <map>

#include "c2fmae/core/error_text.h"
#include "c2fmae/core/usage_error.h"
#include "c2fmae/formats/safetensors.h"
#include "c2fmae/train/encoder_export.h"
#include "program/arguments.h"
#include "program/guarded_main.h"

int main(int argc, char** argv) {
  using namespace c2fmae;
  return program::guarded_main("c2fmae_export", [&]() -> int {
    program::Arguments cli("c2fmae_export: a checkpoint's encoder as timm-named safetensors");
    std::string checkpoint, out, part = "encoder";
    bool overwrite = false;
    cli.option("--checkpoint", checkpoint, "a checkpoint of c2fmae_pretrain or c2fmae_finetune")
        .required();
    cli.option("--out", out, "the safetensors file to write").required();
    cli.option("--part", part,
               "encoder (timm's VisionTransformer names; a fine-tuned classifier's head too) "
               "or all (every tensor of the model, our names)");
    cli.flag("--overwrite", overwrite, "replace --out if it exists (a regular file only)");
    if (const auto code = cli.parse(argc, argv)) return *code;
    const auto which = train::parse_export_part(part);
    namespace fs = std::filesystem;
    std::error_code ec;
    if (out.empty() || fs::is_directory(out, ec)) {
      throw UsageError(with_hint("--out " + out + " is " + (out.empty() ? "empty" : "a directory"),
                                 "give a file name, e.g. --out vit_base.safetensors"));
    }
    {
      const auto folder = fs::path(out).parent_path();
      if (!folder.empty() && !fs::is_directory(folder, ec)) {
        throw UsageError(
            with_hint("--out " + out + ": its folder " + folder.string() +
                          (fs::exists(folder, ec) ? " is not a folder" : " does not exist"),
                      "give a file in an existing folder"));
      }
      if (fs::path(out).filename().string().size() > 255) {
        throw UsageError(
            with_hint("--out " + out + ": the file name is longer than 255 bytes (NAME_MAX)",
                      "give a shorter file name"));
      }
    }
    // The export is written beside --out and renamed over it: never over the checkpoint it
    // reads, a device or a link, nor over an existing file unless asked.
    if (fs::exists(fs::symlink_status(out, ec))) {
      if (fs::exists(checkpoint, ec) && fs::equivalent(out, checkpoint, ec)) {
        throw UsageError(with_hint("--out " + out + " is the checkpoint being exported",
                                   "write the export to another file"));
      }
      if (fs::is_symlink(fs::symlink_status(out, ec)) || !fs::is_regular_file(out, ec)) {
        throw UsageError(with_hint("--out " + out + " exists and is not a regular file",
                                   "give a new file name"));
      }
      if (!overwrite) {
        throw UsageError(with_hint("--out " + out + " exists",
                                   "add --overwrite to replace it, or give a new file name"));
      }
    }
    const auto file = train::read_weights(checkpoint);
    const auto tensors = train::export_tensors(file, which);
    std::map<std::string, std::string> metadata = {
        {"format", "pt"}, {"c2fmae_part", part}, {"c2fmae_source", file.kind}};
    try {
      formats::write_safetensors(out, tensors, metadata);
    } catch (const std::exception& e) {
      std::cerr << "c2fmae_export: " << error_text(e) << "\n";
      return 1;
    }
    int64_t numbers = 0;
    for (const auto& t : tensors) numbers += t.value().numel();
    std::cout << "wrote " << out << ": " << tensors.size() << " tensors, " << numbers / 1e6
              << " M values (" << part << ", from " << file.kind << ")\n";
    return 0;
  });
}
