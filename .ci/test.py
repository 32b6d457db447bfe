"""Run every notebook in nbs/ as a test with `nbdev_test` (one process per notebook) and print a count.

Usage: python .ci/test.py [--flags "slow cuda"] [--n_workers N] [NOTEBOOK ...]
The last line printed is `N passed, N failed`; the exit status is 1 if any notebook failed.
"""
import argparse, os, shutil, subprocess, sys, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

def run_one(nb, flags):
    "Run one notebook with nbdev_test; return (notebook, passed, seconds, output)."
    exe = shutil.which('nbdev_test', path=str(Path(sys.executable).parent)) or 'nbdev_test'
    cmd = [exe, '--path', str(nb), '--do_print'] + (['--flags', flags] if flags else [])
    t0 = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True)
    out = r.stdout + r.stderr
    return nb, r.returncode == 0 and 'nbdev Tests Failed' not in out, time.time() - t0, out

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('notebooks', nargs='*', help='notebooks to run (default: every notebook under nbs/)')
    p.add_argument('--flags', default='', help='test flags to run too, e.g. "slow" or "cuda"')
    p.add_argument('--n_workers', type=int, default=min(2, os.cpu_count() or 1))
    a = p.parse_args()
    root = Path(__file__).resolve().parent.parent
    nbs = [Path(n).resolve() for n in a.notebooks] or sorted(
        n for n in (root/'nbs').rglob('*.ipynb') if not n.name.startswith('_') and '.ipynb_checkpoints' not in n.parts)
    os.chdir(root)
    os.environ.setdefault('HF_HUB_OFFLINE', '1')
    passed = failed = 0
    with ThreadPoolExecutor(a.n_workers) as ex:
        for nb, ok, secs, out in ex.map(lambda n: run_one(n, a.flags), nbs):
            print(f"{'PASS' if ok else 'FAIL'} {os.path.relpath(nb, root)} ({secs:.0f} s)", flush=True)
            if ok: passed += 1
            else: failed += 1; print(out[-6000:], flush=True)
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed or not passed else 0)

if __name__ == '__main__': main()
