#!/usr/bin/env bash
# bkdm on a GPU, in one command: the vmapped relic benchmark with 10^5 points per system, the local
# multi-device comparison (GSPMD / shard_map / one process per GPU) over the visible GPUs, and a
# sharded `bkdm scan` with an empty and a warm cache. Figures go to benchmarks/gpu-results/<UTC date>/
# (markdown tables + JSON + nvidia-smi), to be copied into benchmarks/RESULTS.md.
#
#     bash benchmarks/gpu.sh                 # needs jax with CUDA (pip install -U "jax[cuda12]")
#     PYTHON=.venv/bin/python POINTS=100000 SCAN_POINTS=10000 bash benchmarks/gpu.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
POINTS=${POINTS:-100000}
SCAN_POINTS=${SCAN_POINTS:-10000}
OUT=${OUT:-benchmarks/gpu-results/$(date -u +%Y-%m-%dT%H%MZ)}
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
unset JAX_COMPILATION_CACHE_DIR
export BKDM_CACHE_DIR="$OUT/cache"      # a new, empty cache: first runs are cold

"$PY" - <<'PY' | tee "$OUT/devices.txt"
import jax
devices = jax.devices()
print("backend", jax.default_backend(), "devices", len(devices), [d.device_kind for d in devices])
assert jax.default_backend() == "gpu", "no GPU visible to JAX: install jax[cuda12] and check nvidia-smi"
PY
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1 || true
NGPU=$("$PY" -c "import jax; print(jax.local_device_count())")

echo "== relic: vmapped batch of $POINTS points per system (and single point, jacfwd, compile)"
"$PY" benchmarks/relic.py --points "$POINTS" --no-reference --json "$OUT/relic.json" | tee "$OUT/relic.md"

echo "== local multi-device: $NGPU GPU(s), $POINTS points of the dark-photon relic"
for case in dark-photon alp resonant-alp; do
  "$PY" benchmarks/sharding.py --platform cuda --devices "$NGPU" --points "$POINTS" --case "$case" \
      --json "$OUT/sharding-$case.json" | tee "$OUT/sharding-$case.md"
done

echo "== bkdm scan (sharded over the $NGPU local GPU(s)): $SCAN_POINTS points, empty then warm cache"
for fit in alp-freeze-in dark-photon resonant-alp; do
  for run in cold warm; do
    rm -rf "$OUT/scan-$fit"
    start=$(date +%s.%N)
    "$PY" -m bkdm.cli scan "$fit" --points "$SCAN_POINTS" --out "$OUT/scan-$fit" > "$OUT/scan-$fit-$run.log" 2>&1
    end=$(date +%s.%N)
    echo "| $fit | $SCAN_POINTS | $run | $(awk "BEGIN {printf \"%.1f\", $end - $start}") s |" | tee -a "$OUT/scan.md"
  done
done
echo "figures in $OUT"
