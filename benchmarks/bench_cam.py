"""Time the CAM toolkit (cpdgl.cam, cpdgl.par, cpdgl.crops) against its loop references and print a table.

Usage: python benchmarks/bench_cam.py [--preset demo|voc|both] [--reps N] [--threads N] [--no-step]
Shapes: VOC recipe (batch 4, crop 448, 28×28 tokens, 20 classes, 10 local crops of 64) and demo (batch 8, crop 96,
12×12 tokens, 5 classes, 6 local crops of 32). CAMs are random smooth blobs with about two classes per image.
The toolkit is timed without backbone forwards: `multiscale_cam` gets a stand-in model that returns stored CAMs of
the right shapes (so its row is the resizing, flip-max, sum and normalisation), and reuses the scale-1 CAMs as in
training. Loop references that would take minutes run on part of the input and are extrapolated linearly (the
table says by how much): per-pixel labels on a band of rows of one image, PAR-based refinement on one image at a
smaller crop (64 px for VOC) scaled by the pixel count. `--no-step` skips the demo training-step timing (a forward
+ backward + AdamW step of the demo CPDGLNet over the main view, the second view and the local crops, plus the
multi-scale CAM forwards), which the toolkit total is compared with.
Uses the default number of torch threads unless `--threads` says otherwise; the machine may be shared, so numbers
are noisy.
"""
import argparse, os, random, time
os.environ.setdefault('HF_HUB_OFFLINE', '1')
import torch
from torch import nn
from cpdgl.core import get_config
from cpdgl.cam import multiscale_cam, cam_to_label, refine_pseudo_label, affinity_mask, roi_mask, assign_tags, crop_at
from cpdgl.test_utils import (slow_multiscale_cam, slow_cam_to_label, slow_refine_pseudo_label, slow_affinity_mask, slow_roi_mask,
                              slow_assign_tags, slow_crop_at, rand_labels, smooth_cam, rand_box)

def bench(f, reps=5):
    "Fastest of `reps` calls of `f` after one warm-up call, in seconds (the least disturbed by other work)."
    f(); ts = []
    for _ in range(reps):
        t0 = time.perf_counter(); f(); ts.append(time.perf_counter() - t0)
    return min(ts)

def once(f, budget=1.0):
    "Fastest of up to 3 calls of `f`, stopping once `budget` seconds have been spent, in seconds."
    ts = []
    while len(ts) < 3 and sum(ts) < budget:
        t0 = time.perf_counter(); f(); ts.append(time.perf_counter() - t0)
    return min(ts)

