#!/usr/bin/env bash
# One GPU check, within 8 minutes on one GPU: install, the CUDA tests, `gankit bench speed` in fp32
# and bf16, and a short dcgan-mnist run whose sample grid is kept. Everything it prints is also
# written to OUT_DIR/log.txt; the grid lands in OUT_DIR/dcgan-mnist-grid.png.
#
#   benchmarks/gpu_check.sh [OUT_DIR]                 # on the GPU machine (OUT_DIR default: gpu_check)
#   benchmarks/gpu_check.sh --dry-run [OUT_DIR]       # print the commands only
#   benchmarks/gpu_check.sh --device cpu [OUT_DIR]    # the same steps on the CPU, made small (checks the script)
#   --no-install: use $PYTHON (default python3) as it is, with this checkout on PYTHONPATH
set -euo pipefail
cd "$(dirname "$0")/.."

DEVICE=cuda DRY=0 OUT=gpu_check INSTALL=1
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY=1 ;;
    --no-install) INSTALL=0 ;;
    --device) DEVICE="$2"; shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    -*) echo "gpu_check.sh: unknown option $1" >&2; exit 2 ;;
    *) OUT="$1" ;;
  esac
  shift
done
case "$DEVICE" in cuda|cpu) ;; *) echo "gpu_check.sh: --device must be cuda or cpu, not $DEVICE" >&2; exit 2 ;; esac

if [ "$DEVICE" = cuda ]; then  # sizes that fit 8 minutes on one GPU; the steps' time limits add up to 480 s
  ITERS=20 REPEATS=5 STEPS=1000 PRESETS=dcgan-mnist,cgan-mnist,wgangp-mnist SLOW=1
else                            # the CPU variant only shows that every step runs: small work, long limits
  ITERS=2 REPEATS=1 STEPS=20 PRESETS=dcgan-mnist SLOW=10
fi
mkdir -p "$OUT"
LOG="$OUT/log.txt"
: > "$LOG"
START=$SECONDS

step() {  # step LIMIT_SECONDS COMMAND...: echo it, run it under a time limit, log its output
  local limit=$(( $1 * SLOW )); shift
  echo "+ $*" | tee -a "$LOG"
  [ "$DRY" = 1 ] && return 0
  local rc=0
  timeout "$limit" "$@" 2>&1 | tee -a "$LOG" || rc=${PIPESTATUS[0]}
  echo "  (exit $rc after $((SECONDS - START)) s in all)" | tee -a "$LOG"
  return 0  # a failed step is logged; the later steps still run
}

# 1. install. The GPU machine has no internet: when its Python already has a CUDA torch, install the
# project into it without dependencies; otherwise `make install` (a fresh .venv, needs a registry).
PY="${PYTHON:-python3}"
if [ "$INSTALL" = 0 ]; then
  export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
elif [ "$DRY" = 0 ] && "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() or '$DEVICE' == 'cpu' else 1)" 2>/dev/null; then
  step 120 "$PY" -m pip install -q --no-deps --no-build-isolation -e .
else
  step 120 make install
  PY=.venv/bin/python
fi
step 30 "$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')"

# 2. the tests marked for CUDA (they skip without a GPU)
step 90 "$PY" -m pytest -q -m cuda tests/

# 3. gankit's step against a plain PyTorch loop, fp32 then bf16 autocast
for precision in fp32 bf16; do
  step 75 "$PY" -m gankit bench speed --device "$DEVICE" --precision "$precision" --presets "$PRESETS" \
    --iters "$ITERS" --repeats "$REPEATS"
done

# 4. a short dcgan-mnist run; its last grid is kept
RUN="$OUT/dcgan-mnist-run"
rm -rf "$RUN"
step 90 "$PY" -m gankit train dcgan-mnist --steps "$STEPS" --seed 0 --device "$DEVICE" --quiet --out "$RUN" \
  train.sample_every=$((STEPS / 2)) train.checkpoint_every="$STEPS"
if [ "$DRY" = 0 ]; then
  GRID=$(ls "$RUN"/samples/*.png 2>/dev/null | tail -1 || true)
  if [ -n "$GRID" ]; then
    cp "$GRID" "$OUT/dcgan-mnist-grid.png"
    echo "grid: $OUT/dcgan-mnist-grid.png (from $GRID)" | tee -a "$LOG"
  else
    echo "grid: none written (see the train step above)" | tee -a "$LOG"
  fi
  tail -n 1 "$RUN/metrics.jsonl" 2>/dev/null | tee -a "$LOG" || true
fi
echo "gpu_check: $((SECONDS - START)) s in all; log in $LOG" | tee -a "$LOG"
