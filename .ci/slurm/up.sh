#!/usr/bin/env bash
# .ci/slurm/up.sh: starts a private one-node Slurm cluster (munged, slurmctld, slurmd) for the tests
# and for developers, installing Debian's slurm-wlm and munge first when they are missing. Everything
# it starts or writes lives in $MEMREC_SLURM_STATE (default /tmp/memrec-slurm); it never touches the
# system's /etc/slurm, /etc/munge or a system munged/slurmd. .ci/slurm/down.sh undoes it.
#
# stdout carries only the `export ...` lines the caller needs (so `env=$(.ci/slurm/up.sh)` then
# `eval "$env"` works); progress and errors go to stderr. The same lines are in $MEMREC_SLURM_STATE/env.
#
# Usage: up.sh [--env] [--no-install] [--timeout SECONDS]
#   --env         print the export lines of the running cluster and exit (1 if it is not up)
#   --no-install  fail (exit 1) instead of running apt-get when Slurm or munge is missing
#   --timeout S   seconds to wait for each daemon to come up (default 60)
# Exit: 0 up, 1 runtime failure (install, a daemon not coming up), 2 bad usage.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=.ci/slurm/common.sh
. "$here/common.sh"

env_only=0 install=1 timeout=60
while [ $# -gt 0 ]; do
  case "$1" in
    --env) env_only=1 ;;
    --no-install) install=0 ;;
    --timeout)
      if [ $# -lt 2 ] || ! [[ "$2" =~ ^[0-9]+$ ]]; then
        slurm_log "--timeout needs a number of seconds"; exit 2
      fi
      timeout=$2; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) slurm_log "unknown argument '$1' (allowed: --env, --no-install, --timeout S, --help)"; exit 2 ;;
  esac
  shift
done
slurm_check_state_dir

# The node name slurmd registers under and slurmctld's host name. All traffic goes to 127.0.0.1, so
# the name need not resolve (containers often have a hostname that DNS does not know).
node=$(hostname -s 2>/dev/null || uname -n)
node=${node%%.*}

# True when our three daemons are alive and the node accepts jobs.
cluster_healthy() {
  [ -r "$SLURM_CONF_FILE" ] || return 1
  slurm_live_pid "$MUNGE_PID" munged >/dev/null || return 1
  slurm_live_pid "$CTLD_PID" slurmctld >/dev/null || return 1
  slurm_live_pid "$SLURMD_PID" slurmd >/dev/null || return 1
  node_ready
}

node_state() {
  SLURM_CONF=$SLURM_CONF_FILE timeout 10 sinfo -h -N -n "$node" -o '%T' 2>/dev/null | head -n1
}

# idle, or busy with jobs (a healthy cluster that is running a test's jobs is still up).
node_ready() {
  case "$(node_state)" in
    idle | mixed | allocated | completing) return 0 ;;
    *) return 1 ;;
  esac
}

if [ "$env_only" = 1 ]; then
  if cluster_healthy; then slurm_print_env; exit 0; fi
  slurm_log "the cluster in $SLURM_STATE_DIR is not up; run .ci/slurm/up.sh"
  exit 1
fi

# One up.sh at a time per state directory (two test binaries may race to start it).
mkdir -p "$(dirname "$SLURM_STATE_DIR")"
exec 9>"$SLURM_STATE_DIR.lock"
if ! flock -w "$((timeout * 4))" 9; then
  slurm_log "another up.sh holds $SLURM_STATE_DIR.lock"; exit 1
fi

# --- 1. packages ---------------------------------------------------------------------------------
need=(munged munge unmunge slurmctld slurmd sinfo sbatch squeue scontrol scancel)
missing=()
for cmd in "${need[@]}"; do command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$install" = 0 ]; then
    slurm_log "missing: ${missing[*]} (install the Debian packages slurm-wlm and munge)"; exit 1
  fi
  if [ "$(id -u)" != 0 ]; then
    slurm_log "missing: ${missing[*]}; run as root or: sudo apt-get install slurm-wlm munge"; exit 1
  fi
  slurm_log "installing slurm-wlm and munge with apt-get (missing: ${missing[*]})"
  # The packages' postinst scripts would start the system's munged/slurmd through invoke-rc.d; on a
  # machine without an init system that start fails and so would the install. A policy-rc.d that
  # answers 101 (what Debian's container images ship) makes them skip it; ours is removed after.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT # also when this script is interrupted
  fi
  # Another apt-get (another session, unattended upgrades) may hold dpkg's lock: wait for it.
  rc=0
  {
    apt-get -o DPkg::Lock::Timeout=300 update -q &&
      DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q \
        --no-install-recommends slurm-wlm munge
  } >"/tmp/memrec-slurm-apt.log" 2>&1 || rc=$?
  if trap -p EXIT | grep -q policy-rc.d; then rm -f /usr/sbin/policy-rc.d; trap - EXIT; fi
  if [ "$rc" != 0 ]; then
    tail -n 30 /tmp/memrec-slurm-apt.log >&2
    slurm_log "apt-get failed (exit $rc); full log in /tmp/memrec-slurm-apt.log"; exit 1
  fi
  for cmd in "${need[@]}"; do
    command -v "$cmd" >/dev/null 2>&1 || { slurm_log "'$cmd' still missing after apt-get"; exit 1; }
  done
