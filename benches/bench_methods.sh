#!/bin/sh
# Lookup latency of each compression method on the kaggle preset (the default MEM-REC, then each
# method near 4 MiB of tables), against its own floor (`bench`'s `floor_ns_per_token`: the same
# table reads with every index computed beforehand) and the uncompressed gather at full size: one
# `memrec-tui bench --json` line per configuration. README.md's lookup figures come from it.
#
# usage: benches/bench_methods.sh [BINARY] > bench.jsonl   (default: target/release/memrec-tui)
set -eu
BIN=${1:-target/release/memrec-tui}
for knobs in \
    "--set memrec.k=2 --set memrec.token_rows=16384" \
    "--set memrec.k=4 --set memrec.token_rows=65536" \
    "--set memrec.method=robe_z --set memrec.robe_size=1048576" \
    "--set memrec.method=hashing --set memrec.hash_rows=4096" \
    "--set memrec.method=qr --set memrec.qr_collisions=2048"; do
    # shellcheck disable=SC2086
    "$BIN" bench --preset kaggle $knobs --json
done
