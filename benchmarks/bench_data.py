"""Data pipeline speed: training items per second at the VOC recipe size and at the demo size.

Usage: python benchmarks/bench_data.py [--batches N] [--keep DIR]
Synthetic images in the VOC layout stand in for the real datasets (about 500x375 for the VOC size, 128 px for the demo).
Prints a table: items/s in the main process (0 workers) and with the preset's default workers, the time to produce
one batch (wall clock and CPU seconds of the main and worker processes, worker start-up included: one full pass over
the training split with workers), and the CPU time per batch as a share of a demo training step (0.5-1 s on a
2-core CPU).
"""
import argparse, os, resource, tempfile, time, warnings
from pathlib import Path
os.environ.setdefault('HF_HUB_OFFLINE', '1')
warnings.filterwarnings('ignore')
import torch
from cpdgl.core import get_config
from cpdgl.data.synthetic import make_synthetic_voc, colour_threshold_baseline, DEMO_DATA
from cpdgl.data.block import cpdgl_dataloaders

def run_epoch(dl, max_batches):
    "Wall and CPU seconds (this process + its finished worker processes) per batch over one pass (at most `max_batches`)."
    ch0, c0, t0, n = resource.getrusage(resource.RUSAGE_CHILDREN), time.process_time(), time.perf_counter(), 0
    for _ in dl:
        n += 1
        if n >= max_batches and dl.num_workers == 0: break
    wall = time.perf_counter() - t0
    ch1 = resource.getrusage(resource.RUSAGE_CHILDREN)          # workers have exited (and been joined) after a full pass
    cpu = time.process_time() - c0 + (ch1.ru_utime + ch1.ru_stime) - (ch0.ru_utime + ch0.ru_stime)
    return n, wall/n, cpu/n

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--batches', type=int, default=20, help='batches timed per setting')
    p.add_argument('--keep', default='', help='folder for the generated datasets (default: a temporary folder)')
    a = p.parse_args()
    base = Path(a.keep or tempfile.mkdtemp())
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}, "
          f"load average at start {os.getloadavg()[0]:.1f}")
    t0 = time.perf_counter(); demo_root = make_synthetic_voc(base/'demo')   # the demo's dataset (DEMO_DATA)
    t_demo = time.perf_counter() - t0
    t0 = time.perf_counter(); voc_root = make_synthetic_voc(base/'voc', n_train=64, n_val=16, size=(375, 500))
    t_voc = time.perf_counter() - t0
    print(f"dataset generation: demo ({sum(v for k, v in DEMO_DATA.items() if k.startswith('n_'))} images, 128 px) {t_demo:.1f} s; VOC size (80 images, 500x375) {t_voc:.1f} s")
    base_c, base_l = colour_threshold_baseline(demo_root), colour_threshold_baseline(demo_root, use_labels=True)
    print(f"colour-rule baseline on the demo val split: mIoU {base_c['miou']:.3f} (with image labels {base_l['miou']:.3f})\n")
    rows = []
    for name, preset, root in (('VOC (crop 448, bs 4)', 'voc', voc_root), ('demo (crop 96, bs 8)', 'demo', demo_root)):
        cfg = get_config(preset, dataset='synthetic', num_classes=6, data_root=str(root))
        for nw in (0, cfg.num_workers):
            dls = cpdgl_dataloaders(cfg, num_workers=nw, device='cpu')
            n, wall, cpu = run_epoch(dls.train, a.batches)
            rows.append((name, nw, n, cfg.batch_size/wall, wall, cfg.batch_size/cpu, cpu))
            del dls
    print("| setting | workers | batches | items/s (wall) | s/batch (wall) | items/CPU-s | CPU-s/batch | CPU share of a 0.5-1 s step |")
    print("|---|---|---|---|---|---|---|---|")
    for name, nw, n, ips, wall, ipc, cpu in rows:
        share = f"{cpu/1.0:.1%}-{cpu/0.5:.1%}" if 'demo' in name else 'n/a'
        print(f"| {name} | {nw} | {n} | {ips:.1f} | {wall:.3f} | {ipc:.1f} | {cpu:.3f} | {share} |")
    print(f"\nload average at the end {os.getloadavg()[0]:.1f} (the machine is shared: wall times are noisy; CPU seconds"
          " count the work itself, including worker start-up, and are what a training step competes with on 2 cores)")

if __name__ == '__main__': main()