fi

# --- 2. already up? --------------------------------------------------------------------------------
if cluster_healthy; then
  slurm_log "cluster already up ($SLURM_CONF_FILE)"
  slurm_print_env
  exit 0
fi

# Anything half-started (a machine stopped under it, a failed earlier run) is cleared first: a fresh
# start is quicker to reason about than repairing one daemon out of three.
if [ -e "$SLURM_STATE_DIR" ]; then
  slurm_log "clearing a stale cluster in $SLURM_STATE_DIR"
  MEMREC_SLURM_STATE=$SLURM_STATE_DIR "$here/down.sh" >&2
fi

t0=$(date +%s.%N)
fail() {
  slurm_log "$*"
  local f
  if [ -r "$SLURM_CONF_FILE" ] && slurm_live_pid "$CTLD_PID" slurmctld >/dev/null; then
    printf -- '--- sinfo / scontrol show node\n' >&2
    SLURM_CONF=$SLURM_CONF_FILE timeout 10 sinfo -N -l >&2 2>&1 || true
    SLURM_CONF=$SLURM_CONF_FILE timeout 10 scontrol show node "$node" >&2 2>&1 || true
  fi
  for f in "$MUNGE_LOG" "$CTLD_LOG" "$SLURMD_LOG"; do
    [ -r "$f" ] && { printf -- '--- last lines of %s\n' "$f" >&2; tail -n 25 "$f" >&2; }
  done
  slurm_log "stopping what was started; logs stay in $SLURM_STATE_DIR until .ci/slurm/down.sh"
  MEMREC_SLURM_STATE=$SLURM_STATE_DIR "$here/down.sh" --keep-state >&2 || true
  exit 1
}

# wait_for WHAT PIDFILE NAME CMD...: polls CMD every 0.2 s for up to $timeout seconds, and gives up
# early when the daemon NAME whose pid is in PIDFILE has exited (after 2 s, by when it has written
# its pid file), so that a daemon that cannot start fails in seconds rather than at the timeout.
wait_for() {
  local what=$1 pidfile=$2 name=$3 i
  shift 3
  for ((i = 0; i < timeout * 5; i++)); do
    "$@" && return 0
    if [ "$i" -ge 10 ] && ! slurm_live_pid "$pidfile" "$name" >/dev/null; then
      fail "$name exited while waiting for $what (see its log below)"
    fi
    sleep 0.2
  done
  fail "timed out after ${timeout}s waiting for $what"
}

# --- 3. layout -------------------------------------------------------------------------------------
# munged insists that every directory above its socket be executable by all, and that its key be
# readable by its user only: the state directory is 0755, the key 0400.
mkdir -p "$SLURM_STATE_DIR"
chmod 755 "$SLURM_STATE_DIR"
: >"$SLURM_MARKER"
mkdir -p "$MUNGE_DIR" "$SLURM_STATE_DIR"/{etc,run,log,ctld,spool}
chmod 755 "$MUNGE_DIR"
# Each daemon is started with MEMREC_SLURM_OWNER in its environment (never exported here: this
# script and down.sh must not carry the mark), which down.sh uses to find leftovers.
owner="MEMREC_SLURM_OWNER=$SLURM_STATE_DIR"

# --- 4. munged -------------------------------------------------------------------------------------
head -c 1024 /dev/urandom >"$MUNGE_DIR/munge.key"
chmod 400 "$MUNGE_DIR/munge.key"
# Daemons get /dev/null for stdin/stdout: one that inherits the caller's stdout keeps a
# `$(.ci/slurm/up.sh)` waiting forever. They must not inherit fd 9 either: its lock would outlive this
# script and make the next up.sh wait for the daemons to exit.
env "$owner" munged --key-file="$MUNGE_DIR/munge.key" --socket="$MUNGE_SOCKET" --pid-file="$MUNGE_PID" \
  --log-file="$MUNGE_LOG" --seed-file="$MUNGE_DIR/munged.seed" </dev/null >>"$MUNGE_LOG" 2>&1 9>&- ||
  fail "munged did not start"
