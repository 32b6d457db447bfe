"""How far can the demo's network get on the synthetic dataset in the demo's number of steps? Upper bounds, measured.

Usage: python benchmarks/bench_demo_bounds.py [--steps 400] [--scratch] [--lr LR] [--threads N] [--seed 0]
                                              [--data DIR] [--data_seed 0] [--n_train N] [--modes supervised classifier]
                                              [--set k=v ...] [--cnn] [--save]

Trains the `demo` preset's network (`CPDGLNet`, from the shipped pretrained backbone unless `--scratch`) two ways, each
for the given numbers of steps with the demo's batch size and crop, and scores it on the synthetic val split:
- **fully supervised**: cross entropy of the decoder against the *true masks*. No weakly supervised method, CPDGL
  included, can be expected to beat it with the same network and steps: it is the ceiling of the demo's budget.
  Scored at full size, single scale, and with `cpdgl.inference.evaluate` (multi-scale + flip, as the demo scores).
- **classifier only**: the image-label loss of the method (`L_cls`), then the CAM label (`cam_to_label`, the method's
  background threshold and the true image labels, as the CAM mIoU of the demo is scored). This is where the CAMs, and
  through them the pseudo labels, start from.
`--cnn` trains a plain convolutional network (`PlainCNN`, BatchNorm, stride 8, no attention, random init) on the
true masks in the same loop instead: a reference learner, to tell the budget apart from the network.
`--set` changes values of the preset (as in `bench_train.py`), e.g. a narrower ViT with
`--scratch --set 'backbone_kwargs={"depth": 6, "embed_dim": 96, "num_heads": 3}'` (values are read as `cpdgl_demo --set`
reads them: JSON for dicts).
Augmentation: random rescale in the preset's `scale_range`, random crop with padding (ignored), horizontal flip.
AdamW with the preset's learning rates (backbone `lr`, heads and decoder `lr * head_lr_mult`; `--lr` sets one rate for
all), a linear warm-up over the preset's `warmup_frac` and polynomial decay. Prints a line per run as it ends, then
the table of every run's scores.
`--save` writes the fully supervised result of the default settings to `cpdgl/assets/demo_bound.json`, which the demo
prints beside its own scores, with the SHA-256 of the shipped backbone it started from (a test checks it is the file
shipped now).
"""
import argparse, hashlib, json, os, platform, time
os.environ.setdefault('HF_HUB_OFFLINE', '1')
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from cpdgl.core import get_config, seed_everything, DEMO_WEIGHTS
from cpdgl.cam import cam_to_label
from cpdgl.data.block import data_root, normalize
from cpdgl.data.sources import VOCSource
from cpdgl.data.synthetic import make_synthetic_voc, synthetic_spec, DEMO_DATA
from cpdgl.inference import evaluate
from cpdgl.metrics import ConfusionMatrix, MultilabelF1, scores_table
from cpdgl.models.backbone import CPDGLNet
from bench_train import parse_sets   # the same --set reading as the step benchmark

def load(src):
    "Normalised images (N,3,H,W), masks (N,H,W) and labels (N,K) of a whole source."
    x = normalize(torch.stack([torch.from_numpy(np.array(src.image(i))).permute(2, 0, 1) for i in range(len(src))]) / 255)
    m = torch.stack([torch.from_numpy(src.mask(i).astype(np.int64)) for i in range(len(src))])
    return x, m, torch.as_tensor(np.asarray(src.labels), dtype=torch.float32)

def batch(x, m, y, cfg, g):
    "One training batch: rescale, crop (padding: the mean colour, ignored), flip; images, masks, labels."
    S, idx = cfg.crop_size, torch.randint(len(x), (cfg.batch_size,), generator=g)
    imgs, masks = torch.zeros(cfg.batch_size, 3, S, S), torch.full((cfg.batch_size, S, S), cfg.ignore_index)
    for j, i in enumerate(idx.tolist()):
        s = float(torch.empty(1).uniform_(*cfg.scale_range, generator=g))
        xi = F.interpolate(x[i:i + 1], scale_factor=s, mode='bilinear', align_corners=False)[0]
        mi = F.interpolate(m[i:i + 1, None].float(), scale_factor=s, mode='nearest')[0, 0].long()
        H, W = xi.shape[-2:]
        y0 = int(torch.randint(max(H - S, 0) + 1, (1,), generator=g)); x0 = int(torch.randint(max(W - S, 0) + 1, (1,), generator=g))
        ci, cm = xi[:, y0:y0 + S, x0:x0 + S], mi[y0:y0 + S, x0:x0 + S]
        imgs[j, :, :ci.shape[1], :ci.shape[2]], masks[j, :cm.shape[0], :cm.shape[1]] = ci, cm
        if torch.rand(1, generator=g) < 0.5: imgs[j], masks[j] = imgs[j].flip(-1), masks[j].flip(-1)
    return imgs, masks, y[idx]

