"""Images per second of multi-scale + flip segmentation inference and of the dense CRF on this machine.

Usage: python benchmarks/bench_inference.py [--n_demo 8] [--n_crf 4] [--vitb/--no-vitb] [--threads N]

Wall seconds and CPU seconds (all threads, or the worker processes) per image; on a shared machine the CPU
seconds are the steadier number. Rows:
- CRF, one VOC-size image (500x375, 21 classes, method.md §6 parameters: 10 iterations, bilateral sxy 121 srgb 5),
  in this process, and `crf_labels` over all cores (process pool);
- multi-scale + flip inference (`ms_flip_seg`) of the demo network (its eval_scales) on 128x128 synthetic images;
- the same for the VOC network (ViT-B/16, untrained weights, scales 1.0/1.25/1.5) on one 500x375 image.
"""
import argparse, os, resource, time, warnings
warnings.filterwarnings('ignore')
os.environ.setdefault('HF_HUB_OFFLINE', '1')
import numpy as np
import torch
from fastcore.basics import num_cpus
from cpdgl.core import get_config, seed_everything
from cpdgl.models.backbone import CPDGLNet
from cpdgl.inference import dense_crf, crf_params, crf_labels, ms_flip_seg, image_tensor
from cpdgl.data.synthetic import draw_sample


def voc_like(H=375, W=500, C=21, seed=0):
    "A synthetic scene (textured objects on clutter) and a smooth softmax of C classes, at VOC size."
    g = torch.Generator().manual_seed(seed)
    img = draw_sample(np.random.default_rng(seed), H, W)[0]
    logits = torch.nn.functional.interpolate(torch.randn(1, C, H // 16, W // 16, generator=g) * 3, size=(H, W), mode='bilinear')[0]
    return img, logits.softmax(0).numpy().astype(np.float32)


def _cpu(children=False):
    "CPU seconds used so far by this process (all its threads) or by its finished child processes."
    r = resource.getrusage(resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def timed(f, n=1, warmup=True, children=False):
    "(wall seconds, CPU seconds) per call of `f`, after one warm-up call."
    if warmup: f()
    t, c = time.perf_counter(), _cpu(children)
    for _ in range(n): f()
    return (time.perf_counter() - t) / n, (_cpu(children) - c) / n


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--n_demo', type=int, default=8, help='demo images to time')
    p.add_argument('--n_crf', type=int, default=4, help='VOC-size images for the parallel CRF row')
    p.add_argument('--no-vitb', dest='vitb', action='store_false', help='skip the ViT-B row')
    p.add_argument('--threads', type=int, default=0, help='torch threads (0: torch default)')
    a = p.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    seed_everything(0)
    rows = []
    voc = get_config('voc', pretrained=False)

    img, prob = voc_like()
    s, c = timed(lambda: dense_crf(img, prob, **crf_params(voc)), 2)
    rows.append(('dense CRF, 1 process', '500x375, 21 classes', s, c))
    imgs, probs = zip(*[voc_like(seed=i) for i in range(a.n_crf)])
    n = num_cpus() or 1
    s, c = timed(lambda: crf_labels(imgs, probs, voc, n_workers=n), warmup=False, children=True)
    rows.append((f'dense CRF, {n} processes', f'500x375, 21 classes, {a.n_crf} images', s / a.n_crf, c / a.n_crf))

    demo = get_config('demo')
    net = CPDGLNet(demo).eval()
    ims = [image_tensor(draw_sample(np.random.default_rng(i))[0]) for i in range(a.n_demo)]
    it = iter(ims * 2)
    s, c = timed(lambda: ms_flip_seg(net, next(it), demo.eval_scales, demo.patch_size), a.n_demo - 1)
    rows.append(('ms+flip seg, demo net', f'128x128, scales {demo.eval_scales}', s, c))
    del net

    if a.vitb:
        net = CPDGLNet(voc).eval()
        x = image_tensor(img)
        s, c = timed(lambda: ms_flip_seg(net, x, voc.eval_scales, voc.patch_size), warmup=False)
        rows.append(('ms+flip seg, ViT-B/16', f'500x375, scales {voc.eval_scales}', s, c))

    print(f"torch {torch.__version__}, {torch.get_num_threads()} torch threads, {os.cpu_count()} CPUs, device cpu, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'what':<28}{'input':<40}{'s/image':>9}{'images/s':>10}{'CPU s/image':>13}")
    for w, i, s, c in rows: print(f"{w:<28}{i:<40}{s:>9.3f}{1 / s:>10.3f}{c:>13.3f}")


if __name__ == '__main__': main()
