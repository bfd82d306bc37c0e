"""timm interop: does timm's VisionTransformer compute with c2fmae's weights what c2fmae does?

Two subcommands, run by the C++ interop test with the venv's python (timm, torch, safetensors):

  make   builds timm.models.vision_transformer.VisionTransformer with MAE's settings
         (qkv_bias=True, LayerNorm eps 1e-6; global_pool='avg' gives fc_norm and no final
         norm, 'token' a final norm), sets every parameter to a seeded random value away from
         its initial one (LayerNorm weights near 1, biases non-zero), and writes in --out:
           timm_vit.safetensors   the model's state_dict under timm's names
           input.safetensors      {"x": [2, 3, S, S]}
           expected.safetensors   {"features": forward_features(x) [B, 1+L, D],
                                   "pooled": forward_head(features, pre_logits=True) [B, D],
                                   "logits": model(x) [B, C] ([B, D] when C = 0)}
  check  builds the same model, loads --weights with load_state_dict(strict=True) (missing or
         unexpected keys, or a shape mismatch: printed, exit 1), computes the same outputs on
         --dir/input.safetensors and writes them to --dir/timm_on_export.safetensors. With
         --timm-name (e.g. vit_tiny_patch16_224) it also builds the model by name with
         timm.create_model(name, pretrained=True, pretrained_cfg_overlay=dict(file=WEIGHTS),
         <the model args>) and checks that its tensors and outputs equal those above (exit 1
         if not): timm's own loading path, offline. timm drops a head whose class count is
         not the pretrained config's (1000 for ImageNet names), so --num-classes must be 0 or
         that count there (exit 2 otherwise).

Nothing here touches the network: HF_HUB_OFFLINE=1 is set before timm is imported, and a
pretrained_cfg 'file' takes precedence over the hub in timm's resolution.

  python timm_interop.py make --out DIR --img-size 32 --patch-size 8 --embed-dim 64 \\
      --depth 2 --num-heads 4 --num-classes 10 --global-pool avg
  python timm_interop.py check --weights export.safetensors --dir DIR <same model args>
"""
import argparse
import os
import pathlib
import sys
from functools import partial

os.environ["HF_HUB_OFFLINE"] = "1"

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402

import timm  # noqa: E402
from timm.models.vision_transformer import VisionTransformer  # noqa: E402


def model_kwargs(args):
    """The VisionTransformer arguments of MAE's encoder (models_vit.py) at the given sizes."""
    return dict(img_size=args.img_size, patch_size=args.patch_size, embed_dim=args.embed_dim,
                depth=args.depth, num_heads=args.num_heads, num_classes=args.num_classes,
                global_pool=args.global_pool, qkv_bias=True,
                norm_layer=partial(nn.LayerNorm, eps=1e-6))


def build(args):
    return VisionTransformer(**model_kwargs(args)).eval()


@torch.no_grad()
def randomize(model):
    """Every parameter away from its initial value: norm weights 1 + N(0, 0.1), all else
    (biases, cls_token, pos_embed included) N(0, 0.02)."""
    for p in model.parameters():
        p.normal_(0.0, 0.02)
    for m in model.modules():
        if isinstance(m, nn.LayerNorm):
            m.weight.normal_(1.0, 0.1)


@torch.no_grad()
def outputs(model, x):
    features = model.forward_features(x)
    return {"features": features.contiguous(),
            "pooled": model.forward_head(features, pre_logits=True).contiguous(),
            "logits": model(x).contiguous()}


def make(args):
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(args.seed)
    model = build(args)
    randomize(model)
    x = torch.randn(2, 3, args.img_size, args.img_size)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()},
              str(out / "timm_vit.safetensors"))
    save_file({"x": x}, str(out / "input.safetensors"))
    save_file(outputs(model, x), str(out / "expected.safetensors"))
    for name, t in model.state_dict().items():
        print(f"{name} {list(t.shape)}")
    return 0


