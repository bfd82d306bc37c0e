"""Export a segmenter for c2fmae_pseudolabel: one TorchScript (.pt) or AOTInductor (.pt2) file.

The exported module takes float32 [B, 3, H, W] RGB in 0..255 (the normalisation is inside
the graph) and returns the outputs of one kind (see the segmenter contract):
  semantic             logits [B, K, h, w]
  mask_classification  (class_logits [B, Q, K+1] (last column: no object), mask_logits [B, Q, h, w])
  instances            (scores [B, N], labels [B, N] int64, mask_probs [B, N, h, w]); score 0 = padding
Its metadata JSON is stored under "c2fmae_segmenter": in the TorchScript file's _extra_files
(name "c2fmae_segmenter.json"), or in the AOTI package's aot_inductor.metadata.

    python tools/export_segmenter.py --source hf:facebook/mask2former-swin-small-coco-panoptic \
        --format aoti --device cuda --canvas 800x1344 --batch 8 --out seg_m2f_swin_s.pt2
    python tools/export_segmenter.py --source torchvision:deeplabv3_resnet101 --format torchscript --out seg.pt
    python tools/export_segmenter.py --source random:mask2former --num-classes 8 --format torchscript --out m2f.pt
    python tools/export_segmenter.py --source random:hf-mask2former --format torchscript \
        --canvas 256x256 --short-side 256 --max-side 256 --out hf_m2f_random.pt

Sources:
  hf:<model id>[@revision]   a Hugging Face AutoModelForUniversalSegmentation (Mask2Former, MaskFormer,
                             OneFormer-like outputs class_queries_logits / masks_queries_logits);
                             needs `transformers` and `scipy` (Mask2Former's loss imports it) and
                             the weights from the hub
  torchvision:<name>         deeplabv3_*, fcn_*, lraspp_* with weights="DEFAULT" (downloads)
  random:lraspp              lraspp_mobilenet_v3_large with random weights (tests; --num-classes, default 6)
  random:mask2former         a tiny pure-torch mask-classification net with random weights (tests; default 8)
  random:instances           a deterministic "instances" module (tests; default 4 classes)
  random:hf-mask2former      transformers' Mask2FormerForUniversalSegmentation with random weights, built
                             from a local Mask2FormerConfig with the Swin-S backbone of
                             facebook/mask2former-swin-small-coco-panoptic (nothing is downloaded);
                             --num-classes (default 133, things 0..79 as in COCO panoptic). It goes
                             through the hf: wrapper and export path, so that path runs offline.

hf: models (and random:hf-mask2former) cannot be scripted: --format torchscript traces them, and a
trace holds the example's height and width (Swin's padding, the pixel decoder's spatial shapes), so
it needs --canvas HxW (the same size for every batch); --batch may stay free (the export checks a
second batch size). --format aoti uses torch.export and needs --canvas and --batch as always.

The module is importable: build_source(), save_torchscript(), save_aoti() and check_close()
are used by tests/pseudolabel/reference.py.

Exit codes: 0 done; 1 I/O failure; 2 usage (bad arguments, missing transformers, bad model).
"""
import argparse
import hashlib
import json
import math
import os
import sys
import tempfile
import time
from typing import List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

METADATA_KEY = "c2fmae_segmenter"
EXTRA_FILE = "c2fmae_segmenter.json"
DEFAULTS = {"object_mask_threshold": 0.8, "overlap_threshold": 0.8, "mask_threshold": 0.5,
            "score_threshold": 0.5, "instance_overlap_threshold": 0.5}
M2F_MEAN = [123.675, 116.28, 103.53]
M2F_STD = [58.395, 57.12, 57.375]
IMAGENET_MEAN = [0.485 * 255, 0.456 * 255, 0.406 * 255]
IMAGENET_STD = [0.229 * 255, 0.224 * 255, 0.225 * 255]


class UsageError(Exception):
    """A problem with the arguments or the model: exit 2."""


# --------------------------------------------------------------------------- wrappers


