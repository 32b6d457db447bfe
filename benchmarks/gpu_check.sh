#!/usr/bin/env bash
# GPU check of cpdgl, for a machine with CUDA GPUs and no network access: about 5-8 minutes on one GPU.
#
#   benchmarks/gpu_check.sh [--wheels DIR] [--venv DIR] [--iters N] [--skip STAGE ...] [--dry-run]
#
# 1. environment  the current Python (default), or a new virtual environment in --venv (default $TMPDIR/cpdgl_gpu_venv) filled
#                 from the wheel folder --wheels without network (pip --no-index); see benchmarks/README.md for how
#                 to fill that folder with `pip download` on a networked machine of the same platform
# 2. tests        the `cuda`-flagged cells of the notebooks that have them (python .ci/test.py --flags cuda ...)
# 3. bench        bench_train.py at the VOC recipe shapes (ViT-B/16, crop 448, batch 4, 4 CAM scales, bank 4608)
#                 in bf16 on synthetic images: seconds per step and peak GPU memory
# 4. ddp          one training step of 2 processes with NCCL when there are 2 GPUs; with one GPU NCCL cannot run
#                 two ranks on it, so the 2-process step runs with gloo on CPU processes and one NCCL-free step
#                 runs on the GPU instead (the summary says which)
# The output ends with a summary: one line per stage (PASS / FAIL / SKIP) and the measured numbers.
# --skip takes stage names (tests bench ddp); --dry-run prints the commands without running them (works without a GPU).
# Exit status: 0 every stage run passed, 1 a stage failed, 2 bad arguments or no GPU.
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WHEELS="" VENV="${TMPDIR:-/tmp}/cpdgl_gpu_venv" ITERS=4 DRY=0 SKIP=""
usage() { sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
die() { echo "gpu_check: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --wheels) [ $# -ge 2 ] || die "--wheels needs a folder"; WHEELS="$2"; shift 2 ;;
    --venv) [ $# -ge 2 ] || die "--venv needs a folder"; VENV="$2"; shift 2 ;;
    --iters) [ $# -ge 2 ] && [[ "$2" =~ ^[1-9][0-9]*$ ]] || die "--iters needs a positive integer, e.g. --iters 4"; ITERS="$2"; shift 2 ;;
    --skip) shift; while [ $# -gt 0 ] && [[ "$1" != --* ]]; do
              case "$1" in tests|bench|ddp) SKIP="$SKIP $1" ;; *) die "--skip: unknown stage '$1' (stages: tests bench ddp)" ;; esac; shift; done ;;
    --dry-run) DRY=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
[ -z "$WHEELS" ] || [ -d "$WHEELS" ] || die "--wheels '$WHEELS' is not a folder; fill it with pip download (benchmarks/README.md)"
cd "$ROOT"
export HF_HUB_OFFLINE=1 PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/cpdgl_gpu_check.XXXXXX")"
LOG="$WORK/log"; : > "$LOG"
declare -a RESULTS NOTES
run() {  # run NAME TIMEOUT CMD...: run a stage under a time limit, record PASS/FAIL
  local name="$1" limit="$2"; shift 2
  echo "== $name: $*"
  if [ "$DRY" = 1 ]; then RESULTS+=("$name DRY (not run)"); return 0; fi
  local t0=$SECONDS
  timeout "$limit" "$@" 2>&1 | tee "$WORK/$name.out"
  local rc=${PIPESTATUS[0]}
  local st=PASS; [ "$rc" = 0 ] || st="FAIL (exit $rc$([ "$rc" = 124 ] && echo ", over ${limit}s"))"
  RESULTS+=("$name $st, $((SECONDS - t0)) s")
  [ "$rc" = 0 ]
}
skipped() { [[ " $SKIP " == *" $1 "* ]] && RESULTS+=("$1 SKIP (--skip)"); }

# 1. environment
PY=python
if [ -n "$WHEELS" ]; then
  echo "== environment: $VENV from $WHEELS (no network)"
  if [ "$DRY" = 0 ]; then
    python -m venv "$VENV" && "$VENV/bin/pip" install -q --no-index --find-links "$WHEELS" -e "$ROOT" nbdev \
      || { echo "gpu_check: installing from $WHEELS failed: a wheel is missing there (see benchmarks/README.md)"; exit 1; }
  fi
  PY="$VENV/bin/python"; export PATH="$VENV/bin:$PATH"