class StoredCAMs(nn.Module):
    "Stand-in model: `cams(x)` returns stored random raw CAMs at x's token grid (no backbone work)."
    def __init__(self, K, p):
        super().__init__(); self.K, self.p, self.store = K, p, {}
    def cams(self, x):
        key = (x.shape[0], x.shape[-2] // self.p, x.shape[-1] // self.p)
        if key not in self.store: self.store[key] = (torch.randn(key[0], self.K, *key[1:]), torch.randn(key[0], self.K, *key[1:]))
        return self.store[key]

def toolkit_rows(cfg, reps, g):
    "(name, fast seconds, reference seconds, note) of every toolkit function at the shapes of `cfg`."
    B, S, K, p = cfg.batch_size, cfg.crop_size, cfg.n_fg, cfg.patch_size
    hw = S // p
    y = rand_labels(B, K, g, p=1.0 / K)
    label_idx = torch.where(y.sum(1) == 1, y.argmax(1) + 1, -1)
    box = rand_box(B, S, g, min_side=S // 2)
    img, img_s = torch.randn(B, 3, S, S, generator=g), torch.randn(B, 3, S, S, generator=g)
    img255 = smooth_cam(B, 3, S, g, n=8) * 255
    model = StoredCAMs(K, p)
    cam1, aux1 = model.cams(img)
    cam, aux = multiscale_cam(model, img, y, cfg.cam_scales, cam1=cam1, aux_cam1=aux1)
    roi = roi_mask(cam, y, box, cfg)
    boxes, _ = assign_tags(roi, label_idx, cfg, g)
    rows = []
    def add(name, fast, slow, factor=1, note=''):
        t = bench(fast, reps)
        r = None if slow is None else once(slow) * factor
        rows.append((name, t, r, note))
    add('multiscale_cam (no forwards)', lambda: multiscale_cam(model, img, y, cfg.cam_scales, cam1=cam1, aux_cam1=aux1),
        lambda: slow_multiscale_cam(model, img, y, cfg.cam_scales))
    band = S if B * S * S * K <= 2e6 else max(8, int(2e6 / (S * K)))    # rows of one image for the per-pixel loops
    nimg = B if band == S else 1
    f = B * S / (nimg * band)
    note = '' if f == 1 else f'loop on {nimg}×{band} rows, ×{f:.0f}'
    add('cam_to_label (band, img_box)', lambda: cam_to_label(cam, y, box, ignore_mid=True),
        lambda: slow_cam_to_label(cam[:nimg, :, :band], y[:nimg], box[:nimg], ignore_mid=True), f, note)
    rs = S if S <= 96 else 64                                           # crop of the PAR loop reference
    f = B * (S / rs) ** 2
    add('refine_pseudo_label (PAR ×2 thresholds)', lambda: refine_pseudo_label(cam, y, img255, box, cfg),
        lambda: slow_refine_pseudo_label(cam[:1, :, :rs, :rs], y[:1], img255[:1, :, :rs, :rs], None, cfg), f,
        f'loop on 1 image at {rs}², ×{f:.0f}')
    add(f'affinity_mask ({hw}×{hw} tokens)', lambda: affinity_mask(aux, y, box, hw, cfg),
        lambda: slow_affinity_mask(aux, y, box, hw, cfg))
    band = S if B * S * S * K <= 2e6 else max(8, int(2e6 / (S * K)))
    nimg = B if band == S else 1
    f = B * S / (nimg * band)
    add('roi_mask', lambda: roi_mask(cam, y, box, cfg),
        lambda: slow_roi_mask(cam[:nimg, :, :band], y[:nimg], box[:nimg], cfg), f, '' if f == 1 else f'loop on {nimg}×{band} rows, ×{f:.0f}')
    add(f'assign_tags ({cfg.n_local} crops of {cfg.local_size})', lambda: assign_tags(roi, label_idx, cfg, g),
        lambda: slow_assign_tags(roi, label_idx, cfg, random.Random(0)))
    add('crop_at ×2 (query + key crops)', lambda: (crop_at(img, boxes, cfg.local_size), crop_at(img_s, boxes, cfg.local_size)),
        lambda: (slow_crop_at(img, boxes, cfg.local_size), slow_crop_at(img_s, boxes, cfg.local_size)))
    return rows

def demo_step(cfg, reps):
    "Seconds of a demo step's network work (forwards incl. `multiscale_cam`, backward, AdamW, EMA); losses are sums."
    from cpdgl.models.backbone import CPDGLNet
    torch.manual_seed(0)
    net = CPDGLNet(cfg).train()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
    B, S, s, n = cfg.batch_size, cfg.crop_size, cfg.local_size, cfg.n_local
    x, x2, xs = (torch.randn(B, 3, S, S) for _ in range(3))
    y = rand_labels(B, cfg.n_fg, torch.Generator().manual_seed(0))
    q, k = torch.randn(B * n, 3, s, s), torch.randn(B * n, 3, s, s)
    def step():
        o, o2 = net(x), net(x2)
        multiscale_cam(net, x, y, cfg.cam_scales, cam1=o['cam'], aux_cam1=o['aux_cam'])
        eq = net.embed(net.encode(q)[2])
        with torch.no_grad(): ek = net.embed_teacher(net.encode(k, key=True)[2]); net.embed_teacher(o['cls_token'])
        loss = (o['cls_logits'].sum() + o['aux_logits'].sum() + o['seg'].mean() + o2['cls_logits'].sum()
                + (eq @ ek.T).mean() + net.embed(o['cls_token']).sum() + net.embed(o2['cls_token']).sum())
        opt.zero_grad(); loss.backward(); opt.step(); net.ema_update()
    return bench(step, reps)

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--preset', default='both', choices=('demo', 'voc', 'both'))
    p.add_argument('--reps', type=int, default=5)
    p.add_argument('--no-step', action='store_true', help='skip timing the demo training step')
    p.add_argument('--threads', type=int, default=0, help='torch threads (0: the default)')
    a = p.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    g = torch.Generator().manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; fastest of {a.reps} runs (loop references: of up to 3 runs "
          f"within 1 s, else one run); machine load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")
    for preset in (('demo', 'voc') if a.preset == 'both' else (a.preset,)):
        cfg = get_config(preset, pretrained=False)
        rows = toolkit_rows(cfg, a.reps, g)
        print(f"### {preset}: batch {cfg.batch_size}, crop {cfg.crop_size}, {cfg.crop_size // cfg.patch_size}² tokens, "
              f"{cfg.n_fg} classes, {cfg.n_local} crops of {cfg.local_size}\n")
        print("| function | vectorised (ms) | loop reference (ms) | speed-up | note |\n| --- | ---: | ---: | ---: | --- |")
        for w, t, r, note in rows:
            print(f"| {w} | {t*1e3:.1f} | {'' if r is None else f'{r*1e3:.0f}'} | {'' if r is None else f'{r/t:.1f}×' if r < 10 * t else f'{r/t:.0f}×'} | {note} |")
        total = sum(t for _, t, _, _ in rows)
        print(f"| **toolkit per step** | **{total*1e3:.1f}** | {sum(r for _, _, r, _ in rows)*1e3:.0f} | | |\n")
        if preset == 'demo' and not a.no_step:
            st = demo_step(cfg, max(1, a.reps // 2))
            step = st + total - rows[0][1]      # the step already ran multiscale_cam; add the rest of the toolkit
            print(f"demo training step: network work {st*1e3:.0f} ms (incl. multiscale_cam with its forwards), "
                  f"+ the rest of the toolkit = {step*1e3:.0f} ms; the toolkit ({total*1e3:.1f} ms) is "
                  f"{100*total/step:.1f}% of it\n")

if __name__ == '__main__': main()
