#!/bin/sh
# Every figure README.md and presets/*.ron quote from this program, measured again:
#   1. the oracle AUC of each preset's synthetic stream at its seed (presets/kaggle.ron,
#      presets/tiny.ron, the README screen's oracle line);
#   2. the README screen (`--preset kaggle --headless --steps 1500 --screen 120x40`);
#   3. each method's lookup latency against its own floor and the uncompressed gather
#      (benches/bench_methods.sh);
#   4. the design review behind the README's recommended sweep budget: the 4 MiB review of
#      issue 20 to 16.4 M samples (128,000 steps), ΔAUC and the front at 256k ... 16M samples, the
#      baseline's AUC gain per doubling, the summary's warning, and the paired gap between the
#      two best points at each checkpoint (its summary.md); about an hour on 2 cores. SKIP_SWEEP=1 leaves it out.
# Speed figures of the training loop come from `cargo bench --bench train` and
# benches/vs_dlrm_ref.sh, as README.md says where it quotes them.
#
# usage: benches/readme_figures.sh [BINARY] [OUT_DIR]   (defaults: target/release/memrec-tui, readme-figures)
set -eu
BIN=${1:-target/release/memrec-tui}
OUT=${2:-readme-figures}
mkdir -p "$OUT"
HERE=$(dirname "$0")

echo "== 1. oracle AUC of each preset's synthetic test rows"
for p in kaggle tiny terabyte; do
    printf '%s: ' "$p"
    "$BIN" --preset "$p" --headless --steps 1 --json | grep -o '"oracle_auc":[0-9.]*' | head -1
done

echo "== 2. the README screen"
"$BIN" --preset kaggle --headless --steps 1500 --screen 120x40 > "$OUT/screen.txt"
cat "$OUT/screen.txt"

echo "== 3. lookup latency per method (one bench --json line each)"
"$HERE/bench_methods.sh" "$BIN" | tee "$OUT/bench.jsonl"

if [ "${SKIP_SWEEP:-0}" != 1 ]; then
    echo "== 4. the 4 MiB design review to 16.4 M samples"
    "$BIN" sweep --preset kaggle --steps 128000 --checkpoints 256k,512k,1M,2M,4M,8M,16M \
        --max-bytes 4MiB --out "$OUT/review-4mib" \
        --grid "memrec.k=4;memrec.token_rows=61440 | memrec.method=robe_z;memrec.robe_size=1048576 \
| memrec.method=hashing;memrec.hash_rows=4096 | memrec.method=qr;memrec.qr_collisions=2048"
    sed -n '/## Has the baseline converged/,/## The front at each checkpoint/p' "$OUT/review-4mib/summary.md"
    sed -n '/## The best point against the next, paired/,/## Every point/p' "$OUT/review-4mib/summary.md"
fi
