"""Fixture for the c2fmae_pseudolabel tests: segmenter files, a tiny ImageFolder and the
expected maps from a Python reference of the segmenter contract's per-image pipeline.

    python tests/pseudolabel/reference.py --out DIR

Writes into DIR:
  hand.pt, hand_full.pt  a hand-built mask_classification module with known outputs (below);
                         hand.pt resizes (short 48, max 80, divisibility 16), hand_full.pt does not
                         (short_side 0, divisibility 8)
  lraspp.pt              random:lraspp, 6 classes (semantic kind)
  m2f.pt                 random:mask2former, 8 classes (mask_classification)
  inst.pt                random:instances, 4 classes (instances kind)
  images/train/<class>/<stem>.png           7 RGB PNGs (flat colour regions, one noise image)
  expected/<model>/<class>/<stem>.sem.png   8-bit gray semantic map
  expected/<model>/<class>/<stem>.ins.png   16-bit gray instance map
  expected/<model>/segments.jsonl           {"key", "height", "width", "segments": [...]} per image
  fixture.json                              the models, the batch used (2), the thresholds

The reference is written from the contract (steps 1-6) and from Mask2Former's
maskformer_model.py (semantic_inference, panoptic_inference), not from the C++ code.
Choices the contract leaves open (the C++ side must make the same):
  - batches: images are grouped by padded size, in key order, B = 2 per batch, unused slots
    hold the pad_value canvas (the script also checks that running each image alone gives
    bit-identical maps, so the grouping does not matter on the CPU);
  - segments of the semantic kind: the thing components, {"id", "category_id", "isthing": true,
    "area", "score": 1.0};
  - segments of the instances kind: the painted instances, area = painted pixels, score = the
    row's score, isthing = label in thing_ids;
  - mask_classification: a merged stuff segment has the area of all its queries and the
    score of its first query.

The hand-built module (Q = 10 queries, K = 5 classes, things 0 and 1): with u = avgpool4(rgb)/255 - 0.5,
query q's mask logit is linear, a_q * (s_q . u) - o_q with s_q = +-1 per channel (a corner of
the RGB cube), so it is high on its corner's colour and, being linear, never peaks on the
blend between two other colours. The class logits are constant (log of the probabilities):
  q0 red     narrow  class 0 p .95  thing
  q1 green   narrow  class 2 p .90  stuff      q2 blue  narrow  class 2 p .90 stuff (merges with q1)
  q3 yellow  narrow  class 3 p .50  below the object threshold -> void
  q4 cyan    narrow  no object p .90            -> void
  q5 white   wide    class 3 p .85  stuff: wins light grey (200), loses white to q9;
                     kept when grey dominates its mask, dropped by the overlap ratio otherwise
  q6 magenta narrow  class 0 p .95  thing (a second thing of class 0)
  q7 nothing (offset 1000) class 1 p .99  kept, empty mask -> skipped
  q8 black   narrow  class 4 p .90  stuff
  q9 white   narrow  class 1 p .97  thing
"""
import argparse
import json
import pathlib
import sys
import time
from collections import deque

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import export_segmenter as es  # noqa: E402

BATCH = 2
DEFAULTS = dict(es.DEFAULTS)

# --------------------------------------------------------------------------- the hand model

COLOURS = {  # name -> RGB corner
    "black": (0, 0, 0), "red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255),
    "yellow": (255, 255, 0), "cyan": (0, 255, 255), "magenta": (255, 0, 255),
    "white": (255, 255, 255), "grey": (200, 200, 200),
}
HAND_CLASSES = ["thing_a", "thing_b", "sky", "grass", "road"]
HAND_THINGS = [0, 1]
NO_OBJECT = 5
# (corner, slope, offset, class column, probability)
HAND_QUERIES = [
    ("red", 20, 20, 0, 0.95),
    ("green", 20, 20, 2, 0.90),
    ("blue", 20, 20, 2, 0.90),
    ("yellow", 20, 20, 3, 0.50),
    ("cyan", 20, 20, NO_OBJECT, 0.90),
    ("white", 40, 32, 3, 0.85),
    ("magenta", 20, 20, 0, 0.95),
    ("black", 20, 1000, 1, 0.99),
    ("black", 20, 20, 4, 0.90),
    ("white", 20, 20, 1, 0.97),
]
# Per colour: the semantic class at its centre (cyan: q4's class columns are all equal, so the
# green and blue queries' tails decide).
HAND_SEMANTIC = {"black": 4, "red": 0, "green": 2, "blue": 2, "yellow": 3, "cyan": 2,
                 "magenta": 0, "white": 1, "grey": 3}


