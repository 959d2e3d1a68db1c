#!/usr/bin/env bash
# Runs a sweep on a real, single-node Slurm cluster started on localhost and checks that it
# gives the same bytes as the same sweep run locally.
#
#   scripts/slurm-test.sh            (as root; installs Debian's slurm-wlm and munge if missing)
#
# 1. Starts munged, slurmctld and slurmd (state, spool, logs and config in a temporary folder;
#    ports 16817/16818, so a Slurm already on the machine is left alone).
# 2. `outagesim cluster slurm ... --tasks 4 --submit`, one shard blocked so that its task fails:
#    the merge job is cancelled, and `outagesim merge` refuses, naming the missing shard and the
#    `sbatch --array=...` that reruns it.
# 3. Reruns only that task with the printed command, merges, and compares runs.csv and
#    points.csv with a local `outagesim sweep` of the same study: they must be byte-identical.
# 4. Stops only the daemons it started, by PID.
#
# Takes about 20 seconds once Slurm is installed. Exit status 0 when everything holds.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

say() { printf '== %s\n' "$*"; }
die() { printf 'slurm-test: FAILED: %s\n' "$*" >&2; exit 1; }

if [ "$(id -u)" -ne 0 ]; then
    die "needs root (to install Slurm and start its daemons); CI runs it as root"
fi

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    say "installing slurm-wlm and munge"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
fi

say "building outagesim"
cargo build --release --quiet
BIN="$ROOT/target/release/outagesim"

