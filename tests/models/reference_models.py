#!/usr/bin/python3
"""Independent PyTorch reference for the C++ encoders (tests/models/tst_model_parity.cpp).

Builds, with fixed seeds and deliberately non-trivial random weights, small versions of
  * DINOv2's ViT (written from DINOv2's vision_transformer.py structure: same parameter
    names, pos-embed interpolation by scale factor (grid + 0.1) / grid, bicubic, no antialias),
  * AstroCLIP's SpecFormer (its preprocess/_slice, including its slicing loop),
  * AstroCLIP's alignment head (torch.nn.MultiheadAttention with kdim/vdim, LayerNorm, MLP),
runs them on fixed inputs and writes weights, inputs and outputs to one safetensors file
(hand-written: the safetensors package is not assumed). Usage: reference_models.py OUT.safetensors
"""
import json
import math
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# ----------------------------------------------------------------------------- DINOv2 ViT

class PatchEmbed(nn.Module):
    def __init__(self, in_chans, dim, patch):
        super().__init__()
        self.proj = nn.Conv2d(in_chans, dim, kernel_size=patch, stride=patch)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim, bias=True)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0] * self.scale, qkv[1], qkv[2]
        attn = (q @ k.transpose(-2, -1)).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(B, N, C))


class LayerScale(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * self.gamma


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.ls1 = LayerScale(dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, 4 * dim)
        self.ls2 = LayerScale(dim)

    def forward(self, x):
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))


class ViT(nn.Module):
    def __init__(self, img, patch, in_chans, dim, depth, heads, registers):
        super().__init__()
        self.patch = patch
        self.registers = registers
        self.patch_embed = PatchEmbed(in_chans, dim, patch)
        n = (img // patch) ** 2
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, n + 1, dim))
        if registers:
            self.register_tokens = nn.Parameter(torch.zeros(1, registers, dim))
        self.mask_token = nn.Parameter(torch.zeros(1, dim))
        self.blocks = nn.ModuleList([Block(dim, heads) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def interpolate_pos_encoding(self, x, w, h):
        npatch = x.shape[1] - 1
        N = self.pos_embed.shape[1] - 1
        if npatch == N and w == h:
            return self.pos_embed
        pos = self.pos_embed.float()
        dim = x.shape[-1]
        w0, h0 = w // self.patch, h // self.patch
        M = int(math.sqrt(N))
        sx, sy = float(w0 + 0.1) / M, float(h0 + 0.1) / M
        grid = pos[:, 1:].reshape(1, M, M, dim).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, scale_factor=(sx, sy), mode="bicubic", antialias=False)
        assert (w0, h0) == grid.shape[-2:]
        grid = grid.permute(0, 2, 3, 1).view(1, -1, dim)
        return torch.cat((pos[:, :1], grid), dim=1)

    def forward(self, x, masks=None):
        B, _, w, h = x.shape
        x = self.patch_embed(x)
        if masks is not None:
            x = torch.where(masks.unsqueeze(-1), self.mask_token.unsqueeze(0), x)
        x = torch.cat((self.cls_token.expand(B, -1, -1), x), dim=1)
        x = x + self.interpolate_pos_encoding(x, w, h)
        if self.registers:
            x = torch.cat((x[:, :1], self.register_tokens.expand(B, -1, -1), x[:, 1:]), dim=1)
        for blk in self.blocks:
            x = blk(x)
        x = self.norm(x)
        return x[:, 0], x[:, 1:1 + self.registers], x[:, 1 + self.registers:]

# ------------------------------------------------------------------------ AstroCLIP SpecFormer

class SpecLayerNorm(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))

    def forward(self, x):
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, 1e-5)


class SelfAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.dim, self.heads = dim, heads
        self.attention = nn.Linear(dim, 3 * dim)
        self.projection = nn.Linear(dim, dim)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.attention(x).split(self.dim, dim=2)
        nh, hs = self.heads, C // self.heads
        q, k, v = (t.view(B, T, nh, hs).transpose(1, 2) for t in (q, k, v))
        att = F.softmax((q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs)), dim=-1)
        return self.projection((att @ v).transpose(1, 2).contiguous().view(B, T, C))


