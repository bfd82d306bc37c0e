"""Golden values for the MAE-mode C++ model: a PyTorch reference of MAE's forward.

Follows facebookresearch/mae models_mae.py (forward_encoder / forward_decoder /
forward_loss with norm_pix_loss) written independently of the C++ code, at a small size,
with fixed random weights and inputs. One addition to MAE: a learned modality embedding
added to the patch tokens (MAE has none; here it is non-zero so the C++ path is tested).
Visible tokens are kept in ascending patch order (MAE keeps them in shuffled order; the
set and every value are the same).

Writes one torch.save file holding the config, every parameter under the C++ module's
parameter name (the encoder under `backbone.`, with timm's VisionTransformer names), the
inputs, and the reference outputs. Run by CTest as a fixture.
"""
import argparse
import math
import pathlib

import torch
import torch.nn.functional as F

CFG = dict(img_size=32, patch_size=8, embed_dim=64, depth=2, num_heads=4,
           decoder_dim=32, decoder_depth=2, decoder_heads=4, mlp_ratio=4.0,
           num_visible=4, batch=2)
EPS = 1e-6


def sincos_2d(dim, grid, cls_token=False):
    """MAE's get_2d_sincos_pos_embed in float64: [sin(x w), cos(x w), sin(y w), cos(y w)],
    with a leading zero row for the class token when cls_token is set."""
    omega = torch.arange(dim // 4, dtype=torch.float64) / (dim / 4.0)
    omega = 1.0 / 10000 ** omega
    coords = torch.arange(grid, dtype=torch.float64)
    gy, gx = torch.meshgrid(coords, coords, indexing="ij")
    ox = gx.reshape(-1, 1) * omega
    oy = gy.reshape(-1, 1) * omega
    pos = torch.cat([ox.sin(), ox.cos(), oy.sin(), oy.cos()], 1).float()
    return torch.cat([torch.zeros(1, dim), pos], 0) if cls_token else pos


def make_params(g):
    c = CFG
    d, dd, p = c["embed_dim"], c["decoder_dim"], c["patch_size"]
    hid, dhid = int(d * c["mlp_ratio"]), int(dd * c["mlp_ratio"])
    L = (c["img_size"] // p) ** 2
    P = {}

    def rnd(*shape, std=0.1):
        return torch.randn(*shape, generator=g) * std

    def norm(prefix, n):
        P[prefix + ".weight"] = 1.0 + rnd(n)
        P[prefix + ".bias"] = rnd(n)

    def linear(prefix, n_in, n_out):
        P[prefix + ".weight"] = rnd(n_out, n_in, std=1.0 / math.sqrt(n_in))
        P[prefix + ".bias"] = rnd(n_out)

    def block(prefix, n, h):
        norm(prefix + ".norm1", n)
        linear(prefix + ".attn.qkv", n, 3 * n)
        linear(prefix + ".attn.proj", n, n)
        norm(prefix + ".norm2", n)
        linear(prefix + ".mlp.fc1", n, h)
        linear(prefix + ".mlp.fc2", h, n)

    P["backbone.patch_embed.proj.weight"] = rnd(d, 3, p, p, std=1.0 / math.sqrt(3 * p * p))
    P["backbone.patch_embed.proj.bias"] = rnd(d)
    P["modality_embed"] = rnd(1, d, std=0.02)
    P["backbone.cls_token"] = rnd(1, 1, d, std=0.02)
    for i in range(c["depth"]):
        block(f"backbone.blocks.{i}", d, hid)
    norm("backbone.norm", d)
    s = "decoder.stages.0"
    linear(s + ".embed", d, dd)
    P[s + ".mask_token"] = rnd(1, 1, dd, std=0.02)
    for i in range(c["decoder_depth"]):
        block(f"{s}.blocks.{i}", dd, dhid)
    norm(s + ".norm", dd)
    linear(s + ".head", dd, p * p * 3)
    return P, L


def block_forward(P, prefix, x, heads):
    B, N, D = x.shape
    h = F.layer_norm(x, (D,), P[prefix + ".norm1.weight"], P[prefix + ".norm1.bias"], EPS)
    qkv = F.linear(h, P[prefix + ".attn.qkv.weight"], P[prefix + ".attn.qkv.bias"])
    q, k, v = qkv.reshape(B, N, 3, heads, D // heads).permute(2, 0, 3, 1, 4)
    attn = (q @ k.transpose(-2, -1)) * (D // heads) ** -0.5
    a = (attn.softmax(-1) @ v).transpose(1, 2).reshape(B, N, D)
    x = x + F.linear(a, P[prefix + ".attn.proj.weight"], P[prefix + ".attn.proj.bias"])
    h = F.layer_norm(x, (D,), P[prefix + ".norm2.weight"], P[prefix + ".norm2.bias"], EPS)
    h = F.gelu(F.linear(h, P[prefix + ".mlp.fc1.weight"], P[prefix + ".mlp.fc1.bias"]))
    return x + F.linear(h, P[prefix + ".mlp.fc2.weight"], P[prefix + ".mlp.fc2.bias"])


def patchify(imgs, p):
    B, C, H, W = imgs.shape
    h, w = H // p, W // p
    x = imgs.reshape(B, C, h, p, w, p)
    return torch.einsum("nchpwq->nhwpqc", x).reshape(B, h * w, p * p * C)


def forward(P, L, imgs, ids_keep):
    c = CFG
    d, p = c["embed_dim"], c["patch_size"]
    grid = c["img_size"] // p
    B = imgs.shape[0]
    # forward_encoder
    pos_embed = sincos_2d(d, grid, cls_token=True)[None]  # [1, 1 + L, d], fixed
    x = F.conv2d(imgs, P["backbone.patch_embed.proj.weight"],
                 P["backbone.patch_embed.proj.bias"], stride=p)
    x = x.flatten(2).transpose(1, 2) + pos_embed[:, 1:] + P["modality_embed"][0]
    x = torch.gather(x, 1, ids_keep[..., None].expand(-1, -1, d))
    cls = P["backbone.cls_token"] + pos_embed[:, :1]
    x = torch.cat([cls.expand(B, -1, -1), x], 1)
    for i in range(c["depth"]):
        x = block_forward(P, f"backbone.blocks.{i}", x, c["num_heads"])
    latent = F.layer_norm(x, (d,), P["backbone.norm.weight"], P["backbone.norm.bias"], EPS)
    # forward_decoder
    s = "decoder.stages.0"
    dd = c["decoder_dim"]
    y = F.linear(latent, P[s + ".embed.weight"], P[s + ".embed.bias"])
    keep = ids_keep.shape[1]
    ids_rest = torch.stack([torch.tensor([i for i in range(L) if i not in set(r.tolist())])
                            for r in ids_keep])
    ids_shuffle = torch.cat([ids_keep, ids_rest], 1)
    ids_restore = torch.argsort(ids_shuffle, 1)
    mask_tokens = P[s + ".mask_token"].expand(B, L - keep, -1)
    y_ = torch.cat([y[:, 1:], mask_tokens], 1)
    y_ = torch.gather(y_, 1, ids_restore[..., None].expand(-1, -1, dd))
    y = torch.cat([y[:, :1], y_], 1)
    y = y + sincos_2d(dd, grid, cls_token=True)[None]
    for i in range(c["decoder_depth"]):
        y = block_forward(P, f"{s}.blocks.{i}", y, c["decoder_heads"])
    y = F.layer_norm(y, (dd,), P[s + ".norm.weight"], P[s + ".norm.bias"], EPS)
    pred = F.linear(y, P[s + ".head.weight"], P[s + ".head.bias"])[:, 1:]
    # forward_loss, norm_pix_loss=True
    target = patchify(imgs, p)
    mean, var = target.mean(-1, keepdim=True), target.var(-1, keepdim=True)
    target = (target - mean) / (var + 1.0e-6) ** 0.5
    mask = torch.ones(B, L)
    mask.scatter_(1, ids_keep, 0.0)
    loss = ((pred - target) ** 2).mean(-1)
    loss = (loss * mask).sum() / mask.sum()
    return latent, pred, loss, mask


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.set_default_dtype(torch.float32)
    g = torch.Generator().manual_seed(20260311)
    P, L = make_params(g)
    c = CFG
    imgs = torch.randn(c["batch"], 3, c["img_size"], c["img_size"], generator=g)
    noise = torch.rand(c["batch"], L, generator=g)
    ids_keep = noise.argsort(1)[:, : c["num_visible"]].sort(1).values
    with torch.no_grad():
        latent, pred, loss, mask = forward(P, L, imgs, ids_keep)
    out = {f"param.{k}": v.contiguous() for k, v in P.items()}
    out.update({f"config.{k}": torch.tensor(v) for k, v in c.items()})
    out["input.rgb"] = imgs
    out["input.mask"] = mask.bool()[:, None, :]  # [B, M=1, L], 1 = masked
    out["output.encoded"] = latent
    out["output.prediction"] = pred
    out["output.loss"] = loss.reshape(1)
    path = pathlib.Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(out, path)
    print(f"wrote {path}: loss {loss.item():.6f}")


if __name__ == "__main__":
    main()