TMP=$(mktemp -d /tmp/outagesim-slurm.XXXXXX)
chmod 755 "$TMP" # munged (as the munge user) must reach its folder
PIDS=()
cleanup() {
    local status=$?
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
    done
    if [ "$status" -ne 0 ]; then
        echo "--- slurmctld.log (last lines)"; tail -n 20 "$TMP/slurmctld.log" 2>/dev/null || true
        echo "--- slurmd.log (last lines)"; tail -n 20 "$TMP/slurmd.log" 2>/dev/null || true
        for f in "$TMP"/study/cluster/logs/*.out; do
            [ -f "$f" ] && { echo "--- $f"; tail -n 20 "$f"; }
        done
        echo "(kept $TMP)"
    else
        rm -rf "$TMP"
    fi
    exit "$status"
}
trap cleanup EXIT

# --- munge ------------------------------------------------------------------------------
say "starting munged"
if [ ! -s /etc/munge/munge.key ]; then
    mungekey --create --keyfile=/etc/munge/munge.key
    chown munge:munge /etc/munge/munge.key
    chmod 600 /etc/munge/munge.key
fi
mkdir -p /run/munge "$TMP/munge"
chown munge:munge /run/munge "$TMP/munge"
chmod 755 /run/munge
SOCKET="$TMP/munge/munge.socket"
# Foreground, as the munge user; setpriv execs, so the PID is munged's own.
setpriv --reuid=munge --regid=munge --clear-groups \
    /usr/sbin/munged --foreground --socket="$SOCKET" \
    --pid-file="$TMP/munge/munged.pid" --seed-file="$TMP/munge/munged.seed" \
    --log-file="$TMP/munge/munged.log" >"$TMP/munge/munged.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do
    [ -S "$SOCKET" ] && break
    sleep 0.1
done
[ -S "$SOCKET" ] || die "munged did not start (see $TMP/munge/munged.log)"

# --- slurm ------------------------------------------------------------------------------
say "starting slurmctld and slurmd"
HOST=$(hostname -s 2>/dev/null || hostname)
NODE=$(slurmd -C | head -n 1)
mkdir -p "$TMP/state" "$TMP/spool"
export SLURM_CONF="$TMP/slurm.conf"
cat >"$SLURM_CONF" <<EOF
ClusterName=outagesim-test
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=16817
SlurmdPort=16818
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$SOCKET
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MailProg=/bin/true
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
StateSaveLocation=$TMP/state
SlurmdSpoolDir=$TMP/spool
SlurmctldPidFile=$TMP/slurmctld.pid
SlurmdPidFile=$TMP/slurmd.pid
SlurmctldLogFile=$TMP/slurmctld.log
SlurmdLogFile=$TMP/slurmd.log
$NODE NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
slurmctld -D -i -f "$SLURM_CONF" >"$TMP/slurmctld.out" 2>&1 &
PIDS+=($!)
slurmd -D -f "$SLURM_CONF" >"$TMP/slurmd.out" 2>&1 &
PIDS+=($!)
ready=""
for _ in $(seq 100); do
    if sinfo -h -o '%t' 2>/dev/null | grep -qE '^(idle|mix|alloc)'; then
        ready=yes
        break
    fi
    sleep 0.2
done
[ -n "$ready" ] || die "the node did not become idle: $(sinfo 2>&1 || true)"
sinfo

# Waits until none of the given jobs is queued or running.
wait_jobs() {
    for _ in $(seq 600); do
        if [ -z "$(squeue -h -j "$1" 2>/dev/null)" ]; then
            return 0
        fi
        sleep 0.2
    done
    die "jobs $1 still queued after 2 minutes: $(squeue -j "$1")"
}

# --- the study --------------------------------------------------------------------------
# M/M/c, 3 worker counts x 4 replications, 5 simulated minutes each: 12 runs on 4 shards.
STUDY=(scenarios/mmc.toml --param components.api.workers=9,10,12 --replications 4
    --set scenario.duration=5m)
OUT="$TMP/study"

say "local sweep (the reference)"
"$BIN" sweep "${STUDY[@]}" --out "$TMP/local" --quiet

say "submitting 4 array tasks and the merge job; shard 3/4 is blocked and will fail"
mkdir -p "$OUT"
# A file where shard 3's work folder goes: its task cannot create the folder and fails.
touch "$OUT/.shard-3-of-4.partial"
"$BIN" cluster slurm "${STUDY[@]}" --tasks 4 --time 5:00 --out "$OUT" --submit | tee "$TMP/submit.txt"
read -r ARRAY MERGE < <(sed -n 's/^submitted array job \([0-9]*\) .* merge job \([0-9]*\) .*/\1 \2/p' "$TMP/submit.txt")
[ -n "${ARRAY:-}" ] && [ -n "${MERGE:-}" ] || die "no job IDs in: $(cat "$TMP/submit.txt")"
wait_jobs "$ARRAY,$MERGE"
[ ! -e "$OUT/runs.csv" ] || die "the merge job ran although a task failed"
for s in 1 2 4; do
    [ -f "$OUT/shard-$s-of-4/runs.csv" ] || die "shard $s/4 is missing"
done

say "merge refuses the incomplete set"
set +e
"$BIN" merge "$OUT" 2>"$TMP/merge.err"
status=$?
set -e
cat "$TMP/merge.err"
[ "$status" -eq 2 ] || die "merge exited $status, expected 2"
grep -q "1 of 4 shards missing: 3/4" "$TMP/merge.err" || die "merge did not name shard 3/4"
RERUN=$(sed -n 's/^ *or, on Slurm: //p' "$TMP/merge.err")
[ -n "$RERUN" ] || die "merge printed no sbatch command"
case "$RERUN" in "sbatch --array=2 "*) ;; *) die "unexpected rerun command: $RERUN" ;; esac

say "rerunning only shard 3/4: $RERUN"
rm -f "$OUT/.shard-3-of-4.partial"
JOB=$(eval "${RERUN/sbatch /sbatch --parsable }")
wait_jobs "${JOB%%;*}"
[ -f "$OUT/shard-3-of-4/runs.csv" ] || die "the rerun did not write shard 3/4"

say "merging"
"$BIN" merge "$OUT"
for f in runs.csv points.csv; do
    cmp "$TMP/local/$f" "$OUT/$f" || die "$f differs from the local sweep"
done
echo "slurm-test: OK: 4 array tasks (one failed and rerun alone), merged runs.csv and points.csv byte-identical to the local sweep"
