"""Seconds per CPDGL training step and peak memory, broken down by stage.

Usage: python benchmarks/bench_train.py [--preset demo] [--iters 6] [--warmup 2] [--threads N] [--mp bf16] [--set k=v ...]
                                        [--losses OUT.json] [--check REF.json [--tol 1e-5]]

Trains `--warmup + --iters` steps of the preset with `cpdgl_learner` (on the synthetic dataset for the demo preset),
from random weights unless `--set pretrained=True` (the time does not depend on them, and `--set` may change the network
so that the preset's weights no longer fit it), and prints the mean seconds of each stage of a step over the last `--iters` steps:
  data       loading the batch (between two steps)
  forward    the main forward pass of the backbone, heads and decoder
  cam        multi-scale CAM and aux CAM (no gradient; the scale-1 CAM is the main forward's)
  labels     PAR-refined pseudo label, affinity and ROI masks, crop positions and tags (no gradient)
  local      the local branch: crops, student embeddings of img2 and the query crops, keys, teacher embeddings
  losses     the seven loss terms
  backward   backward pass
  step       optimiser step + EMA / bank / prototype updates
and the peak memory: resident set size of the process on a CPU (peak allocated by PyTorch on a GPU).

Every step's loss and seven terms (the run is seeded: the same code, shapes and threads give the same numbers) are written
to `--losses` as JSON, and compared with those of `--check` (a file written by `--losses`): the script exits with status 1
when a value differs by more than `--tol`. `benchmarks/losses_bench_shapes.json` holds the reference of the shapes of
`benchmarks/README.md`.
"""
import argparse, json, os, resource, sys, tempfile, time
from collections import defaultdict
from pathlib import Path
os.environ.setdefault('HF_HUB_OFFLINE', '1')
import numpy as np
import torch
from fastai.callback.core import Callback
from cpdgl.core import get_config
from cpdgl.data.block import cpdgl_dataloaders
from cpdgl.data.synthetic import make_synthetic_voc
from cpdgl.learner import cpdgl_learner
from cpdgl.script import UsageError, parse_overrides

class _Stamp(Callback):
    "Record the time of every training event, at the very start (`first`) or the very end (`last`) of the event."
    def __init__(self, where, store, order):
        self.where, self.store, self.order = where, store, order
    def _t(self, ev):
        if not self.learn.training: return
        dev = self.learn.dls.device
        if dev is not None and torch.device(dev).type == 'cuda': torch.cuda.synchronize()
        self.store[(ev, self.where)].append(time.perf_counter())
for _ev in ('before_batch', 'after_pred', 'after_loss', 'before_backward', 'after_backward', 'before_step', 'after_step', 'after_batch'):
    setattr(_Stamp, _ev, (lambda ev: lambda self: self._t(ev))(_ev))