class Normalize(nn.Module):
    def __init__(self, mean: List[float], std: List[float]):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class TorchvisionSemantic(nn.Module):
    """0..255 RGB -> torchvision segmentation logits out["out"] [B, K, H, W]."""

    def __init__(self, model: nn.Module, mean: List[float], std: List[float]):
        super().__init__()
        self.norm = Normalize(mean, std)
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(self.norm(x))["out"]


class HFMaskClassification(nn.Module):
    """0..255 RGB -> (class_queries_logits [B,Q,K+1], masks_queries_logits [B,Q,H/4,W/4])."""

    def __init__(self, model: nn.Module, mean: List[float], std: List[float]):
        super().__init__()
        self.norm = Normalize(mean, std)
        self.model = model

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        out = self.model(pixel_values=self.norm(x))
        return out.class_queries_logits, out.masks_queries_logits


class TinyMask2Former(nn.Module):
    """A tiny mask-classification net (random weights, for tests).

    Backbone: two stride-2 convs to pixel embeddings [B, D, H/4, W/4]. Each of Q learned
    queries has a class part and a mask part; the class part (plus a projection of the
    image's pooled feature, so the scores depend on the image) feeds the class head
    [B, Q, K+1], the mask part the mask embedding, and masks = einsum(mask embedding, pixels).
    Queries come in pairs with the same class part, so two queries often predict one class
    (stuff merges, two things of one class) while their masks differ.
    """

    def __init__(self, num_classes: int, num_queries: int = 10, dim: int = 16, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.norm = Normalize(M2F_MEAN, M2F_STD)
        self.conv1 = nn.Conv2d(3, dim, 3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(dim, dim, 3, stride=2, padding=1)
        self.pool_proj = nn.Linear(dim, dim)
        self.class_head = nn.Linear(dim, num_classes + 1)
        self.mask_mlp = nn.Linear(dim, dim)
        half = torch.randn((num_queries + 1) // 2, dim, generator=g)
        class_part = half.repeat_interleave(2, 0)[:num_queries]
        self.class_query = nn.Parameter(class_part)
        self.mask_query = nn.Parameter(torch.randn(num_queries, dim, generator=g))
        # Each pair of queries leans to one class: thing, stuff, thing, stuff, ..., the last
        # pair to "no object", so things, stuff merges and dropped queries all occur.
        things, stuff = list(range(num_classes // 2)), list(range(num_classes // 2, num_classes))
        bias = torch.zeros(num_queries, num_classes + 1)
        for q in range(num_queries):
            pair = q // 2
            if pair == (num_queries - 1) // 2 and num_queries > 2:
                c = num_classes
            elif pair % 2 == 0:
                c = things[(pair // 2) % len(things)]
            else:
                c = stuff[(pair // 2) % len(stuff)]
            bias[q, c] = 4.0
        self.class_bias = nn.Parameter(bias)
        with torch.no_grad():
            for m in (self.conv1, self.conv2, self.pool_proj, self.class_head, self.mask_mlp):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) / math.sqrt(fan_in))
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
            self.conv1.weight.mul_(2.0)
            self.conv2.weight.mul_(1.5)
            self.class_head.weight.mul_(0.7)
            self.pool_proj.weight.mul_(0.5)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        f = torch.relu(self.conv1(self.norm(x)))
        pix = self.conv2(f)  # [B, D, H/4, W/4]
        pooled = pix.mean(dim=(2, 3))  # [B, D]
        cq = self.class_query.unsqueeze(0) + self.pool_proj(pooled).unsqueeze(1)  # [B, Q, D]
        cls = self.class_head(cq) + self.class_bias  # [B, Q, K+1]
        me = self.mask_mlp(self.mask_query)  # [Q, D]
        masks = torch.einsum("qd,bdhw->bqhw", me, pix) * 3.0
        return cls, masks


class DeterministicInstances(nn.Module):
    """An "instances" module (for tests): N = 6 rows from thresholded colour channels at
    half resolution. Row i: mask = sigmoid((avgpool2(channel c_i) - t_i) / 8), a score that
    depends on the image (0.35 + 0.6 * the mask's mean, zero when the mask is empty), and a
    constant label; the last row is padding (score 0, label 0, mask 0)."""

    def __init__(self, num_classes: int = 4):
        super().__init__()
        channels = [0, 1, 2, 0, 1]
        thresholds = [128.0, 128.0, 128.0, 64.0, 200.0]
        labels = [i % num_classes for i in [1, 2, 3, 0, 1]]
        self.register_buffer("channels", torch.tensor(channels, dtype=torch.int64))
        self.register_buffer("thresholds", torch.tensor(thresholds, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("labels", torch.tensor(labels + [0], dtype=torch.int64))

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        p = F.avg_pool2d(x, 2)  # [B, 3, H/2, W/2]
        sel = p.index_select(1, self.channels)  # [B, 5, h, w]
        probs = torch.sigmoid((sel - self.thresholds) / 8.0)
        area = (probs >= 0.5).float().mean(dim=(2, 3))  # [B, 5]
        scores = torch.where(area > 0, 0.35 + 0.6 * area, torch.zeros_like(area))
        b = x.shape[0]
        zeros_mask = torch.zeros_like(probs[:, :1])
        mask_probs = torch.cat([probs, zeros_mask], 1)
        scores = torch.cat([scores, torch.zeros_like(scores[:, :1])], 1)
        labels = self.labels.unsqueeze(0).expand(b, -1).contiguous()
        return scores, labels, mask_probs


# --------------------------------------------------------------------------- metadata


def _versions() -> dict:
    v = {"torch": torch.__version__}
    try:
        import torchvision
        v["torchvision"] = torchvision.__version__
    except Exception:  # noqa: BLE001
        pass
    if "transformers" in sys.modules:
        v["transformers"] = sys.modules["transformers"].__version__
    return v


def make_metadata(kind: str, class_names: List[str], thing_ids: List[int], source: str, licence: str,
                  short_side: int, max_side: int, size_divisibility: int, pad_value: List[float],
                  canvas: Optional[List[int]] = None, batch: Optional[int] = None) -> dict:
    return {
        "format": 1,
        "kind": kind,
        "num_classes": len(class_names),
        "class_names": list(class_names),
        "thing_ids": sorted(int(t) for t in thing_ids),
        "input": {"short_side": int(short_side), "max_side": int(max_side),
                  "size_divisibility": int(size_divisibility),
                  "pad_value": [float(p) for p in pad_value],
                  "canvas": list(canvas) if canvas else None, "batch": batch},
        "defaults": dict(DEFAULTS),
        "source": source,
        "licence": licence,
        "exported_with": _versions(),
    }


COCO_PANOPTIC_CHECKS = {0: "person", 79: "toothbrush", 80: "banner", 132: "rug-merged"}


def _import_transformers():
    try:
        import transformers  # noqa: F401
    except ImportError:
        raise UsageError("hf: sources need the `transformers` package (pip install transformers scipy)")
    return transformers


def _hf_model(make, what: str):
    """Builds an HF model with make(); a missing optional package (scipy) is a usage error."""
    try:
        return make().eval()
    except ImportError as e:
        text = " ".join(str(e).split())
        raise UsageError(f"{what}: a package transformers needs is missing: {text[:300]}")


def _build_hf(model_id: str, revision: Optional[str], thing_ids: Optional[List[int]]):
    _import_transformers()
    from transformers import AutoModelForUniversalSegmentation
    kwargs = {"revision": revision} if revision else {}
    model = _hf_model(lambda: AutoModelForUniversalSegmentation.from_pretrained(model_id, **kwargs), model_id)
    sha = getattr(model.config, "_commit_hash", None) or revision
    src = f"hf:{model_id}@{sha}" if sha else f"hf:{model_id}"
    return _wrap_hf(model, model_id, src, "CC BY-NC 4.0 (Mask2Former model zoo weights); check the model card",
                    thing_ids, coco_check=True)


# The Swin-S backbone of facebook/mask2former-swin-small-coco-panoptic (detectron2's
# maskformer2_swin_small_bs16_50ep: embed 96, depths 2-2-18-2, heads 3-6-12-24, window 7).
HF_SWIN_SMALL = {"embed_dim": 96, "depths": [2, 2, 18, 2], "num_heads": [3, 6, 12, 24], "window_size": 7,
                 "image_size": 224, "drop_path_rate": 0.3, "use_absolute_embeddings": False,
                 "out_features": ["stage1", "stage2", "stage3", "stage4"]}


def _build_random_hf_mask2former(num_classes: Optional[int], seed: int, thing_ids: Optional[List[int]],
                                 source: str):
    """transformers' Mask2Former with random weights from a local config (no download)."""
    _import_transformers()
    from transformers import Mask2FormerConfig, Mask2FormerForUniversalSegmentation, SwinConfig
    k = num_classes or 133
    names = [f"class{i}" for i in range(k)]
    config = Mask2FormerConfig(backbone_config=SwinConfig(**HF_SWIN_SMALL), num_labels=k,
                               id2label=dict(enumerate(names)), label2id={n: i for i, n in enumerate(names)})
    torch.manual_seed(seed)
    model = _hf_model(lambda: Mask2FormerForUniversalSegmentation(config), source)
    if thing_ids is None:
        thing_ids = list(range(80)) if k == 133 else list(range(k // 2))
    return _wrap_hf(model, source, source, "random weights (test model)", thing_ids, coco_check=False)


def _wrap_hf(model: nn.Module, model_id: str, src: str, licence: str, thing_ids: Optional[List[int]],
             coco_check: bool):
    """The common hf: path: class names from config.id2label, thing ids, the normalising wrapper."""
    id2label = {int(k): v for k, v in model.config.id2label.items()}
    k = len(id2label)
    if sorted(id2label) != list(range(k)):
        raise UsageError(f"{model_id}: config.id2label is not contiguous 0..{k - 1}")
    names = [id2label[i] for i in range(k)]
    if thing_ids is not None:
        things = thing_ids
    elif k == 133 and coco_check:  # COCO panoptic: the class order must be detectron2's
        for i, name in COCO_PANOPTIC_CHECKS.items():
            if names[i] != name:
                raise UsageError(f"{model_id}: id2label[{i}] is {names[i]!r}, expected {name!r} (COCO panoptic order)")
        things = list(range(80))
    else:
        raise UsageError(f"{model_id}: {k} classes is not COCO panoptic; name the thing classes with --thing-ids")
    wrapper = HFMaskClassification(model, M2F_MEAN, M2F_STD).eval()
    meta = make_metadata("mask_classification", names, things, src, licence, 800, 1333, 32, M2F_MEAN)
    return wrapper, meta


def is_traced_source(source: str) -> bool:
    """hf: models (and random:hf-mask2former) are traced for TorchScript, not scripted."""
    return source.startswith("hf:") or source == "random:hf-mask2former"


def _build_torchvision(name: str):
    import torchvision
    if not name.startswith(("deeplabv3_", "fcn_", "lraspp_")):
        raise UsageError(f"torchvision:{name}: only deeplabv3_*, fcn_* and lraspp_* segmentation models")
    try:
        weights = torchvision.models.get_model_weights(name).DEFAULT
    except Exception as e:  # noqa: BLE001
        raise UsageError(f"torchvision:{name}: unknown model ({e})")
    model = torchvision.models.get_model(name, weights=weights).eval()
    names = list(weights.meta["categories"])
    wrapper = TorchvisionSemantic(model, IMAGENET_MEAN, IMAGENET_STD).eval()
    # The weights' own transform resizes the short side to 520 (no long-side limit), no padding.
    meta = make_metadata("semantic", names, list(range(1, len(names))), f"torchvision:{name}",
                         "BSD-3-Clause (torchvision code and weights)", 520, 0, 1, IMAGENET_MEAN)
    return wrapper, meta


def build_source(source: str, num_classes: Optional[int] = None, seed: int = 0,
                 thing_ids: Optional[List[int]] = None):
    """Returns (wrapper nn.Module in eval mode, metadata dict) for a SOURCE string."""
    if ":" not in source:
        raise UsageError(f"bad --source {source!r} (hf:<id>, torchvision:<name> or random:<name>)")
    scheme, rest = source.split(":", 1)
    if not rest:
        raise UsageError(f"bad --source {source!r}: nothing after {scheme}:")
    if num_classes is not None and num_classes < 2:
        raise UsageError(f"--num-classes must be at least 2, got {num_classes}")
    if scheme == "hf":
        model_id, _, revision = rest.partition("@")
        return _build_hf(model_id, revision or None, thing_ids)
    if scheme == "torchvision":
        return _build_torchvision(rest)
    if scheme != "random":
        raise UsageError(f"bad --source {source!r}: unknown scheme {scheme!r}")
    if rest == "hf-mask2former":
        return _build_random_hf_mask2former(num_classes, seed, thing_ids, source)
    torch.manual_seed(seed)
    if rest == "lraspp":
        from torchvision.models.segmentation import lraspp_mobilenet_v3_large
        k = num_classes or 6
        model = lraspp_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=k).eval()
        wrapper = TorchvisionSemantic(model, IMAGENET_MEAN, IMAGENET_STD).eval()
        names = [f"class{i}" for i in range(k)]
        meta = make_metadata("semantic", names, thing_ids if thing_ids is not None else list(range(1, k)),
                             source, "random weights (test model)", 520, 0, 1, IMAGENET_MEAN)
        return wrapper, meta
    if rest == "mask2former":
        k = num_classes or 8
        wrapper = TinyMask2Former(k, seed=seed).eval()
        names = [f"class{i}" for i in range(k)]
        things = thing_ids if thing_ids is not None else list(range(k // 2))
        meta = make_metadata("mask_classification", names, things, source, "random weights (test model)",
                             800, 1333, 32, M2F_MEAN)
        return wrapper, meta
    if rest == "instances":
        k = num_classes or 4
        wrapper = DeterministicInstances(k).eval()
        names = [f"class{i}" for i in range(k)]
        things = thing_ids if thing_ids is not None else list(range(k))
        meta = make_metadata("instances", names, things, source, "no weights (test model)",
                             0, 0, 4, [0.0, 0.0, 0.0])
        return wrapper, meta
    raise UsageError(f"bad --source {source!r}: random:lraspp, random:mask2former, random:instances "
                     "or random:hf-mask2former")


# --------------------------------------------------------------------------- export


def _as_tuple(out):
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def check_close(reference, exported, inputs, rtol=1e-4, atol=1e-4) -> float:
    """Runs both on each input; asserts allclose (integer outputs equal). Returns the max |diff|."""
    worst = 0.0
    with torch.no_grad():
        for x in inputs:
            a, b = _as_tuple(reference(x)), _as_tuple(exported(x))
            if len(a) != len(b):
                raise AssertionError(f"output count {len(a)} vs {len(b)}")
            for ta, tb in zip(a, b):
                tb = tb.to(ta.device)
                if ta.shape != tb.shape or ta.dtype != tb.dtype:
                    raise AssertionError(f"output {tuple(ta.shape)} {ta.dtype} vs {tuple(tb.shape)} {tb.dtype}")
                if not ta.is_floating_point():
                    if not torch.equal(ta, tb):
                        raise AssertionError("integer outputs differ")
                    continue
                if not torch.allclose(ta, tb, rtol=rtol, atol=atol):
                    d = (ta - tb).abs().max().item()
                    raise AssertionError(f"outputs differ: max |diff| {d:.3g} (rtol {rtol}, atol {atol})")
                if ta.numel():
                    worst = max(worst, (ta.float() - tb.float()).abs().max().item())
    return worst


def trace(wrapper: nn.Module, example: torch.Tensor):
    """torch.jit.trace (HF models are not scriptable). The trace holds the example's H and W."""
    with torch.no_grad():
        return torch.jit.trace(wrapper, (example,), strict=False, check_trace=False)


def save_torchscript(wrapper: nn.Module, metadata: dict, path: str, example: Optional[torch.Tensor] = None):
    """Scripts (or traces, given an example) the wrapper and saves it with the metadata."""
    if example is None:
        module = torch.jit.script(wrapper)
    else:
        module = trace(wrapper, example)
    torch.jit.save(module, path, _extra_files={EXTRA_FILE: json.dumps(metadata)})
    return module


def load_torchscript(path: str, device="cpu"):
    extra = {EXTRA_FILE: ""}
    module = torch.jit.load(path, map_location=device, _extra_files=extra)
    return module, json.loads(extra[EXTRA_FILE])


def save_aoti(wrapper: nn.Module, metadata: dict, path: str, example: torch.Tensor):
    with torch.no_grad():
        ep = torch.export.export(wrapper, (example,), strict=False)
        torch._inductor.aoti_compile_and_package(
            ep, package_path=path,
            inductor_configs={"aot_inductor.metadata": {METADATA_KEY: json.dumps(metadata)}})


def _example_inputs(meta: dict, device: str, seed: int, n: int = 2) -> List[torch.Tensor]:
    inp = meta["input"]
    if inp["canvas"]:
        h, w = inp["canvas"]
    else:  # a small padded size for the check (dynamic-shape TorchScript)
        d = max(1, inp["size_divisibility"])
        h, w = (-(-64 // d)) * d, (-(-96 // d)) * d
    b = inp["batch"] or 2
    g = torch.Generator().manual_seed(seed + 1)
    return [(torch.rand(b, 3, h, w, generator=g) * 255).to(device) for _ in range(n)]


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _parse_hw(text: str) -> List[int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise UsageError(f"bad --canvas {text!r} (HxW, e.g. 800x1344)")
    if h <= 0 or w <= 0:
        raise UsageError(f"bad --canvas {text!r}: sizes must be positive")
    return [h, w]


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def parse_args(argv):
    p = _Parser(prog="export_segmenter", description=__doc__.split("\n\n")[0])
    p.add_argument("--source", required=True)
    p.add_argument("--format", required=True, choices=["aoti", "torchscript"])
    p.add_argument("--out", required=True)
    p.add_argument("--num-classes", type=int)
    p.add_argument("--thing-ids", help="comma-separated thing class ids (hf: models other than COCO panoptic)")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--canvas", help="HxW fixed padded input size (required for aoti)")
    p.add_argument("--batch", type=int, help="fixed batch (required for aoti)")
    p.add_argument("--short-side", type=int)
    p.add_argument("--max-side", type=int)
    p.add_argument("--size-divisibility", type=int)
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def run(argv) -> int:
    a = parse_args(argv)
    thing_ids = None
    if a.thing_ids is not None:
        try:
            thing_ids = sorted({int(t) for t in a.thing_ids.split(",") if t.strip()})
        except ValueError:
            raise UsageError(f"bad --thing-ids {a.thing_ids!r} (comma-separated integers)")
    if os.path.exists(a.out) and not a.overwrite:
        raise UsageError(f"{a.out} exists (--overwrite replaces it)")
    out_dir = os.path.dirname(os.path.abspath(a.out))
    if not os.path.isdir(out_dir):
        raise UsageError(f"{out_dir}: no such folder")
    if a.device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda but CUDA is not available")
    canvas = _parse_hw(a.canvas) if a.canvas else None
    if a.batch is not None and a.batch <= 0:
        raise UsageError(f"--batch must be positive, got {a.batch}")
    if a.format == "aoti" and (canvas is None or a.batch is None):
        raise UsageError("--format aoti needs --canvas HxW and --batch B (the package has fixed shapes)")
    traced = a.format == "torchscript" and is_traced_source(a.source)
    if traced and canvas is None:
        raise UsageError(f"{a.source} is traced for TorchScript, and a trace holds its example's height and "
                         "width: give --canvas HxW (e.g. 800x1344 for short side 800, max 1333)")
    for name in ("short_side", "max_side"):
        v = getattr(a, name)
        if v is not None and v < 0:
            raise UsageError(f"--{name.replace('_', '-')} must be >= 0, got {v}")
    if a.size_divisibility is not None and a.size_divisibility < 1:
        raise UsageError(f"--size-divisibility must be >= 1, got {a.size_divisibility}")
    if thing_ids is not None and a.num_classes is not None and any(t < 0 or t >= a.num_classes for t in thing_ids):
        raise UsageError("--thing-ids out of range of --num-classes")

    wrapper, meta = build_source(a.source, a.num_classes, a.seed, thing_ids)
    inp = meta["input"]
    if a.short_side is not None:
        inp["short_side"] = a.short_side
    if a.max_side is not None:
        inp["max_side"] = a.max_side
    if a.size_divisibility is not None:
        inp["size_divisibility"] = a.size_divisibility
    if canvas is not None:
        d = inp["size_divisibility"]
        if canvas[0] % d or canvas[1] % d:
            raise UsageError(f"--canvas {canvas[0]}x{canvas[1]} is not a multiple of size_divisibility {d}")
        if inp["short_side"] > 0 and min(canvas) < min(inp["short_side"], inp["max_side"] or inp["short_side"]):
            print(f"export_segmenter: warning: canvas {canvas} is smaller than the resize target; "
                  "larger images will be refused", file=sys.stderr)
    inp["canvas"] = canvas
    inp["batch"] = a.batch
    meta["exported_with"] = _versions()
    if any(t < 0 or t >= meta["num_classes"] for t in meta["thing_ids"]):
        raise UsageError("thing ids out of range of the class count")

    wrapper = wrapper.to(a.device).eval()
    inputs = _example_inputs(meta, a.device, a.seed)
    checks = list(inputs)
    if traced and inp["batch"] is None:  # the trace's batch is free: check another one
        checks.append(inputs[1][:1].clone())
    t0 = time.time()
    fd, tmp = tempfile.mkstemp(prefix=".export_segmenter.", suffix=".pt2" if a.format == "aoti" else ".pt",
                               dir=out_dir)
    os.close(fd)
    try:
        if a.format == "torchscript":
            save_torchscript(wrapper, meta, tmp, example=inputs[0] if traced else None)
            exported, meta_back = load_torchscript(tmp, a.device)
        else:
            save_aoti(wrapper, meta, tmp, inputs[0])
            exported = torch._inductor.aoti_load_package(tmp)
            meta_back = json.loads(exported.get_metadata()[METADATA_KEY])
        if meta_back != json.loads(json.dumps(meta)):
            raise AssertionError("the metadata read back differs")
        diff = check_close(wrapper, exported, checks)
        os.replace(tmp, a.out)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    elapsed = time.time() - t0
    print(f"export_segmenter: {a.source} -> {a.out} ({a.format}, {elapsed:.1f} s)")
    print(f"  kind {meta['kind']}, {meta['num_classes']} classes, {len(meta['thing_ids'])} things, "
          f"canvas {inp['canvas']}, batch {inp['batch']}, resize short {inp['short_side']} max {inp['max_side']} "
          f"divisibility {inp['size_divisibility']}")
    print(f"  licence: {meta['licence']}")
    shapes = sorted({tuple(x.shape) for x in checks})
    print(f"  check: eager vs exported on {len(checks)} inputs {', '.join(map(str, shapes))}: max |diff| {diff:.3g}")
    print(f"  size {os.path.getsize(a.out)} bytes, sha256 {sha256_file(a.out)}")
    return 0


def main(argv=None) -> int:
    try:
        return run(sys.argv[1:] if argv is None else argv)
    except UsageError as e:
        print(f"export_segmenter: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        where = e.filename or "?"
        print(f"export_segmenter: I/O error on {where}: {e.strerror or e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