fi
if [ "$DRY" = 0 ]; then
  NGPU=$("$PY" -c "import torch; print(torch.cuda.device_count() if torch.cuda.is_available() else 0)" 2>>"$LOG") \
    || die "cannot import torch with $PY (use --wheels, or activate the environment of cpdgl)"
  [ "$NGPU" -gt 0 ] || die "no CUDA GPU visible to torch ($("$PY" -c "import torch; print('torch', torch.__version__, 'CUDA build', torch.version.cuda)")); run this on a GPU machine, or --dry-run"
  GPU="$("$PY" -c "import torch; p = torch.cuda.get_device_properties(0); print(f'{p.name}, {p.total_memory / 2**30:.0f} GiB')") x $NGPU"
else NGPU=1 GPU="(dry run)"; fi
echo "== python $PY, GPU: $GPU, work folder $WORK"

# 2. the cuda-flagged notebook tests
if ! skipped tests; then
  NBS=$(grep -l '"#| cuda' nbs/*.ipynb | tr '\n' ' ')
  run tests 300 "$PY" .ci/test.py --flags cuda $NBS
fi

# 3. the VOC recipe shapes in bf16 (synthetic images; no hub weights needed: pretrained=False)
if ! skipped bench; then
  run bench 240 "$PY" benchmarks/bench_train.py --preset voc --mp bf16 --iters "$ITERS" --warmup 2 --root "$WORK/synth" \
      --set dataset=synthetic num_classes=6 pretrained=False num_workers=4
  if [ -f "$WORK/bench.out" ]; then
    NOTES+=("bench: $(grep -E '^step ' "$WORK/bench.out" | tail -1 | sed 's/  */ /g')")
    NOTES+=("bench: $(grep -E '^peak GPU memory' "$WORK/bench.out" | tail -1)")
  fi
fi

# 4. one distributed step of two processes
if ! skipped ddp; then
  DATA="$WORK/ddp_data"; mkdir -p "$DATA"
  TRAIN=(-m torch.distributed.run --standalone --nproc_per_node 2 -m cpdgl.cli train --preset demo --out "$WORK/ddp"
         --max_iters 1 --val_every_frac 1 --num_workers 0 --data_root "$DATA/synthetic")
  [ "$DRY" = 1 ] || "$PY" -c "from cpdgl.data.synthetic import make_synthetic_voc; make_synthetic_voc('$DATA/synthetic', n_train=64, n_val=8)" >>"$LOG" 2>&1
  if [ "$NGPU" -ge 2 ]; then
    run ddp 180 env CUDA_VISIBLE_DEVICES=0,1 "$PY" "${TRAIN[@]}" && NOTES+=("ddp: 2 processes, NCCL, 2 GPUs")
  else
    NOTES+=("ddp: one GPU: NCCL cannot run two ranks on one device; 2 processes with gloo on CPU + 1 process on the GPU")
    run ddp 180 env CUDA_VISIBLE_DEVICES= "$PY" "${TRAIN[@]}"
    run ddp_gpu1 120 "$PY" -m cpdgl.cli train --preset demo --out "$WORK/gpu1" --max_iters 1 --val_every_frac 1 \
        --num_workers 0 --data_root "$DATA/synthetic" --device cuda:0
  fi
fi

echo
echo "==================== gpu_check summary ===================="
echo "machine: $GPU; python $("$PY" -c 'import sys, torch; print(sys.version.split()[0], "torch", torch.__version__)' 2>/dev/null || echo '?')"
for r in "${RESULTS[@]}"; do echo "  $r"; done
for n in "${NOTES[@]+"${NOTES[@]}"}"; do echo "  $n"; done
if [ "$DRY" = 1 ]; then rm -r "$WORK"; else echo "outputs in $WORK"; fi
FAILED=$(printf '%s\n' "${RESULTS[@]}" | grep -c ' FAIL')
echo "result: $([ "$FAILED" = 0 ] && echo OK || echo "$FAILED stage(s) failed")"
[ "$FAILED" = 0 ]
