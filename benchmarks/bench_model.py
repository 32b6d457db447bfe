"""Time the CPDGL network's pieces on this machine and print a table.

Usage: python benchmarks/bench_model.py [--voc] [--attention] [--threads N]
Demo shapes (the `demo` preset): batch 8, crop 96, a ViT of width 96 with 4 blocks and 3 heads on a convolutional stem of stride 8,
5 classes, 6 local crops of 32.
The bookkeeping (EMA update, enqueue, prototype update) is also timed against plain per-parameter / per-key /
per-class loops, at the VOC recipe sizes (ViT-B/16 weights, bank 4608 × 768, 48 keys per step, 20 classes).
`--voc` also times a no-grad forward of ViT-B/16 at batch 4, crop 448 (slow on a small CPU).
`--attention` times one timm attention layer of the demo network, fused (`scaled_dot_product_attention`) against plain
(`set_fused_attention(m, False)`), forward and forward + backward, in float32 and under bfloat16 autocast, at the demo's
two sequence lengths (a 96-pixel view: 8 × 145 tokens; its 32-pixel local crops: 48 × 17 tokens).
Uses torch's default number of threads unless --threads is given. On a shared, overloaded machine small parallel ops
(e.g. the bank's index_copy_) can wait tens of ms for OpenMP threads; --threads 1 gives steadier numbers.
"""
import argparse, os, time
os.environ.setdefault('HF_HUB_OFFLINE', '1')
import torch
import torch.nn.functional as F
from cpdgl.core import get_config
from cpdgl.models.backbone import CPDGLNet, set_fused_attention

def bench(f, reps=3):
    "Median seconds of `reps` calls of `f` after one warm-up call."
    f(); ts = []
    for _ in range(reps):
        t0 = time.perf_counter(); f(); ts.append(time.perf_counter() - t0)
    return sorted(ts)[len(ts) // 2]

@torch.no_grad()
def ema_loop(model, m):
    "Reference EMA: one parameter at a time."
    for s, t in ((model.encoder, model.key_encoder), (model.proj, model.proj_teacher)):
        for pt, ps in zip(t.parameters(), s.parameters()): pt.mul_(m).add_(ps, alpha=1 - m)

def enqueue_loop(bank, tags, ptr, keys, ktags):
    "Reference FIFO: one key at a time."
    for k, t in zip(keys, ktags):
        bank[ptr], tags[ptr] = k, t
        ptr = (ptr + 1) % bank.shape[0]
    return ptr

def protos_loop(P, emb, idx, m):
    "Reference prototype update: one class at a time."
    for k in range(1, P.shape[0] + 1):
        sel = idx == k
        if sel.any(): P[k - 1] = F.normalize(m * P[k - 1] + (1 - m) * emb[sel].mean(0), dim=0)

def attention_rows(cfg):
    "Rows of fused against plain attention: one attention layer of the demo network at its two sequence lengths."
    attn = CPDGLNet(cfg).encoder.blocks[0].attn.train()
    D, h = attn.qkv.in_features, cfg.crop_size // cfg.patch_size
    rows = []
    for B, N, what in ((cfg.batch_size, h * h + 1, 'view'), (cfg.batch_size * cfg.n_local, (cfg.local_size // cfg.patch_size)**2 + 1, 'local crops')):
        x = torch.randn(B, N, D, requires_grad=True)
        for dtype in (torch.float32, torch.bfloat16):
            def run(fused, backward):
                set_fused_attention(attn, fused)
                with torch.autocast('cpu', dtype=torch.bfloat16, enabled=dtype == torch.bfloat16):
                    y = attn(x)
                if backward: y.float().square().mean().backward()
            for backward in (False, True):
                name = f"attention, {what} {B}×{N}, {str(dtype)[6:]}, {'forward + backward' if backward else 'forward'}"
                rows.append(('demo', name, bench(lambda: run(False, backward), 10), bench(lambda: run(True, backward), 10)))
    return rows

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--voc', action='store_true', help='also time a ViT-B/16 forward at the VOC shapes')
    p.add_argument('--attention', action='store_true', help='only time fused against plain attention (reference column: fused)')
    p.add_argument('--threads', type=int, default=0, help='torch threads (0: the default)')
    a = p.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    rows, cfg = [], get_config('demo')
    if a.attention:
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; plain attention (first column) against fused (second)\n")
        print("| shapes | what | plain (ms) | fused (ms) | plain is faster by |\n| --- | --- | ---: | ---: | ---: |")
        for s, w, t, r in attention_rows(cfg): print(f"| {s} | {w} | {t*1e3:.2f} | {r*1e3:.2f} | {r/t:.1f}× |")
        return
    # --- demo shapes ---
    m = CPDGLNet(cfg).train()
    x, crops = torch.randn(cfg.batch_size, 3, cfg.crop_size, cfg.crop_size), torch.randn(cfg.batch_size * cfg.n_local, 3, cfg.local_size, cfg.local_size)
    def fwd_bwd():
        o = m(x); (o['cls_logits'].sum() + o['aux_logits'].sum() + o['seg'].mean() + m.embed(o['cls_token']).sum()).backward()
        m.zero_grad(set_to_none=True)
    rows.append(('demo', 'forward + backward (main view)', bench(fwd_bwd), None))
    with torch.no_grad(): rows.append(('demo', 'no-grad forward (main view)', bench(lambda: m(x)), None))
    rows.append(('demo', 'key encoder on local crops', bench(lambda: m.embed_teacher(m.encode(crops, key=True)[2])), None))
    rows.append(('demo', 'ema_update', bench(lambda: m.ema_update(), 10), bench(lambda: ema_loop(m, cfg.ema_momentum), 10)))
    # --- VOC recipe sizes for the bookkeeping ---
    voc = get_config('voc', pretrained=False)
    mv = CPDGLNet(voc)
    rows.append(('voc', 'ema_update (ViT-B + head)', bench(lambda: mv.ema_update(), 5), bench(lambda: ema_loop(mv, voc.ema_momentum), 5)))
    keys, ktags = F.normalize(torch.randn(voc.keys_per_step, voc.proj_dim), dim=1), torch.randint(-1, voc.n_fg + 1, (voc.keys_per_step,))
    bank, btags = mv.bank.clone(), mv.bank_tags.clone()
    rows.append(('voc', f'enqueue {voc.keys_per_step} keys', bench(lambda: mv.enqueue(keys, ktags), 20),
                 bench(lambda: enqueue_loop(bank, btags, 0, keys, ktags), 20)))
    emb, idx = keys[:voc.batch_size * 2], ktags[:voc.batch_size * 2].abs()
    P = mv.prototypes.clone()
    rows.append(('voc', 'update_prototypes', bench(lambda: mv.update_prototypes(emb, idx), 20), bench(lambda: protos_loop(P, emb, idx, 0.9), 20)))
    if a.voc:
        xv = torch.randn(voc.batch_size, 3, voc.crop_size, voc.crop_size)
        with torch.no_grad(): rows.append(('voc', 'no-grad forward ViT-B/16, 4×448', bench(lambda: mv(xv), reps=1), None))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads\n")
    print("| shapes | what | vectorised (ms) | loop reference (ms) | speed-up |\n| --- | --- | ---: | ---: | ---: |")
    for s, w, t, r in rows:
        print(f"| {s} | {w} | {t*1e3:.1f} | {'' if r is None else f'{r*1e3:.1f}'} | {'' if r is None else f'{r/t:.1f}×'} |")

if __name__ == '__main__': main()