def parse_sets(p, sets):
    "The config values of `--set k=v ...`, each read with its field's type (`cpdgl.script.parse_overrides`); a bad one ends in `p.error`."
    try: return parse_overrides(sets)
    except UsageError as e: p.error(str(e))

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--preset', default='demo')
    p.add_argument('--iters', type=int, default=6, help='timed steps')
    p.add_argument('--warmup', type=int, default=2, help='untimed steps first')
    p.add_argument('--threads', type=int, default=0, help='torch threads (0: leave the default)')
    p.add_argument('--mp', default='', help="mixed precision: '', 'bf16' or 'fp16'")
    p.add_argument('--root', default=str(Path(tempfile.gettempdir())/'cpdgl_bench_synth'), help='synthetic dataset folder')
    p.add_argument('--set', nargs='*', default=[], help='config overrides k=v')
    p.add_argument('--losses', default='', help="write every step's loss terms to this JSON file")
    p.add_argument('--check', default='', help='compare the loss terms with this JSON file (from --losses)')
    p.add_argument('--tol', type=float, default=1e-5, help='largest absolute difference --check accepts')
    a = p.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    sets = parse_sets(p, a.set)
    if 'max_iters' in sets: p.error('the run has --warmup + --iters steps: set those instead of max_iters')
    n = a.warmup + a.iters
    cfg = get_config(a.preset, **{**dict(max_iters=n, val_every_frac=1., num_workers=0, mixed_precision=a.mp, pretrained=False,
                                         stage_contrast_frac=0., stage_all_frac=0.), **sets})
    if cfg.dataset == 'synthetic':
        make_synthetic_voc(a.root, n_train=max(64, n * cfg.batch_size), n_val=cfg.batch_size)
        cfg = cfg.replace(data_root=a.root)
    dls = cpdgl_dataloaders(cfg)
    dls.valid = dls.valid.new(n=cfg.batch_size)        # validation is not timed: keep it to one batch
    stamps = defaultdict(list)
    with tempfile.TemporaryDirectory() as d:
        learn = cpdgl_learner(dls, cfg, path=d, cbs=[_Stamp('first', stamps, -1000), _Stamp('last', stamps, 1000)])
        learn.cpdgl.timings = defaultdict(list)
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        if torch.cuda.is_available(): torch.cuda.reset_peak_memory_stats()
        with learn.no_bar(), learn.no_logging(): learn.fit_cpdgl()
    S, T = stamps, learn.cpdgl.timings
    sl = slice(a.warmup, n)
    d = lambda e1, w1, e2, w2: np.array(S[(e2, w2)])[sl] - np.array(S[(e1, w1)])[sl]
    rows = {
        'data':     np.array(S[('before_batch', 'first')][1:])[a.warmup - 1:] - np.array(S[('after_batch', 'last')][:-1])[a.warmup - 1:],
        'forward':  d('before_batch', 'last', 'after_pred', 'first'),
        'cam':      np.array(T['cam'])[sl],
        'labels':   np.array(T['labels'])[sl],
        'local':    np.array(T['local'])[sl],
        'losses':   d('after_pred', 'last', 'after_loss', 'first'),
        'backward': d('before_backward', 'last', 'after_backward', 'first'),
        'step':     d('before_step', 'last', 'after_step', 'last'),
    }
    total = d('before_batch', 'first', 'after_batch', 'last')
    rest = total - sum(v for k, v in rows.items() if k != 'data')
    dev = 'cuda' if torch.cuda.is_available() else 'cpu'
    print(f"preset {a.preset}: batch {cfg.batch_size}, crop {cfg.crop_size}, patch {cfg.patch_size}, backbone {cfg.backbone} "
          f"{cfg.backbone_kwargs}, {cfg.n_local} crops of {cfg.local_size}, CAM scales {cfg.cam_scales}; device {dev}, "
          f"torch threads {torch.get_num_threads()}, precision {a.mp or 'fp32'}; mean of {a.iters} steps after {a.warmup}")
    print(f"{'stage':<10}{'s/step':>9}{'share':>8}")
    for k, v in rows.items(): print(f"{k:<10}{v.mean():>9.3f}{v.mean() / total.mean():>8.0%}")
    print(f"{'other':<10}{rest.mean():>9.3f}{rest.mean() / total.mean():>8.0%}")
    print(f"{'step':<10}{total.mean():>9.3f}  (min {total.min():.3f}, max {total.max():.3f}; without data loading)")
    if dev == 'cuda': print(f"peak GPU memory allocated: {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"peak resident memory of the process: {rss:.2f} GiB ({rss0:.2f} GiB before training)")
    terms = [{k: v for k, v in t.items()} for t in learn.loss_terms]
    if a.losses:
        Path(a.losses).write_text(json.dumps(dict(argv=sys.argv[1:], threads=torch.get_num_threads(), terms=terms), indent=1))
        print(f"loss terms of {len(terms)} steps written to {a.losses}")
    if a.check: sys.exit(check_losses(terms, json.loads(Path(a.check).read_text())['terms'], a.tol))

def check_losses(terms, ref, tol):
    "0 when `terms` match `ref` (lists of per-step dicts) within `tol`, else 1; prints the largest difference."
    if len(terms) != len(ref):
        print(f"losses: {len(terms)} steps, the reference has {len(ref)}: run with the same --warmup and --iters"); return 1
    diffs = [(abs(t[k] - r[k]), i, k) for i, (t, r) in enumerate(zip(terms, ref)) for k in r if k != 'iter']
    worst = max(diffs)
    ok = worst[0] <= tol
    print(f"losses {'match' if ok else 'DIFFER'}: largest difference {worst[0]:.2e} (step {worst[1]}, {worst[2]}), tolerance {tol:g}")
    return 0 if ok else 1

if __name__ == '__main__': main()
