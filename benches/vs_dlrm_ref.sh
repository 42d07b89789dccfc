#!/usr/bin/env bash
# Training speed against the PyTorch reference, measured in one run on this machine.
#
#   benches/vs_dlrm_ref.sh [BATCH] [EPOCHS] [ROUNDS]      (defaults: 128 3 3)
#
# Splits the Criteo sample (../shared/datasets/criteo/kaggle-sample-train.txt: first 6,400 rows
# train, last 1,600 test) into a temporary directory, then, ROUNDS times, runs in turn
#   - memrec-tui --headless: the uncompressed baseline and bundled MEM-REC at the reference's
#     defaults (dim 16, one hash each into 16,384 token rows and 16,384 weights, lr 0.1),
#   - ../shared/peer/dlrm_ref.py in its `full` and `bundled` modes,
# all with 2 threads, the same batch size and epochs, and prints each run's training samples/s
# and the ratios ours / PyTorch. PyTorch's figure is the harmonic mean of its per-epoch rates
# (the same samples over the same total time). Single runs of one epoch are short (50 steps at
# batch 128): compare several rounds. The Criteo rows stay in the temporary directory.
#
# Each program writes to a file that is parsed after it exits: a parser started beside it in a
# pipe spends its own start-up (tens of ms of a core) during the first steps of ours, which
# starts training within about 0.1 s, but not of PyTorch, which takes seconds to import.
#
# PYTHON names an interpreter with torch and scikit-learn (default: python3).
set -euo pipefail

batch=${1:-128}
epochs=${2:-3}
rounds=${3:-3}
for v in "$batch" "$epochs" "$rounds"; do
    if ! [[ $v =~ ^[1-9][0-9]*$ ]]; then
        echo "vs_dlrm_ref.sh: BATCH, EPOCHS and ROUNDS must be positive integers, got '$v'" >&2
        exit 2
    fi
done

root=$(cd "$(dirname "$0")/.." && pwd)
sample="$root/../shared/datasets/criteo/kaggle-sample-train.txt"
ref="$root/../shared/peer/dlrm_ref.py"
python=${PYTHON:-python3}
for f in "$sample" "$ref"; do
    if [[ ! -f $f ]]; then
        echo "vs_dlrm_ref.sh: $f not found (the shared data sits beside the repository)" >&2
        exit 2
    fi
done
if ! "$python" -c 'import torch, sklearn' 2>/dev/null; then
    echo "vs_dlrm_ref.sh: $python cannot import torch and sklearn; set PYTHON to an interpreter that can (pip install torch scikit-learn)" >&2
    exit 2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
head -n 6400 "$sample" > "$work/train.txt"
tail -n +6401 "$sample" | head -n 1600 > "$work/test.txt"

cargo build --release --quiet --manifest-path "$root/Cargo.toml"
bin="$root/target/release/memrec-tui"

ours() {
    "$bin" --preset kaggle --set "data.train=$work/train.txt" --set "data.test=$work/test.txt" \
        --set "train.batch=$batch" --set train.lr=0.1 --set model.dim=16 \
        --set memrec.layout=bundled --set memrec.k=1 --set memrec.kw=1 \
        --set memrec.token_rows=16384 --set memrec.weight_rows=16384 \
        --threads 2 --headless --epochs "$epochs" --json > "$work/ours.out"
    "$python" -c '
import json, sys
rate = {}
for line in sys.stdin:
    d = json.loads(line)
    if d.get("type") == "summary":
        rate[d["run"]] = d["samples_per_s"]
print(round(rate["baseline"]), round(rate["memrec"]))' < "$work/ours.out"
}

reference() {
    OMP_NUM_THREADS=2 "$python" "$ref" "$work/train.txt" "$work/test.txt" "$1" \
        --batch "$batch" --epochs "$epochs" --threads 2 > "$work/ref.out"
    "$python" -c '
import re, sys
rates = [float(m) for m in re.findall(r"train_samples_per_s=([0-9.]+)", sys.stdin.read())]
if not rates:
    sys.exit("dlrm_ref.py printed no train_samples_per_s")
print(round(len(rates) / sum(1 / r for r in rates)))' < "$work/ref.out"
}

echo "batch $batch, $epochs epoch(s), 2 threads; samples/s: ours baseline / PyTorch full, ours bundled MEM-REC / PyTorch bundled"
for r in $(seq "$rounds"); do
    o=$(ours)
    read -r base mem <<< "$o"
    full=$(reference full)
    bundled=$(reference bundled)
    awk -v r="$r" -v b="$base" -v f="$full" -v m="$mem" -v t="$bundled" 'BEGIN {
        printf "round %d: baseline %d / %d = %.2fx   bundled %d / %d = %.2fx\n", r, b, f, b / f, m, t, m / t }'
done
