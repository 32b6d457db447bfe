"""When does a demo run pick up the `ring`-on-`cross` bias? The co-occurrence diagnostic measured during training.

Usage: python benchmarks/bench_demo_probe.py OUT [--data DIR] [--data_seed 0] [--n_train 2400] [--n_val 160]
                                             [--seed 0] [--every 60] [--average] [--threads 2] [--set k=v ...]
       python benchmarks/bench_demo_probe.py --plot PNG OUT [OUT ...]

Trains one `demo` run exactly as `cpdgl_demo` trains its CPDGL run (same config, data, seed and learner), and every
`--every` steps scores the model on the synthetic val split, without touching the training: `pseudo_labels` and
`evaluate` put the model back in its mode, nothing draws from a random generator, and the last probe equals the
demo's own scores (segmentation, multi-scale + flip, and its co-occurrence diagnostic) to the last digit. Each probe gives:
- the **CAM labels** (multi-scale CAM of the true image labels, background threshold; what the pseudo labels, the ROI
  masks and the crop tags are made from): mIoU, `cross` IoU, `ring` on `cross` pixels, `box` on waves backgrounds;
- the **segmentation** (decoder, multi-scale + flip, as `cpdgl_eval` and the demo score it): the same four numbers.
Writes `OUT/probe.json` (a list, one entry per probe) as it goes and prints each probe as a line.
`--average` also keeps averages of the weights through the run (`AVERAGES`: the mean of every step's weights over the
last half or the last quarter of the run, and moving averages with momentum 0.99 and 0.995) and, after the last
weights, probes each of them the same way (entries with `weights` set to the average's name). `--every 0` probes
only the end of the run.
`--plot` draws `ring` on `cross` and `cross` IoU over the steps of several such runs into one PNG.
The dataset is drawn into `--data` (default: the demo's data folder) if it is absent or was drawn with other values.
"""
import argparse, copy, json, os
from pathlib import Path
os.environ.setdefault('HF_HUB_OFFLINE', '1')

# name -> ('mean', first step of the mean as a fraction of the run) or ('ema', momentum); each average takes in the
# weights after every optimiser step (every floating-point tensor of the model's state dict, BatchNorm statistics included)
AVERAGES = {'mean, last half': ('mean', 0.5), 'mean, last quarter': ('mean', 0.75), 'EMA 0.99': ('ema', 0.99),
            'EMA 0.995': ('ema', 0.995)}

def update_averages(avgs:dict, state:dict, it:int, n_iters:int):
    "Take `state` (the weights after step `it` of `n_iters`, every step in turn) into every average of `AVERAGES`, kept in `avgs`."
    for name, (kind, v) in AVERAGES.items():
        if kind == 'mean' and it <= v * n_iters: continue
        if name not in avgs: avgs[name] = {k: t.clone() for k, t in state.items()}
        elif kind == 'mean':   # the mean's n-th step, counted from its first, step int(v * n_iters) + 1
            for k, t in state.items(): avgs[name][k] += (t - avgs[name][k]) / (it - int(v * n_iters))
        else:
            for k, t in state.items(): avgs[name][k].mul_(v).add_(t, alpha=1 - v)

KEYS = ('cam_miou', 'cam_cross', 'cam_ring_on_cross', 'cam_box_waves', 'seg_miou', 'seg_cross', 'seg_ring_on_cross', 'seg_box_waves')