class HandMaskClassification(nn.Module):
    def __init__(self):
        super().__init__()
        q, k1 = len(HAND_QUERIES), len(HAND_CLASSES) + 1
        probs = torch.zeros(q, k1, dtype=torch.float64)
        weight = torch.zeros(q, 3, dtype=torch.float64)
        bias = torch.zeros(q, dtype=torch.float64)
        for i, (colour, slope, offset, column, p) in enumerate(HAND_QUERIES):
            probs[i] = (1.0 - p) / (k1 - 1)
            probs[i, column] = p
            sign = torch.tensor([1.0 if c > 127 else -1.0 for c in COLOURS[colour]], dtype=torch.float64)
            # slope * sum(sign * (x / 255 - 0.5)) - offset
            weight[i] = slope * sign / 255.0
            bias[i] = -slope * 0.5 * sign.sum() - offset
        self.register_buffer("class_logits", probs.log().float())
        self.register_buffer("weight", weight.float())
        self.register_buffer("bias", bias.float().view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor):
        p = F.avg_pool2d(x, 4)  # [B, 3, H/4, W/4]
        masks = torch.einsum("qc,bchw->bqhw", self.weight, p) + self.bias
        cls = self.class_logits.unsqueeze(0).expand(x.shape[0], -1, -1).contiguous()
        return cls, masks


# --------------------------------------------------------------------------- images

# (class, stem, H, W, background, [(y0, y1, x0, x1, colour)], hand expectation)
# The expectation: the segments [(category, isthing)] in creation order, and per colour the
# index of its segment in that list (None: void).
IMAGES = [
    ("alpha", "merge", 40, 56, "black",
     [(4, 18, 4, 24, "green"), (18, 36, 4, 24, "blue"), (8, 32, 32, 50, "red")],
     ([(0, True), (2, False), (4, False)], {"red": 0, "green": 1, "blue": 1, "black": 2})),
    ("alpha", "things", 64, 48, "black",
     [(4, 20, 4, 20, "red"), (4, 20, 26, 44, "magenta"), (26, 38, 4, 20, "white"),
      (26, 38, 28, 44, "white"), (44, 60, 4, 20, "yellow"), (44, 60, 28, 44, "cyan")],
     ([(0, True), (0, True), (4, False), (1, True)],
      {"red": 0, "magenta": 1, "black": 2, "white": 3, "yellow": None, "cyan": None})),
    ("alpha", "small", 33, 47, "black",
     [(4, 28, 4, 18, "red"), (4, 28, 22, 44, "blue")],
     ([(0, True), (2, False), (4, False)], {"red": 0, "blue": 1, "black": 2})),
    ("beta", "grey", 48, 48, "grey",
     [(8, 20, 8, 20, "white"), (30, 44, 28, 44, "black")],
     ([(3, False), (4, False), (1, True)], {"grey": 0, "black": 1, "white": 2})),
    ("beta", "wide", 30, 150, "black",
     [(0, 30, 0, 38, "red"), (0, 30, 38, 76, "green"), (0, 30, 76, 114, "blue"), (0, 30, 114, 150, "magenta")],
     ([(0, True), (2, False), (0, True)], {"red": 0, "green": 1, "blue": 1, "magenta": 2})),
    ("beta", "noise", 37, 29, None, [], None),
    ("beta", "full", 48, 64, "black",
     [(4, 40, 4, 36, "white"), (8, 16, 44, 52, "grey"), (28, 44, 42, 60, "cyan")],
     ([(4, False), (1, True)], {"black": 0, "white": 1, "grey": None, "cyan": None})),
]


def make_image(h, w, background, rects, seed):
    if background is None:
        rng = np.random.default_rng(seed)
        return rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    a = np.zeros((h, w, 3), np.uint8)
    a[:] = COLOURS[background]
    for y0, y1, x0, x1, c in rects:
        a[y0:y1, x0:x1] = COLOURS[c]
    return a


# --------------------------------------------------------------------------- the pipeline


def output_shape(h, w, short_side, max_side):
    """detectron2 ResizeShortestEdge.get_output_shape, as the contract writes it (in double)."""
    if short_side <= 0:
        return h, w
    scale = short_side / min(h, w)
    nh, nw = h * scale, w * scale
    if max_side > 0 and max(nh, nw) > max_side:
        s = max_side / max(nh, nw)
        nh, nw = nh * s, nw * s
    return int(nh + 0.5), int(nw + 0.5)