munge_ok() { munge -S "$MUNGE_SOCKET" -n 2>/dev/null | unmunge -S "$MUNGE_SOCKET" >/dev/null 2>&1; }
wait_for "munged to answer on $MUNGE_SOCKET" "$MUNGE_PID" munged munge_ok

# --- 5. slurm.conf ---------------------------------------------------------------------------------
# The node's hardware as slurmd itself sees it, so slurmd registers without a mismatch. SLURM_CONF is
# cleared: a stale one in the caller's environment must not be read here.
hw=$(env -u SLURM_CONF slurmd -C 2>/dev/null | head -n1) || true
field() { printf '%s\n' "$hw" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
cpus=$(field CPUs) boards=$(field Boards) sockets=$(field SocketsPerBoard)
cores=$(field CoresPerSocket) threads=$(field ThreadsPerCore) mem=$(field RealMemory)
for v in "$cpus" "$boards" "$sockets" "$cores" "$threads" "$mem"; do
  [[ "$v" =~ ^[0-9]+$ ]] || fail "could not read the node's CPUs and memory from 'slurmd -C': '$hw'"
done
# A job without --mem gets an even share of the node's memory, so one job without --mem does not
# hold the whole node (the default, DefMemPerCPU=0, means "all of it" and runs tasks one by one).
def_mem=$((mem / cpus))

: >"$SLURM_STATE_DIR/etc/plugstack.conf"
cat >"$SLURM_CONF_FILE" <<EOF
# Generated by .ci/slurm/up.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ) for $node; rewritten at each fresh start.
ClusterName=memrec
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$SLURM_CTLD_PORT
SlurmdPort=$SLURM_SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCKET

# No cgroups (a container may have none it can write): processes are tracked through /proc.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobContainerType=job_container/none
SwitchType=switch/none
MpiDefault=none
PlugStackConfig=$SLURM_STATE_DIR/etc/plugstack.conf

# No accounting database: sacct has nothing to show; use squeue and scontrol show job.
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none

SchedulerType=sched/backfill
# Start jobs at once rather than batching submissions for 3 s and backfilling every 30 s: the
# smoke test's array + afterok job takes 2.7 s instead of 9.4 s.
SchedulerParameters=batch_sched_delay=0,bf_interval=1
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=$def_mem
ReturnToService=2
# Finished jobs stay visible to scontrol for an hour (tests poll them); cancelled ones die quickly.
MinJobAge=3600
# SIGTERM to SIGKILL: 5 s, stricter than Slurm's default 30. A cancelled task must record why
# (its .failed marker) within it, whatever it was doing (the latency probe stops between
# batches, training at its next step); the cancel test checks that.
KillWait=5
# The submitting shell's ulimits are not copied into jobs (the node is the same machine).
PropagateResourceLimits=NONE
MailProg=/bin/true

StateSaveLocation=$SLURM_STATE_DIR/ctld
SlurmdSpoolDir=$SLURM_STATE_DIR/spool
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$SLURMD_PID
SlurmctldLogFile=$CTLD_LOG
SlurmdLogFile=$SLURMD_LOG
SlurmctldDebug=info
SlurmdDebug=info

NodeName=$node NodeAddr=127.0.0.1 NodeHostname=$node CPUs=$cpus Boards=$boards SocketsPerBoard=$sockets CoresPerSocket=$cores ThreadsPerCore=$threads RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
slurm_print_env >"$SLURM_ENV_FILE"
export SLURM_CONF=$SLURM_CONF_FILE

# --- 6. slurmctld, then slurmd ---------------------------------------------------------------------
# -c: no job state from an earlier cluster (the state directory is fresh anyway).
env "$owner" slurmctld -c -f "$SLURM_CONF_FILE" </dev/null >>"$CTLD_LOG" 2>&1 9>&- || fail "slurmctld did not start"
ctld_up() { timeout 10 scontrol ping 2>/dev/null | grep -q 'is UP'; }
wait_for "slurmctld to answer 'scontrol ping'" "$CTLD_PID" slurmctld ctld_up

env "$owner" slurmd -f "$SLURM_CONF_FILE" -N "$node" </dev/null >>"$SLURMD_LOG" 2>&1 9>&- || fail "slurmd did not start"
wait_for "node $node to be idle in sinfo" "$SLURMD_PID" slurmd node_ready

t1=$(date +%s.%N)
slurm_log "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "cluster up in %.1fs", b - a }'):" \
  "node $node, $cpus CPUs, $mem MB, partition debug; $SLURM_CONF_FILE"
slurm_print_env
