#!/usr/bin/env bash
# M/M/10 (lambda 8, mu 1) in outagesim and in SimPy 4, side by side: user requests per CPU
# second, RUNS alternating rounds, and the ratio of each round.
#
#   scripts/simpy/bench.sh [N] [RUNS]      N requests per run (default 1000000), RUNS rounds (3)
#
# Environment: OUTAGESIM, the binary (default: target/release/outagesim, built if missing).
# Makes scripts/simpy/.venv with simpy==4.* from PyPI on first use.
#
# outagesim runs scenarios/mmc.toml for N/8 simulated seconds (about N requests) and its CPU
# time is the whole process's, user + system (start-up, reading the scenario and writing every
# output file included); SimPy's is time.process_time() around building and running the model
# in scripts/simpy/mmc.py (the interpreter's start-up and imports excluded).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
n=${1:-1000000}
runs=${2:-3}
case "$n$runs" in *[!0-9]*) echo "usage: $0 [N] [RUNS] (whole numbers)" >&2; exit 2;; esac
venv="$here/.venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet 'simpy==4.*'
fi
py="$venv/bin/python"
bin=${OUTAGESIM:-"${CARGO_TARGET_DIR:-$root/target}/release/outagesim"}
if [ ! -x "$bin" ]; then
  (cd "$root" && cargo build --release --quiet)
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
secs=$((n / 8))
echo "M/M/10, lambda 8, mu 1: $n requests per run, simpy $("$py" -c 'import simpy; print(simpy.__version__)'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-6s %14s %14s %8s\n' round "outagesim r/s" "simpy r/s" ratio
for r in $(seq 1 "$runs"); do
  # outagesim: CPU of the whole process (user + system, from the kernel's child rusage).
  o=$("$py" - "$bin" "$root/scenarios/mmc.toml" "${secs}s" "$out/run" <<'PY'
import json, resource, subprocess, sys
b, scenario, secs, out = sys.argv[1:]
subprocess.run([b, "run", scenario, "--threads", "1", "--no-plots", "--quiet",
                "--set", f"scenario.duration={secs}", "--out", out],
               check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
req = json.load(open(f"{out}/summary.json"))["clients"]["users"]["requests"]
print(f"{req / (ru.ru_utime + ru.ru_stime):.0f}")
PY
)
  s=$("$py" "$here/mmc.py" "$n" "$r" | sed 's/.*requests_per_cpu_s=\([0-9]*\).*/\1/')
  printf '%-6s %14s %14s %7.1fx\n' "$r" "$o" "$s" "$(echo "$o / $s" | bc -l)"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