class PlainCNN(nn.Module):
    "A reference segmenter: eight 3×3 convolutions (BatchNorm, ReLU; stride 8 in all), two dilated ones and a 1×1 classifier."
    def __init__(self, cfg, w:int=32):
        super().__init__()
        def conv(i, o, s=1, d=1, bn=True):
            return [nn.Conv2d(i, o, 3, s, d, dilation=d, bias=not bn)] + ([nn.BatchNorm2d(o)] if bn else []) + [nn.ReLU(inplace=True)]
        chans = [(3, w, 2), (w, w, 1), (w, 2*w, 2), (2*w, 2*w, 1), (2*w, 4*w, 2), (4*w, 4*w, 1), (4*w, 4*w, 1)]
        body = sum((conv(i, o, st) for i, o, st in chans), [])
        self.net = nn.Sequential(*body, *conv(4*w, 4*w, d=2, bn=False), *conv(4*w, 4*w, d=4, bn=False), nn.Conv2d(4*w, cfg.num_classes, 1))
    def forward(self, x): return dict(seg=self.net(x))
    def param_groups(self): return [list(self.parameters()), [], [], []]   # CPDGLNet's four groups: all at the backbone's rate

def train(mode, steps, data, cfg, lr, seed, cnn=False):
    "Train a fresh `CPDGLNet` (`PlainCNN` if `cnn`) for `steps` steps, `mode` 'supervised' or 'classifier'; return it and the seconds per step."
    seed_everything(seed); g = torch.Generator().manual_seed(seed)
    model = (PlainCNN(cfg) if cnn else CPDGLNet(cfg)).train()
    lrs = [lr] * 4 if lr else [cfg.lr, cfg.lr, cfg.lr * cfg.head_lr_mult, cfg.lr * cfg.head_lr_mult]
    opt = torch.optim.AdamW([dict(params=p, lr=r) for p, r in zip(model.param_groups(), lrs)], weight_decay=cfg.weight_decay)
    warm = max(1, round(cfg.warmup_frac * steps))
    t0 = time.perf_counter()
    for it in range(steps):
        f = (it + 1) / warm if it < warm else (1 - (it - warm) / max(steps - warm, 1)) ** cfg.poly_power
        for grp, r in zip(opt.param_groups, lrs): grp['lr'] = r * f
        img, mask, lab = batch(*data, cfg, g)
        out = model(img)
        if mode == 'supervised':
            seg = F.interpolate(out['seg'], size=img.shape[-2:], mode='bilinear', align_corners=False)
            loss = F.cross_entropy(seg, mask, ignore_index=cfg.ignore_index)
        else: loss = F.multilabel_soft_margin_loss(out['cls_logits'], lab)
        opt.zero_grad(); loss.backward(); opt.step()
    return model.eval(), (time.perf_counter() - t0) / steps

