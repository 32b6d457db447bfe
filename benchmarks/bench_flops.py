"""Floating-point operations of one CPDGL training step, part by part (the arithmetic behind `bench_train.py`'s split).

Usage: python benchmarks/bench_flops.py [--preset demo] [--set k=v ...]

Counts the matrix products and convolutions of the main forward, every CAM scale, the local branch and the backward
pass with `torch.utils.flop_counter.FlopCounterMode` on random images (the count does not depend on the weights or
the data). The attention products are added from the token counts, 4·N²·D per image and block, because the counter
does not see the fused attention kernel of a CPU.
"""
import argparse, os
os.environ.setdefault('HF_HUB_OFFLINE', '1')
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode
from cpdgl.core import get_config
from cpdgl.models.backbone import CPDGLNet
from cpdgl.cam import multiscale_cam

from bench_train import parse_sets   # the same --set reading as the step benchmark

def _gflop(f):
    "(GFLOP counted while running `f`, its result)."
    with FlopCounterMode(display=False) as fc: r = f()
    return fc.get_total_flops() / 1e9, r

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--preset', default='demo')
    p.add_argument('--set', nargs='*', default=[], help='config overrides k=v')
    a = p.parse_args()
    cfg = get_config(a.preset, **{**dict(pretrained=False), **parse_sets(p, a.set)})
    torch.manual_seed(0)
    m = CPDGLNet(cfg).train()
    B, S, s, n = cfg.batch_size, cfg.crop_size, cfg.local_size, cfg.n_local
    enc, P = m.encoder, cfg.patch_size
    D, nb = enc.embed_dim, len(enc.blocks)
    attn = lambda imgs, side: imgs * nb * 4 * ((side // P) ** 2 + enc.num_prefix_tokens) ** 2 * D / 1e9
    img, crops = torch.randn(B, 3, S, S), torch.randn(B * n, 3, s, s)
    y = torch.zeros(B, cfg.n_fg); y[:, 0] = 1
    rows = {}
    f, out = _gflop(lambda: m(img)); rows['main forward'] = (f, attn(B, S))
    cam_rows = {}
    for c in cfg.cam_scales:
        x = img if c == 1 else F.interpolate(img, size=(int(S * c), int(S * c)), mode='bilinear', align_corners=False)
        k = 1 if c == 1 else 2     # scale 1 reuses the main forward: only its flip runs
        with torch.no_grad(): f, _ = _gflop(lambda: m.cams(torch.cat([x.flip(-1)] * k)))
        cam_rows[f'  CAM scale {c}' + (', flipped' if c == 1 else ', both flips')] = (f, attn(k * B, int(S * c)))
    f, _ = _gflop(lambda: multiscale_cam(m, img, y, cfg.cam_scales, cam1=out['cam'], aux_cam1=out['aux_cam']))
    rows['multi-scale CAM'] = (f, sum(v[1] for v in cam_rows.values()))
    rows.update(cam_rows)
    def local():
        t2, tq = m.encode(img)[2], m.encode(crops)[2]
        q = m.embed(torch.cat([out['cls_token'], t2, tq]))
        with torch.no_grad(): m.embed_teacher(torch.cat([out['cls_token'], t2, m.encode(crops, key=True)[2]]))
        return q
    f, q = _gflop(local); rows['local branch'] = (f, attn(B, S) + 2 * attn(B * n, s))
    loss = sum(t.float().sum() for t in (out['seg'], out['cls_logits'], out['aux_logits'], out['feats'], q))
    f, _ = _gflop(loss.backward); rows['backward'] = (f, 2 * (2 * attn(B, S) + attn(B * n, s)))
    total = sum(sum(v) for k, v in rows.items() if not k.startswith(' '))
    print(f"preset {a.preset}: batch {B}, crop {S}, patch {P}, width {D}, {nb} blocks, CAM scales {cfg.cam_scales}, "
          f"{n} crops of {s}")
    print(f"{'part':<28}{'matmul':>9}{'attention':>11}{'GFLOP':>9}{'share':>8}")
    for k, (f, at) in rows.items(): print(f"{k:<28}{f:>9.1f}{at:>11.1f}{f + at:>9.1f}{(f + at) / total:>8.0%}")
    print(f"{'total':<28}{'':>9}{'':>11}{total:>9.1f}")

if __name__ == '__main__': main()