class MLP(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.encoder = nn.Linear(dim, hidden)
        self.decoder = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.decoder(F.gelu(self.encoder(x)))


class TransformerBlock(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.layernorm1 = SpecLayerNorm(dim)
        self.attention = SelfAttention(dim, heads)
        self.layernorm2 = SpecLayerNorm(dim)
        self.mlp = MLP(dim, 4 * dim)

    def forward(self, x):
        x = x + self.attention(self.layernorm1(x))
        return x + self.mlp(self.layernorm2(x))


class SpecFormer(nn.Module):
    def __init__(self, section, overlap, dim, depth, heads, max_len):
        super().__init__()
        self.section, self.overlap = section, overlap
        self.data_embed = nn.Linear(section + 2, dim)
        self.position_embed = nn.Embedding(max_len, dim)
        self.blocks = nn.ModuleList([TransformerBlock(dim, heads) for _ in range(depth)])
        self.final_layernorm = SpecLayerNorm(dim)
        self.head = nn.Linear(dim, section + 2)

    def _slice(self, x):
        starts = np.arange(0, x.shape[1] - self.overlap, self.section - self.overlap)
        sections = [x[:, s:s + self.section].transpose(1, 2) for s in starts]
        if sections[-1].shape[1] < self.section:  # AstroCLIP's test: always drops the last one
            sections.pop(-1)
        return torch.cat(sections, 1)

    def preprocess(self, x):  # x [B, L, 1]
        std, mean = x.std(1, keepdim=True).clip_(0.2), x.mean(1, keepdim=True)
        x = (x - mean) / std
        x = self._slice(x)
        x = F.pad(x, pad=(2, 0, 1, 0), mode="constant", value=0)
        x[:, 0, 0] = (mean.squeeze() - 2) / 2
        x[:, 0, 1] = (std.squeeze() - 2) / 8
        return x, mean.squeeze(), std.squeeze()

    def forward(self, flux):
        tokens, mean, std = self.preprocess(flux.unsqueeze(-1))
        pos = torch.arange(0, tokens.shape[1], dtype=torch.long)
        x = self.data_embed(tokens) + self.position_embed(pos)
        for blk in self.blocks:
            x = blk(x)
        x = self.final_layernorm(x)
        return tokens, x, self.head(x), mean, std


def fold_reconstruction(recon, mean, std, section, stride, length):
    """Overlap-average the patches of a reconstruction back to flux units, pixel by pixel."""
    B, P = recon.shape[0], recon.shape[1] - 1
    out = torch.full((B, length), float("nan"))
    for i in range(length):
        values = [recon[:, 1 + p, 2 + (i - p * stride)] for p in range(P)
                  if p * stride <= i < p * stride + section]
        if values:
            out[:, i] = torch.stack(values, 1).mean(1)
    return out * std.unsqueeze(1) + mean.unsqueeze(1)

# ------------------------------------------------------------------ AstroCLIP alignment head

class CrossAttentionHead(nn.Module):
    def __init__(self, embed_dim, n_head, model_embed_dim):
        super().__init__()
        self.query = nn.Parameter(torch.randn(1, 1, embed_dim))
        self.multihead_attn = nn.MultiheadAttention(embed_dim=embed_dim, num_heads=n_head,
                                                    batch_first=True, kdim=model_embed_dim,
                                                    vdim=model_embed_dim)
        self.layernorm = nn.LayerNorm(embed_dim)

    def forward(self, x):
        out, weights = self.multihead_attn(query=self.query.repeat(x.shape[0], 1, 1), key=x, value=x,
                                           average_attn_weights=False)
        return self.layernorm(out), weights


class AlignmentHead(nn.Module):
    def __init__(self, embed_dim, n_head, model_embed_dim, residual):
        super().__init__()
        self.residual = residual
        self.cross_attention = CrossAttentionHead(embed_dim, n_head, model_embed_dim)
        self.mlp = MLP(embed_dim, 4 * embed_dim)

    def forward(self, tokens):
        x, weights = self.cross_attention(tokens)
        x = x + self.mlp(x) if self.residual else self.mlp(x)
        return x.squeeze(1), weights.squeeze(2)

# ------------------------------------------------------------------------------- utilities

def randomise(module, generator):
    """Weights far from their init so every parameter matters: LayerNorm gains and LayerScale
    near 1, everything else N(0, 0.1²) (linear layers scaled by 1/√fan_in)."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            noise = torch.randn(p.shape, generator=generator)
            leaf = name.split(".")[-1]
            parent = name.rsplit(".", 1)[0] if "." in name else ""
            is_norm = "norm" in parent.split(".")[-1] if parent else False
            if leaf == "gamma" or (is_norm and leaf == "weight"):
                p.copy_(1.0 + 0.2 * noise)
            elif p.dim() >= 2 and leaf.endswith("weight") and "embed" not in name:
                fan_in = p[0].numel()
                p.copy_(noise / math.sqrt(fan_in))
            else:
                p.copy_(0.1 * noise)


DTYPES = {torch.float32: "F32", torch.int64: "I64", torch.bool: "BOOL"}


def write_safetensors(path, tensors, metadata):
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous()
        data = t.numpy().astype(np.uint8).tobytes() if t.dtype == torch.bool else t.numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def main(out_path):
    torch.set_num_threads(2)
    gen = torch.Generator().manual_seed(20240611)
    tensors, meta = {}, {}

    def add(prefix, module):
        for name, value in module.state_dict().items():
            tensors[prefix + name] = value

    with torch.no_grad():
        # ViT: 32-px images, patch 8 (4×4 grid), 48-d, 2 blocks, 3 heads, 2 registers.
        vit = ViT(img=32, patch=8, in_chans=3, dim=48, depth=2, heads=3, registers=2).eval()
        randomise(vit, gen)
        add("vit.", vit)
        images = torch.randn(2, 3, 32, 32, generator=gen)
        mask = torch.rand(2, 16, generator=gen) < 0.4
        tensors["in.vit.images"] = images
        tensors["in.vit.mask"] = mask
        for tag, x, m in (("32", images, None), ("32m", images, mask),
                          ("48", torch.randn(2, 3, 48, 48, generator=gen), None),
                          ("24x40", torch.randn(2, 3, 24, 40, generator=gen), None)):
            if tag in ("48", "24x40"):
                tensors["in.vit.images" + tag] = x
            cls, reg, patches = vit(x, m)
            tensors["out.vit.cls" + tag] = cls
            tensors["out.vit.reg" + tag] = reg
            tensors["out.vit.patches" + tag] = patches
        tensors["out.vit.pos6x6"] = vit.interpolate_pos_encoding(torch.zeros(1, 37, 48), 48, 48)
        meta["vit"] = json.dumps({"imageSize": 32, "patchSize": 8, "inChannels": 3, "embedDim": 48,
                                  "depth": 2, "numHeads": 3, "numRegisterTokens": 2})

        # SpecFormer: 205 px, patches 16/8 → 24 patches + 1 stats token, table of 32 rows.
        spec = SpecFormer(section=16, overlap=8, dim=32, depth=2, heads=4, max_len=32).eval()
        randomise(spec, gen)
        add("spec.", spec)
        wave = torch.linspace(0, 1, 205)
        flux = torch.stack([
            5.0 + 3.0 * torch.sin(12 * wave) + 0.5 * torch.randn(205, generator=gen),
            0.3 + 0.01 * torch.randn(205, generator=gen),         # std below the 0.2 clip
            -2.0 + 8.0 * wave + torch.randn(205, generator=gen)])
        tokens_in, tokens, recon, mean, std = spec(flux)
        tensors["in.spec.flux"] = flux
        tensors["out.spec.input_tokens"] = tokens_in
        tensors["out.spec.tokens"] = tokens
        tensors["out.spec.reconstruction"] = recon
        spectrum = fold_reconstruction(recon, mean, std, 16, 8, 205)
        tensors["out.spec.spectrum"] = spectrum
        tensors["out.spec.spectrum_covered"] = spectrum[:, :200]

        # Alignment heads over 32-d tokens: spectrum-like (E = 24 ≠ kdim, residual) and
        # image-like (E = kdim = 32, no residual; nn.MultiheadAttention's packed in_proj).
        for tag, embed, residual in (("spec", 24, True), ("image", 32, False)):
            head = AlignmentHead(embed, 4, 32, residual).eval()
            randomise(head, gen)
            add("head_" + tag + ".", head)
            toks = torch.randn(3, 25, 32, generator=gen)
            emb, weights = head(toks)
            tensors["in.head_" + tag + ".tokens"] = toks
            tensors["out.head_" + tag + ".embedding"] = emb
            tensors["out.head_" + tag + ".attention"] = weights

    write_safetensors(out_path, tensors, meta)


if __name__ == "__main__":
    main(sys.argv[1])
