"""Time forward + backward of every CPDGL loss at the demo preset's shapes (and, with --voc, at the VOC recipe's).

Usage: python benchmarks/bench_losses.py [--voc] [--runs 5] [--threads N] [--device cpu|cuda]
Prints one row per loss: the median and best seconds of forward + backward over `runs` repetitions.
"""
import argparse, statistics, time
import torch
import torch.nn.functional as F
from cpdgl.core import get_config
from cpdgl.losses import cls_loss, ptc_loss, seg_loss, crf_energy_loss, local_contrast_loss, proto_contrast_loss

def inputs(cfg, dev, g):
    "Random tensors with the shapes one training step of `cfg` feeds to the losses."
    B, S, K, C = cfg.batch_size, cfg.crop_size, cfg.n_fg, cfg.num_classes
    h, d = S // cfg.patch_size, cfg.proj_dim
    D = 192 if 'tiny' in cfg.backbone else 768   # ViT-Ti or ViT-B width
    r = lambda *s: torch.randn(*s, generator=g).to(dev)
    label = torch.randint(0, C, (B, S, S), generator=g); label[torch.rand(B, S, S, generator=g) < .3] = 255
    aff = torch.randint(0, 2, (B, h*h, h*h), generator=g); aff[torch.rand(B, h*h, h*h, generator=g) < .3] = 255
    M = B * (2 + cfg.n_local)
    return dict(B=B, S=S, K=K, C=C, h=h, D=D, d=d, M=M, label=label.to(dev), aff=aff.to(dev),
                logits=r(B, K), cls_label=(torch.rand(B, K, generator=g) < .3).float().to(dev),
                feats=r(B, D, h, h), seg=r(B, C, h, h), img=(torch.rand(B, 3, S, S, generator=g) * 255).to(dev),
                box=torch.tensor([[0, S, 0, S]] * B, device=dev),
                q=F.normalize(r(M, d), dim=1), q_tags=torch.randint(-1, K + 1, (M,), generator=g).to(dev),
                bank=F.normalize(r(cfg.bank_size, d), dim=1),
                bank_tags=torch.randint(-1, K + 1, (cfg.bank_size,), generator=g).to(dev),
                protos=F.normalize(r(K, d), dim=1))

def cases(x, cfg):
    "Each loss as a function of fresh leaf tensors that need a gradient."
    leaf = lambda t: t.detach().clone().requires_grad_(True)
    return {
        'cls_loss': lambda: cls_loss(leaf(x['logits']), x['cls_label']),
        'ptc_loss': lambda: ptc_loss(leaf(x['feats']), x['aff']),
        'seg_loss': lambda: seg_loss(leaf(x['seg']), x['label']),
        'crf_energy_loss': lambda: crf_energy_loss(leaf(x['seg']), x['img'], x['box'], x['label'], cfg.reg_sigma_rgb,
                                                   cfg.reg_sigma_xy, cfg.reg_scale),
        'local_contrast_loss': lambda: local_contrast_loss(leaf(x['q']), x['q_tags'], x['bank'], x['bank_tags'], cfg.temp_lcl),
        'proto_contrast_loss': lambda: proto_contrast_loss(leaf(x['q']), x['q_tags'], x['protos'], cfg.temp_pcl, cfg.proto_margin),
    }

def bench(fn, runs, dev):
    "Median and best seconds of `fn().backward()`."
    ts = []
    for _ in range(runs + 1):
        if dev.type == 'cuda': torch.cuda.synchronize()
        t = time.perf_counter(); fn().backward()
        if dev.type == 'cuda': torch.cuda.synchronize()
        ts.append(time.perf_counter() - t)
    ts = ts[1:]   # the first run warms up
    return statistics.median(ts), min(ts)

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--voc', action='store_true', help='also time the VOC recipe shapes (slow on a CPU)')
    p.add_argument('--runs', type=int, default=5)
    p.add_argument('--threads', type=int, default=0, help='torch threads (0: leave the default)')
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    a = p.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    print(f'device {dev}, torch threads {torch.get_num_threads()}, {a.runs} runs (+1 warm-up)')
    presets = ['demo'] + (['voc'] if a.voc else [])
    print(f"{'preset':<6} {'loss':<20} {'shapes':<34} {'median s':>9} {'best s':>9}")
    for preset in presets:
        cfg = get_config(preset)
        x = inputs(cfg, dev, torch.Generator().manual_seed(0))
        shapes = dict(cls_loss=f"B={x['B']} K={x['K']}", ptc_loss=f"B={x['B']} D={x['D']} tokens={x['h']}x{x['h']}",
                      seg_loss=f"B={x['B']} C={x['C']} {x['h']}->{x['S']}",
                      crf_energy_loss=f"B={x['B']} C={x['C']} {int(x['S']*cfg.reg_scale)}^2 px",
                      local_contrast_loss=f"M={x['M']} Q={cfg.bank_size} d={x['d']}",
                      proto_contrast_loss=f"M={x['M']} K={x['K']} d={x['d']}")
        for name, fn in cases(x, cfg).items():
            runs = 1 if (preset == 'voc' and name == 'crf_energy_loss' and dev.type == 'cpu') else a.runs
            med, best = bench(fn, runs, dev)
            print(f'{preset:<6} {name:<20} {shapes[name]:<34} {med:>9.4f} {best:>9.4f}', flush=True)

if __name__ == '__main__': main()