def load_strict(model, weights):
    """Loads `weights` into `model`; prints what does not fit and returns False if anything."""
    state_dict = load_file(weights)
    try:
        result = model.load_state_dict(state_dict, strict=False)
    except RuntimeError as e:  # shape mismatches raise even when not strict
        print(f"{weights}: {e}", file=sys.stderr)
        return False
    for kind, keys in (("missing", result.missing_keys), ("unexpected", result.unexpected_keys)):
        if keys:
            print(f"{weights}: {kind} keys: {', '.join(keys)}", file=sys.stderr)
    return not result.missing_keys and not result.unexpected_keys


def check(args):
    if args.timm_name:
        # timm drops a classifier of another class count than the pretrained config's
        # (_builder.load_pretrained): only a head-less model or one of that count loads whole.
        cfg = timm.models.get_pretrained_cfg(args.timm_name)
        if cfg is None:
            print(f"--timm-name {args.timm_name}: not a timm model with a pretrained config",
                  file=sys.stderr)
            return 2
        if args.num_classes not in (0, cfg.num_classes):
            print(f"--timm-name {args.timm_name}: timm drops a head of {args.num_classes} "
                  f"classes (its pretrained config has {cfg.num_classes}); use --num-classes 0 "
                  f"or {cfg.num_classes}", file=sys.stderr)
            return 2
    model = build(args)
    if not load_strict(model, args.weights):
        return 1
    x = load_file(str(pathlib.Path(args.dir) / "input.safetensors"))["x"]
    got = outputs(model, x)
    save_file(got, str(pathlib.Path(args.dir) / "timm_on_export.safetensors"))
    print(f"loaded {len(model.state_dict())} tensors strictly; wrote timm_on_export.safetensors")
    if not args.timm_name:
        return 0

    by_name = timm.create_model(args.timm_name, pretrained=True,
                                pretrained_cfg_overlay=dict(file=str(args.weights)),
                                **model_kwargs(args)).eval()
    ours, theirs = model.state_dict(), by_name.state_dict()
    if ours.keys() != theirs.keys():
        print(f"{args.timm_name}: other tensor names: {sorted(ours.keys() ^ theirs.keys())}",
              file=sys.stderr)
        return 1
    differ = [k for k in ours if not torch.equal(ours[k], theirs[k])]
    if differ:
        print(f"{args.timm_name}: tensors not loaded as in the file: {differ}", file=sys.stderr)
        return 1
    again = outputs(by_name, x)
    differ = [k for k in got if not torch.equal(got[k], again[k])]
    if differ:
        print(f"{args.timm_name}: outputs differ: {differ}", file=sys.stderr)
        return 1
    print(f"timm.create_model({args.timm_name!r}, pretrained=True, file=...) loads the same "
          "tensors and computes the same outputs")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def model_args(p):
        p.add_argument("--img-size", type=int, required=True)
        p.add_argument("--patch-size", type=int, required=True)
        p.add_argument("--embed-dim", type=int, required=True)
        p.add_argument("--depth", type=int, required=True)
        p.add_argument("--num-heads", type=int, required=True)
        p.add_argument("--num-classes", type=int, required=True, help="0: no head")
        p.add_argument("--global-pool", choices=["avg", "token"], required=True,
                       help="avg: mean of patch tokens, fc_norm, no final norm; "
                            "token: class token after the final norm")

    make_p = sub.add_parser("make", help="random timm ViT, an input and timm's outputs")
    make_p.add_argument("--out", required=True, help="folder to write to")
    make_p.add_argument("--seed", type=int, default=0)
    model_args(make_p)
    check_p = sub.add_parser("check", help="timm's outputs with the weights of --weights")
    check_p.add_argument("--weights", required=True, help="a safetensors file of timm names")
    check_p.add_argument("--dir", required=True, help="folder of make's input.safetensors")
    check_p.add_argument("--timm-name", default="",
                         help="also create this timm model by name from --weights "
                              "(pretrained_cfg_overlay=dict(file=...)), e.g. "
                              "vit_tiny_patch16_224")
    model_args(check_p)
    args = parser.parse_args()
    return make(args) if args.command == "make" else check(args)


if __name__ == "__main__":
    sys.exit(main())