@torch.no_grad()
def score(model, mode, val, cfg):
    "Val mIoU (segmentation or CAM label) at full size, single scale, and, for the classifier, its F1."
    x, m, y = val
    cm, f1 = ConfusionMatrix(cfg.num_classes, cfg.ignore_index), MultilabelF1()
    for i in range(0, len(x), 16):
        img, mask, lab = x[i:i + 16], m[i:i + 16], y[i:i + 16]
        out = model(img)
        if mode == 'supervised': pred = F.interpolate(out['seg'], size=img.shape[-2:], mode='bilinear', align_corners=False).argmax(1)
        else:
            cam = F.interpolate(F.relu(out['cam']), size=img.shape[-2:], mode='bilinear', align_corners=False)
            cam = cam / (cam.flatten(2).amax(-1)[..., None, None] + 1e-5)
            pred = cam_to_label(cam, lab, bkg_thre=cfg.bkg_thre)
            f1.update(out['cls_logits'], lab)
        cm.update(pred, mask)
    return cm.scores(), (f1.value() if mode == 'classifier' else None)

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--steps', type=int, nargs='+', default=None, help="training steps (default: the demo preset's)")
    p.add_argument('--scratch', action='store_true', help='start from random weights instead of the shipped backbone')
    p.add_argument('--lr', type=float, default=0., help="one AdamW learning rate for every parameter (default: the preset's)")
    p.add_argument('--threads', type=int, default=0, help='torch threads (0: the default)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--data', default='', help='folder of the synthetic dataset (default: the demo\'s, ~/.cpdgl/data/synthetic)')
    p.add_argument('--data_seed', type=int, default=DEMO_DATA['seed'], help='seed of the synthetic dataset')
    p.add_argument('--n_train', type=int, default=DEMO_DATA['n_train'], help='training images of the synthetic dataset')
    p.add_argument('--modes', nargs='+', default=['supervised', 'classifier'], choices=['supervised', 'classifier'], help='which runs')
    p.add_argument('--set', nargs='*', default=[], help='config overrides k=v')
    p.add_argument('--cnn', action='store_true', help='train PlainCNN on the true masks instead (supervised only, single scale)')
    p.add_argument('--save', action='store_true', help='write the fully supervised result to cpdgl/assets/demo_bound.json')
    a = p.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    sets = parse_sets(p, a.set)
    if a.cnn and 'classifier' in a.modes: p.error('--cnn is a reference segmenter: use it with --modes supervised')
    if a.save and (sets or a.scratch or a.lr or a.cnn): p.error('--save writes the bound of the preset as it is: drop --set, --scratch, --lr and --cnn')
    cfg = get_config('demo', **{'pretrained': not a.scratch, **sets})
    root = make_synthetic_voc(a.data or data_root(cfg), n_train=a.n_train, seed=a.data_seed)
    train_data, val_src = load(VOCSource(root, 'train')), VOCSource(root, 'val')
    val = load(val_src)
    net = 'PlainCNN (random init)' if a.cnn else f"demo network ({'from scratch' if a.scratch else 'shipped pretrained backbone'}, {cfg.backbone_kwargs})"
    print(f"{net}, batch "
          f"{cfg.batch_size}, crop {cfg.crop_size}, {'lr ' + str(a.lr) if a.lr else f'lr {cfg.lr} (heads x{cfg.head_lr_mult})'}, "
          f"{torch.get_num_threads()} threads" + (f', {sets}' if sets else '') + f"; train: {len(train_data[0])} images, val: {len(val[0])} images, full size")
    rows = []
    for steps in a.steps or [cfg.max_iters]:
        for mode, what in (('supervised', 'PlainCNN on the true masks' if a.cnn else 'fully supervised (true masks)'), ('classifier', 'classifier only: CAM label')):
            if mode not in a.modes: continue
            model, sps = train(mode, steps, train_data, cfg, a.lr, a.seed, a.cnn)
            s, f1 = score(model, mode, val, cfg)
            ms = evaluate(model, val_src, cfg, progress=False) if mode == 'supervised' and not a.cnn else None
            print(f"{what}, {steps} steps: {sps:.2f} s/step" + ('' if f1 is None else f", F1 {f1:.3f}") + f", mIoU {100 * s['miou']:.1f}", flush=True)
            rows += [(f'{what}, {steps} steps', s)] + ([('  multi-scale + flip', ms)] if ms is not None else [])
            if a.save and mode == 'supervised' and steps == cfg.max_iters:   # --save refused other settings above
                spec = {k: v for k, v in synthetic_spec(root).items() if k != 'waves'}
                res = dict(miou=ms['miou'], iou=[None if v != v else v for v in ms['iou'].tolist()], single_scale_miou=s['miou'],
                           what='the demo network trained on the true masks, scored multi-scale + flip like the demo',
                           steps=steps, batch_size=cfg.batch_size, crop_size=cfg.crop_size, seconds_per_step=round(sps, 3),
                           dataset=spec, weights_sha256=hashlib.sha256(DEMO_WEIGHTS.read_bytes()).hexdigest(),
                           threads=torch.get_num_threads(), machine=f'{platform.machine()}, {os.cpu_count()} cores',
                           command='python benchmarks/bench_demo_bounds.py --save')
                out = DEMO_WEIGHTS.parent/'demo_bound.json'
                out.write_text(json.dumps(res, indent=1)); print(f'wrote {out}')
    print(f"\nval mIoU and per-class IoU in %:\n{scores_table(rows, val_src.classes)}")

if __name__ == '__main__': main()
