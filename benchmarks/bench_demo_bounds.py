"""How far can the demo's network get on the synthetic dataset in the demo's number of steps? Upper bounds, measured.

Usage: python benchmarks/bench_demo_bounds.py [--steps 400 1200] [--patches] [--lr 1e-3] [--threads N] [--seed 0]

Trains the `demo` preset's network (`CPDGLNet`, from scratch) two ways, each for the given numbers of steps with the
demo's batch size and crop, and scores it on the synthetic val split at full size, single scale:
- **fully supervised**: cross entropy of the decoder against the *true masks*. No weakly supervised method, CPDGL
  included, can be expected to beat it with the same network and steps: it is the ceiling of the demo's budget.
- **classifier only**: the image-label loss of the method (`L_cls`), then the CAM label (`cam_to_label`, the method's
  background threshold and the true image labels, as the CAM mIoU of the demo is scored). This is where the CAMs, and
  through them the pseudo labels, start from.
Augmentation: random rescale in the preset's `scale_range`, random crop with padding (ignored), horizontal flip.
AdamW at `--lr` with a 5% linear warm-up and polynomial decay, as the demo. Prints one row per run.
`--patches` replaces the preset's convolutional stem with plain 8-pixel patches, to compare the two stems.
"""
import argparse, os, time
os.environ.setdefault('HF_HUB_OFFLINE', '1')
import numpy as np
import torch
import torch.nn.functional as F
from cpdgl.core import get_config, seed_everything
from cpdgl.cam import cam_to_label
from cpdgl.data.block import data_root, normalize
from cpdgl.data.sources import VOCSource
from cpdgl.data.synthetic import make_synthetic_voc
from cpdgl.metrics import ConfusionMatrix, MultilabelF1
from cpdgl.models.backbone import CPDGLNet

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

def train(mode, steps, data, cfg, lr, seed):
    "Train a fresh `CPDGLNet` for `steps` steps, `mode` 'supervised' or 'classifier'; return it and the seconds per step."
    seed_everything(seed); g = torch.Generator().manual_seed(seed)
    model = CPDGLNet(cfg).train()
    params = [p for grp in model.param_groups() for p in grp]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=cfg.weight_decay)
    warm = max(1, round(cfg.warmup_frac * steps))
    t0 = time.perf_counter()
    for it in range(steps):
        f = (it + 1) / warm if it < warm else (1 - (it - warm) / max(steps - warm, 1)) ** 0.9
        for grp in opt.param_groups: grp['lr'] = lr * f
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
    "Val mIoU (segmentation or CAM label) and, for the classifier, its F1."
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
    p.add_argument('--patches', action='store_true', help='8-pixel patches instead of the convolutional stem')
    p.add_argument('--lr', type=float, default=1e-3, help='AdamW learning rate of every parameter')
    p.add_argument('--threads', type=int, default=0, help='torch threads (0: the default)')
    p.add_argument('--seed', type=int, default=0)
    a = p.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    cfg = get_config('demo', conv_stem=not a.patches)
    root = data_root(cfg)
    if not (root/'ImageSets'/'Segmentation'/'val.txt').exists(): make_synthetic_voc(root)
    train_data, val = load(VOCSource(root, 'train')), load(VOCSource(root, 'val'))
    names = VOCSource(root, 'val').classes
    print(f"demo network ({'conv stem' if cfg.conv_stem else 'patches'}, {cfg.backbone_kwargs}), batch {cfg.batch_size}, "
          f"crop {cfg.crop_size}, lr {a.lr}, {torch.get_num_threads()} threads; val: {len(val[0])} images, full size")
    print(f"{'run':<34}{'steps':>6}{'s/step':>8}{'F1':>7}{'mIoU':>7}  " + ' '.join(f'{n[:8]:>8}' for n in names))
    for steps in a.steps or [cfg.max_iters]:
        for mode, what in (('supervised', 'fully supervised (true masks)'), ('classifier', 'classifier only: CAM label')):
            model, sps = train(mode, steps, train_data, cfg, a.lr, a.seed)
            s, f1 = score(model, mode, val, cfg)
            f1s = '-' if f1 is None else f'{f1:.3f}'
            print(f"{what:<34}{steps:>6}{sps:>8.2f}{f1s:>7}{s['miou']:>7.3f}  " + ' '.join(f'{v:>8.3f}' for v in s['iou']), flush=True)

if __name__ == '__main__': main()
