#!/bin/sh
# Seeds the fuzz corpora with the shipped scenarios (run from anywhere).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
for target in load run; do
    mkdir -p "$root/fuzz/corpus/$target"
    for f in "$root"/scenarios/*.toml; do
        cp "$f" "$root/fuzz/corpus/$target/$(basename "$f")"
    done
done
echo "seeded $root/fuzz/corpus/{load,run} from scenarios/"
