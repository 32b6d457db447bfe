"""Data pipeline speed: training items per second at the VOC recipe size and at the demo size.

Usage: python benchmarks/bench_data.py [--batches N] [--keep DIR]
Synthetic images in the VOC layout stand in for the real datasets (about 500x375 for the VOC size, 128 px for the demo).
Prints a table: items/s in the main process (0 workers) and with the preset's default workers, the time to produce
one batch, and that time as a share of a demo training step (0.5-1 s on a 2-core CPU).
"""
import argparse, os, sys, tempfile, time, warnings
from pathlib import Path
os.environ.setdefault('HF_HUB_OFFLINE', '1')
warnings.filterwarnings('ignore')
import torch
from cpdgl.core import get_config
from cpdgl.data.synthetic import make_synthetic_voc, colour_threshold_baseline
from cpdgl.data.block import cpdgl_dataloaders

def time_batches(dl, n):
    "Seconds to the first batch (worker start included), then mean seconds per batch over the next `n`."
    t0 = time.perf_counter(); it = iter(dl); next(it); first = time.perf_counter() - t0
    t0, k = time.perf_counter(), 0
    for _ in range(n):
        try: next(it); k += 1
        except StopIteration: it = iter(dl); next(it); k += 1
    return first, (time.perf_counter() - t0)/max(k, 1)

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--batches', type=int, default=20, help='batches timed per setting')
    p.add_argument('--keep', default='', help='folder for the generated datasets (default: a temporary folder)')
    a = p.parse_args()
    base = Path(a.keep or tempfile.mkdtemp())
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}, "
          f"load average at start {os.getloadavg()[0]:.1f}")
    t0 = time.perf_counter(); demo_root = make_synthetic_voc(base/'demo', n_train=320, n_val=96, size=128)
    t_demo = time.perf_counter() - t0
    t0 = time.perf_counter(); voc_root = make_synthetic_voc(base/'voc', n_train=64, n_val=16, size=(375, 500))
    t_voc = time.perf_counter() - t0
    print(f"dataset generation: demo (416 images, 128 px) {t_demo:.1f} s; VOC size (80 images, 500x375) {t_voc:.1f} s")
    base_c, base_l = colour_threshold_baseline(demo_root), colour_threshold_baseline(demo_root, use_labels=True)
    print(f"colour-rule baseline on the demo val split: mIoU {base_c['miou']:.3f} (with image labels {base_l['miou']:.3f})\n")
    rows = []
    for name, preset, root in (('VOC (crop 448, bs 4)', 'voc', voc_root), ('demo (crop 96, bs 8)', 'demo', demo_root)):
        cfg = get_config(preset, dataset='synthetic', num_classes=6, data_root=str(root))
        for nw in (0, cfg.num_workers):
            dls = cpdgl_dataloaders(cfg, num_workers=nw, device='cpu')
            first, per = time_batches(dls.train, a.batches)
            rows.append((name, nw, cfg.batch_size/per, per, first))
            del dls
    print(f"| setting | workers | train items/s | s/batch | first batch s | share of a 0.5-1 s step |")
    print(f"|---|---|---|---|---|---|")
    for name, nw, ips, per, first in rows:
        share = f"{per/1.0:.1%}-{per/0.5:.1%}" if 'demo' in name else 'n/a'
        print(f"| {name} | {nw} | {ips:.1f} | {per:.3f} | {first:.2f} | {share} |")
    print(f"\nload average at the end {os.getloadavg()[0]:.1f} (the machine is shared: numbers are noisy)")

if __name__ == '__main__': main()