def plot(png, outs):
    "`ring` on `cross` (CAM labels and segmentation) and `cross` IoU of the segmentation over the steps of each run."
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axs = plt.subplots(1, 3, figsize=(13, 3.4))
    for o in outs:
        log = [r for r in json.loads((Path(o)/'probe.json').read_text()) if r.get('weights', 'last') == 'last']
        it = [r['it'] for r in log]
        for ax, k in zip(axs, ('cam_ring_on_cross', 'seg_ring_on_cross', 'seg_cross')):
            ax.plot(it, [100 * r[k] for r in log], marker='.', label=Path(o).name)
    for ax, t in zip(axs, ('ring on cross pixels, CAM labels (%)', 'ring on cross pixels, segmentation (%)', 'cross IoU, segmentation (%)')):
        ax.set_title(t, fontsize=9); ax.set_xlabel('step', fontsize=8); ax.set_ylim(0, 100); ax.legend(fontsize=7)
    fig.tight_layout(); Path(png).parent.mkdir(parents=True, exist_ok=True); fig.savefig(png, dpi=80); plt.close(fig)
    print(f'wrote {png}')

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('out', nargs='+', help='run folder (with --plot: the run folders to draw)')
    p.add_argument('--plot', default=None, help='draw the probes of the run folders into this PNG instead of training')
    p.add_argument('--data', default=None, help="dataset folder (default: the demo's)")
    p.add_argument('--data_seed', type=int, default=None); p.add_argument('--n_train', type=int, default=None)
    p.add_argument('--n_val', type=int, default=None)
    p.add_argument('--seed', type=int, default=0, help='training seed')
    p.add_argument('--every', type=int, default=60, help='probe every this many steps (0: only at the end)')
    p.add_argument('--average', action='store_true', help='also probe averages of the weights at the end (`AVERAGES`)')
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--set', nargs='*', default=[], metavar='k=v', help='config values, as `cpdgl_demo --set`')
    a = p.parse_args()
    if a.plot: return plot(a.plot, a.out)
    import torch
    torch.set_num_threads(a.threads)
    from fastai.callback.core import Callback
    from cpdgl.data.block import cpdgl_dataloaders, data_root
    from cpdgl.data.sources import VOCSource
    from cpdgl.data.synthetic import CooccurrenceMeter, DEMO_DATA, make_synthetic_voc, synthetic_spec
    from cpdgl.demo import demo_config
    from cpdgl.inference import evaluate
    from cpdgl.learner import cpdgl_learner
    from cpdgl.predict import pseudo_labels
    from cpdgl.script import parse_overrides

    out = Path(a.out[0])
    cfg = demo_config(seed=a.seed, **parse_overrides(a.set))
    root = make_synthetic_voc(data_root(cfg, a.data), n_train=a.n_train or DEMO_DATA['n_train'],
                              n_val=a.n_val or DEMO_DATA['n_val'],
                              seed=DEMO_DATA['seed'] if a.data_seed is None else a.data_seed)
    cfg = cfg.replace(data_root=str(root))
    val = VOCSource(root, 'val')
    waves = (synthetic_spec(root) or {}).get('waves', {}).get('val', [])
    log = []

    @torch.no_grad()
    def probe(model, it, weights='last'):
        cam_meter, seg_meter = CooccurrenceMeter(waves), CooccurrenceMeter(waves)   # both calls put the model back in its mode
        cam = pseudo_labels(model, val, cfg, crf=False, progress=False,
                            on_pred=lambda i, pred, mask: cam_meter.update(pred, mask, Path(val.img_files[i]).stem))
        seg = evaluate(model, val, cfg, progress=False,
                       on_pred=lambda i, pred, mask: seg_meter.update(pred, mask, Path(val.img_files[i]).stem))
        rc, rs = cam_meter.rates(), seg_meter.rates()
        r = dict(it=it, weights=weights, cam_miou=float(cam['miou']), cam_cross=float(cam['iou'][-1]),
                 cam_ring_on_cross=rc['ring on cross']['rate'], cam_box_waves=rc['box on waves background']['rate'],
                 seg_miou=float(seg['miou']), seg_cross=float(seg['iou'][-1]),
                 seg_ring_on_cross=rs['ring on cross']['rate'], seg_box_waves=rs['box on waves background']['rate'])
        log.append(r)
        print(f"step {it:5d} {weights:>18}  " + '  '.join(f"{k} {100 * r[k]:5.1f}" for k in KEYS), flush=True)
        out.mkdir(parents=True, exist_ok=True); (out/'probe.json').write_text(json.dumps(log, indent=1))

    class Probe(Callback):
        order = 100   # after the step and every callback of the run
        def after_batch(self):
            if self.training and a.every and self.train_iter % a.every == 0: probe(self.model, self.train_iter)

    class Average(Callback):
        order = 100
        def before_fit(self): self.avgs = {}
        def after_batch(self):
            if not self.training: return
            state = {k: t.detach() for k, t in self.model.state_dict().items() if t.is_floating_point()}
            update_averages(self.avgs, state, self.train_iter, cfg.max_iters)

    learn = cpdgl_learner(cpdgl_dataloaders(cfg, root=root, device='cpu'), cfg, path=out)
    learn.add_cb(Probe())
    if a.average: learn.add_cb(avg := Average())
    with learn.no_bar(), learn.no_logging(): learn.fit_cpdgl(overwrite=True)
    if not log or log[-1]['it'] != cfg.max_iters: probe(learn.model, cfg.max_iters)   # unless the last step was probed
    if a.average:
        model = copy.deepcopy(learn.model)
        for name in AVERAGES:
            model.load_state_dict(avg.avgs[name], strict=False)
            probe(model, cfg.max_iters, name)

if __name__ == '__main__': main()