def prepare(rgb, inp):
    """Steps 1-3: uint8 [H, W, 3] -> (padded canvas [1, 3, Hp, Wp], (nh, nw))."""
    h, w = rgb.shape[:2]
    x = torch.from_numpy(rgb).permute(2, 0, 1).unsqueeze(0).float().contiguous()
    nh, nw = output_shape(h, w, inp["short_side"], inp["max_side"])
    if (nh, nw) != (h, w):
        x = F.interpolate(x, size=(nh, nw), mode="bilinear", align_corners=False, antialias=True)
        x = x.round().clamp(0, 255)
    if inp["canvas"]:
        hp, wp = inp["canvas"]
        assert nh <= hp and nw <= wp, "image larger than the canvas"
    else:
        d = inp["size_divisibility"]
        hp, wp = -(-nh // d) * d, -(-nw // d) * d
    canvas = pad_canvas(inp, hp, wp)
    canvas[:, :, :nh, :nw] = x
    return canvas, (nh, nw)


def pad_canvas(inp, hp, wp):
    pad = torch.tensor(inp["pad_value"], dtype=torch.float32).view(1, 3, 1, 1)
    return pad.expand(1, 3, hp, wp).clone()


def restore(m, padded, resized, original):
    """Step 5 (detectron2 sem_seg_postprocess): [C, h, w] -> [C, H, W]."""
    m = F.interpolate(m.unsqueeze(0), size=padded, mode="bilinear", align_corners=False)[0]
    m = m[:, :resized[0], :resized[1]]
    if tuple(resized) != tuple(original):
        m = F.interpolate(m.unsqueeze(0), size=original, mode="bilinear", align_corners=False)[0]
    return m


def semantic_inference(cls, masks):
    k = cls.shape[1] - 1
    return torch.einsum("qc,qhw->chw", F.softmax(cls, dim=-1)[:, :k], masks.sigmoid())


def panoptic_inference(cls, masks, thing_ids, d, stats):
    """Mask2Former's panoptic_inference (detectron2), written from its rules. Returns the
    int32 [H, W] segment map and the segments, and counts the rule cases in stats."""
    k = cls.shape[1] - 1
    scores, labels = F.softmax(cls, dim=-1).max(-1)
    probs = masks.sigmoid()
    no_object = labels == k
    low = (~no_object) & ~(scores > d["object_mask_threshold"])
    stats["no_object"] += int(no_object.sum())
    stats["below_threshold"] += int(low.sum())
    keep = (~no_object) & (scores > d["object_mask_threshold"])
    h, w = masks.shape[-2:]
    seg = torch.zeros((h, w), dtype=torch.int32)
    segments = []
    if int(keep.sum()) == 0:
        stats["empty_keep"] += 1
        return seg, segments
    kept_scores, kept_labels, kept_probs = scores[keep], labels[keep], probs[keep]
    winner = (kept_scores.view(-1, 1, 1) * kept_probs).argmax(0)
    stuff_segment = {}  # class -> index in segments
    for q in range(kept_labels.shape[0]):
        stats["kept"] += 1
        c = int(kept_labels[q])
        won = winner == q
        own = kept_probs[q] >= d["mask_threshold"]
        mask = won & own
        won_area, own_area, area = int(won.sum()), int(own.sum()), int(mask.sum())
        if won_area == 0 or own_area == 0 or area == 0:
            stats["skipped_empty"] += 1
            continue
        if won_area / own_area < d["overlap_threshold"]:
            stats["overlap_drop"] += 1
            continue
        isthing = c in thing_ids
        if not isthing and c in stuff_segment:
            s = segments[stuff_segment[c]]
            seg[mask] = s["id"]
            s["area"] += area
            stats["stuff_merge"] += 1
            continue
        sid = len(segments) + 1
        if not isthing:
            stuff_segment[c] = len(segments)
        seg[mask] = sid
        segments.append({"id": sid, "category_id": c, "isthing": isthing, "area": area,
                         "score": float(kept_scores[q])})
        stats["things" if isthing else "stuff"] += 1
    # The queries painted disjoint pixels, so the areas are exact.
    for s in segments:
        assert int((seg == s["id"]).sum()) == s["area"]
    stats["void_pixels"] += int((seg == 0).sum())
    return seg, segments


def connected_components(semantic, thing_ids):
    """4-neighbour components of each thing class's pixels, numbered in raster order of their
    first pixel."""
    sem = semantic.numpy()
    h, w = sem.shape
    ins = np.zeros((h, w), np.int64)
    is_thing = np.isin(sem, list(thing_ids))
    segments = []
    for y in range(h):
        for x in range(w):
            if not is_thing[y, x] or ins[y, x]:
                continue
            sid = len(segments) + 1
            c = sem[y, x]
            ins[y, x] = sid
            queue, area = deque([(y, x)]), 0
            while queue:
                cy, cx = queue.popleft()
                area += 1
                for ny, nx in ((cy - 1, cx), (cy + 1, cx), (cy, cx - 1), (cy, cx + 1)):
                    if 0 <= ny < h and 0 <= nx < w and not ins[ny, nx] and sem[ny, nx] == c:
                        ins[ny, nx] = sid
                        queue.append((ny, nx))
            segments.append({"id": sid, "category_id": int(c), "isthing": True, "area": area, "score": 1.0})
    return torch.from_numpy(ins), segments


def instances_rule(scores, labels, probs, thing_ids, d, stats):
    order = torch.sort(scores, descending=True, stable=True).indices
    h, w = probs.shape[-2:]
    ins = torch.zeros((h, w), dtype=torch.int64)
    sem = torch.full((h, w), 255, dtype=torch.int64)
    painted = torch.zeros((h, w), dtype=torch.bool)
    segments = []
    for i in order.tolist():
        score = float(scores[i])
        if score < d["score_threshold"]:
            stats["below_threshold"] += 1
            continue
        mask = probs[i] >= d["mask_threshold"]
        area = int(mask.sum())
        if area == 0:
            stats["skipped_empty"] += 1
            continue
        if int((mask & painted).sum()) / area > d["instance_overlap_threshold"]:
            stats["overlap_drop"] += 1
            continue
        free = mask & ~painted
        sid = len(segments) + 1
        ins[free] = sid
        sem[free] = int(labels[i])
        painted |= free
        stats["painted_over"] += area - int(free.sum())
        segments.append({"id": sid, "category_id": int(labels[i]), "isthing": int(labels[i]) in thing_ids,
                         "area": int(free.sum()), "score": score})
        stats["kept"] += 1
    stats["void_pixels"] += int((ins == 0).sum())
    return sem, ins, segments


def run_batch(module, canvases):
    x = torch.cat(canvases, 0)
    with torch.no_grad():
        out = module(x)
    return out if isinstance(out, tuple) else (out,)


def maps_for(meta, outs, b, padded, resized, original, stats):
    """Step 6 for image slot b of a batch's outputs."""
    d, things = DEFAULTS, set(meta["thing_ids"])
    kind = meta["kind"]
    if kind == "semantic":
        logits = restore(outs[0][b], padded, resized, original)
        sem = logits.argmax(0)
        ins, segments = connected_components(sem, things)
        stats["things"] += len(segments)
        return sem, ins, segments, None
    if kind == "mask_classification":
        cls = outs[0][b]
        masks = restore(outs[1][b], padded, resized, original)
        sem = semantic_inference(cls, masks).argmax(0)
        pan, segments = panoptic_inference(cls, masks, things, d, stats)
        ins = torch.zeros_like(pan, dtype=torch.int64)
        next_id = 0
        for s in segments:
            if s["isthing"]:
                next_id += 1
                ins[pan == s["id"]] = next_id
        return sem, ins, segments, pan
    if kind == "instances":
        probs = restore(outs[2][b], padded, resized, original)
        sem, ins, segments = instances_rule(outs[0][b], outs[1][b], probs, things, d, stats)
        return sem, ins, segments, None
    raise ValueError(kind)


def reference(module, meta, images, stats):
    """images: [(key, uint8 HWC)] -> {key: (sem, ins, segments, panoptic)}; batches of BATCH
    images of one padded size, in key order."""
    inp = meta["input"]
    prepared = {key: prepare(rgb, inp) + (rgb.shape[:2],) for key, rgb in images}
    groups = {}
    for key in sorted(prepared):
        groups.setdefault(tuple(prepared[key][0].shape[-2:]), []).append(key)
    results = {}
    for padded, keys in groups.items():
        for start in range(0, len(keys), BATCH):
            chunk = keys[start:start + BATCH]
            canvases = [prepared[k][0] for k in chunk]
            canvases += [pad_canvas(inp, *padded)] * (BATCH - len(chunk))
            outs = run_batch(module, canvases)
            for b, key in enumerate(chunk):
                _, resized, original = prepared[key]
                results[key] = maps_for(meta, outs, b, padded, resized, tuple(original), stats)
    return results


def alone(module, meta, key, rgb):
    """The image run alone (the other slots pad canvases): for the batch-independence check."""
    inp = meta["input"]
    canvas, resized = prepare(rgb, inp)
    padded = tuple(canvas.shape[-2:])
    outs = run_batch(module, [canvas] + [pad_canvas(inp, *padded)] * (BATCH - 1))
    return maps_for(meta, outs, 0, padded, resized, rgb.shape[:2], new_stats())


def new_stats():
    return {k: 0 for k in ("kept", "no_object", "below_threshold", "skipped_empty", "overlap_drop",
                           "stuff_merge", "things", "stuff", "empty_keep", "painted_over", "void_pixels")}


# --------------------------------------------------------------------------- output


def write_png(path, array, bits):
    path.parent.mkdir(parents=True, exist_ok=True)
    a = array.numpy() if isinstance(array, torch.Tensor) else array
    assert a.min() >= 0 and a.max() < (1 << bits)
    if bits == 8:
        img = Image.fromarray(a.astype(np.uint8), mode="L")
    else:
        img = Image.fromarray(a.astype(np.uint16))
        assert img.mode == "I;16", img.mode
    img.save(path)
    head = path.read_bytes()[:26]  # IHDR: bit depth at 24, colour type (0 = gray) at 25
    assert head[24] == bits and head[25] == 0, (path, head[24], head[25])


def check_hand(results, name):
    """The reference must give the hand model's by-construction maps (at region centres)."""
    n = 0
    for cls_name, stem, h, w, bg, rects, expect in IMAGES:
        if expect is None:
            continue
        key = f"{cls_name}/{stem}"
        sem, ins, segments, pan = results[key]
        want_segments, where = expect
        got = [(s["category_id"], s["isthing"]) for s in segments]
        assert got == want_segments, f"{name} {key}: segments {got}, expected {want_segments}"
        points = [((y0 + y1 - 1) // 2, (x0 + x1 - 1) // 2, c) for y0, y1, x0, x1, c in rects]
        points.append((1, 1, bg) if not any(y0 <= 1 < y1 and x0 <= 1 < x1 for y0, y1, x0, x1, _ in rects)
                      else None)
        thing_number = {}
        for i, s in enumerate(segments):
            if s["isthing"]:
                thing_number[i] = len(thing_number) + 1
        for p in points:
            if p is None:
                continue
            y, x, colour = p
            assert int(sem[y, x]) == HAND_SEMANTIC[colour], f"{name} {key} ({y},{x}) {colour}: semantic {int(sem[y, x])}"
            idx = where[colour]
            want_pan = 0 if idx is None else segments[idx]["id"]
            assert int(pan[y, x]) == want_pan, f"{name} {key} ({y},{x}) {colour}: panoptic {int(pan[y, x])} != {want_pan}"
            want_ins = thing_number.get(idx, 0) if idx is not None else 0
            assert int(ins[y, x]) == want_ins, f"{name} {key} ({y},{x}) {colour}: instance {int(ins[y, x])} != {want_ins}"
            n += 1
    # Whole-image checks of the two-components-one-thing and merge cases.
    sem, ins, segments, pan = results["alpha/things"]
    assert sorted(torch.unique(ins).tolist()) == [0, 1, 2, 3]
    whites = ins[26:38, 4:44]
    assert int(whites[6, 6]) == int(whites[6, 30]) == 3, "both white regions are one thing (one query)"
    sem, ins, segments, pan = results["alpha/merge"]
    assert int(pan[10, 14]) == int(pan[27, 14]) == segments[1]["id"], "green and blue merged"
    return n


class RaisingModel(nn.Module):
    """A semantic model that fails inside forward (a TorchScript exception, not a c10::Error)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[0] > 0:
            raise RuntimeError("this model always fails")
        return x


class NanModel(nn.Module):
    """A semantic model whose logits are NaN (as an overflowing fp16 export's would be)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.full([x.shape[0], 3, x.shape[2] // 4, x.shape[3] // 4], float("nan"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.set_num_threads(1)
    t0 = time.time()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    images = []
    for i, (cls_name, stem, h, w, bg, rects, _) in enumerate(IMAGES):
        a = make_image(h, w, bg, rects, seed=100 + i)
        p = out / "images" / "train" / cls_name / f"{stem}.png"
        p.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(a, mode="RGB").save(p)
        # Step 1 decodes the file, as the C++ side does.
        images.append((f"{cls_name}/{stem}", np.array(Image.open(p).convert("RGB"))))

    def settings(meta, short, maxs, div, pad):
        meta["input"].update(short_side=short, max_side=maxs, size_divisibility=div, canvas=None, batch=None)
        if pad is not None:
            meta["input"]["pad_value"] = pad
        return meta

    hand = HandMaskClassification().eval()
    hand_meta = es.make_metadata("mask_classification", HAND_CLASSES, HAND_THINGS, "hand:reference.py",
                                 "test model", 48, 80, 16, [128.0, 128.0, 128.0])
    models = {"hand": (hand, hand_meta)}
    hand_full_meta = json.loads(json.dumps(hand_meta))
    models["hand_full"] = (hand, settings(hand_full_meta, 0, 0, 8, None))
    w, m = es.build_source("random:lraspp", 6, seed=0)
    models["lraspp"] = (w, settings(m, 48, 80, 16, None))
    w, m = es.build_source("random:mask2former", 8, seed=0)
    models["m2f"] = (w, settings(m, 40, 64, 8, None))
    w, m = es.build_source("random:instances", 4, seed=0)
    models["inst"] = (w, settings(m, 0, 0, 4, [0.0, 0.0, 0.0]))

    manifest = {"batch": BATCH, "defaults": DEFAULTS, "images": [k for k, _ in images], "models": {}}
    for name, (wrapper, meta) in models.items():
        path = out / f"{name}.pt"
        scripted = es.save_torchscript(wrapper, meta, str(path))
        module, meta_back = es.load_torchscript(str(path))
        assert meta_back == json.loads(json.dumps(meta))
        stats = new_stats()
        results = reference(module, meta_back, images, stats)
        # The grouping into batches must not matter: each image alone gives the same maps.
        for key, rgb in images:
            sem, ins, segs, _ = alone(module, meta_back, key, rgb)
            r = results[key]
            assert torch.equal(sem, r[0]) and torch.equal(ins, r[1]) and segs == r[2], f"{name} {key}: batch-dependent"
        lines = []
        for key, _ in images:
            sem, ins, segments, _ = results[key]
            bits = 8 if meta["num_classes"] <= 255 else 16
            write_png(out / "expected" / name / f"{key}.sem.png", sem, bits)
            write_png(out / "expected" / name / f"{key}.ins.png", ins, 16)
            lines.append(json.dumps({"key": key, "height": int(sem.shape[0]), "width": int(sem.shape[1]),
                                     "segments": segments}))
        (out / "expected" / name / "segments.jsonl").write_text("\n".join(lines) + "\n")
        checked = check_hand(results, name) if name.startswith("hand") else 0
        manifest["models"][name] = {"file": path.name, "kind": meta["kind"], "input": meta["input"]}
        n_seg = sum(len(r[2]) for r in results.values())
        cases = ", ".join(f"{k} {v}" for k, v in stats.items() if v)
        print(f"{name}: {meta['kind']}, {n_seg} segments over {len(images)} images; {cases}"
              + (f"; {checked} by-construction points checked" if checked else ""))
        if name in ("hand", "hand_full", "m2f"):
            for k in ("kept", "overlap_drop", "stuff_merge", "things", "void_pixels"):
                assert stats[k] > 0, f"{name}: the fixture does not exercise {k}"
        if name.startswith("hand"):
            for k in ("no_object", "below_threshold", "skipped_empty"):
                assert stats[k] > 0, f"{name}: the fixture does not exercise {k}"
        if name == "inst":
            for k in ("kept", "below_threshold", "overlap_drop", "painted_over"):
                assert stats[k] > 0, f"{name}: the fixture does not exercise {k}"
        if name == "lraspp":
            assert stats["things"] > 0
    # Two broken models for the program's error tests: one fails inside forward, one returns
    # NaN logits (both semantic, 3 classes).
    broken_meta = es.make_metadata("semantic", ["a", "b", "c"], [1, 2], "broken:reference.py",
                                   "test model", 0, 0, 4, [0.0, 0.0, 0.0])
    for name, module in (("raises", RaisingModel()), ("nan", NanModel())):
        es.save_torchscript(module.eval(), broken_meta, str(out / f"{name}.pt"))
    (out / "fixture.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"reference: wrote {out} in {time.time() - t0:.1f} s")


if __name__ == "__main__":
    main()
