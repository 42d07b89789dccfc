#!/usr/bin/env bash
# benches/slurm_vs_local.sh: trains one sweep point through Slurm and the same point locally, with
# the same threads, and prints the ratio of their training throughputs (slurm / local; the target
# is >= 0.95). Both are the same command, `memrec-tui sweep run-point DIR --index 0`: once as the
# array task of `sweep --slurm`, once run here by hand on a copy of the plan and its baseline.
# Each side's figure is the engine's own samples/s of the run (steps only), and its wall time;
# the runs alternate (Slurm, local, Slurm, ...) so that a machine shared with other work loads
# both sides alike, and the medians are compared.
#
# Needs a Slurm cluster (`slurm_env=$(.ci/slurm/up.sh) && eval "$slurm_env"` starts one here).
#
# Usage: benches/slurm_vs_local.sh
#   env: BIN (default target/release/memrec-tui, built if missing), PRESET (tiny), STEPS (3000),
#        THREADS (1), REPEAT (3), GRID (memrec.k=2)
# Exit: 0 measured (whatever the ratio), 1 a run failed, 2 no Slurm.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-target/release/memrec-tui}
PRESET=${PRESET:-tiny}
STEPS=${STEPS:-3000}
THREADS=${THREADS:-1}
REPEAT=${REPEAT:-3}
GRID=${GRID:-memrec.k=2}

if ! command -v sbatch >/dev/null || [ -z "${SLURM_CONF:-}" ]; then
  echo "slurm_vs_local: needs Slurm (sbatch and SLURM_CONF); start one with" \
    "'slurm_env=\$(.ci/slurm/up.sh) && eval \"\$slurm_env\"'" >&2
  exit 2
fi
if [ ! -x "$BIN" ]; then
  echo "slurm_vs_local: building $BIN" >&2
  cargo build --release --quiet
fi
BIN=$(realpath "$BIN")

work=$(mktemp -d "${TMPDIR:-/tmp}/memrec-slurm-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
args=(sweep --preset "$PRESET" --steps "$STEPS" --grid "$GRID")

# A record's field (samples_per_s, seconds) from a point file.
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["record"][sys.argv[2]])' "$1" "$2"; }

slurm_sps=() local_sps=() slurm_s=() local_s=()
for ((r = 1; r <= REPEAT; r++)); do
  s=$work/slurm$r l=$work/local$r
  # Through Slurm: the baseline job, then the point's array task after it.
  "$BIN" "${args[@]}" --out "$s" --slurm --time 60 --cpus-per-task "$THREADS" >/dev/null 2>&1
  for ((i = 0; i < 3600; i++)); do
    [ -s "$s/points/0000.json" ] && break
    if [ -e "$s/points/0000.failed" ] || [ -e "$s/points/baseline.failed" ]; then
      echo "slurm_vs_local: the Slurm run failed:" >&2
      cat "$s"/points/*.failed "$s"/slurm/logs/* >&2 || true
      exit 1
    fi
    sleep 0.5
  done
  [ -s "$s/points/0000.json" ] || { echo "slurm_vs_local: timed out" >&2; exit 1; }
  # Locally: the same plan (same hash), the same baseline, the same command by hand.
  "$BIN" "${args[@]}" --out "$l" --slurm --dry-run --time 60 --cpus-per-task "$THREADS" >/dev/null 2>&1
  cp "$s/points/baseline.json" "$l/points/" && cp "$s/baseline.predictions" "$l/"
  "$BIN" sweep run-point "$l" --index 0 --threads "$THREADS" 2>/dev/null
  slurm_sps+=("$(field "$s/points/0000.json" samples_per_s)")
  local_sps+=("$(field "$l/points/0000.json" samples_per_s)")
  slurm_s+=("$(field "$s/points/0000.json" seconds)")
  local_s+=("$(field "$l/points/0000.json" seconds)")
  printf 'run %d: slurm %.0f samples/s (%.2f s), local %.0f samples/s (%.2f s)\n' "$r" \
    "${slurm_sps[-1]}" "${slurm_s[-1]}" "${local_sps[-1]}" "${local_s[-1]}"
done

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ms=$(median "${slurm_sps[@]}") ml=$(median "${local_sps[@]}")
ws=$(median "${slurm_s[@]}") wl=$(median "${local_s[@]}")
awk -v ms="$ms" -v ml="$ml" -v ws="$ws" -v wl="$wl" -v t="$THREADS" -v n="$REPEAT" -v st="$STEPS" -v p="$PRESET" 'BEGIN {
  printf "%s, %s steps, %s thread(s), median of %s: slurm %.0f samples/s, local %.0f samples/s\n", p, st, t, n, ms, ml
  printf "throughput ratio slurm/local: %.3f (target >= 0.95); wall-time ratio local/slurm: %.3f\n", ms / ml, wl / ws
}'
