#!/usr/bin/env bash
# .ci/slurm/down.sh: stops the cluster that .ci/slurm/up.sh started (its jobs, slurmd, slurmctld,
# munged) and removes its state directory. It signals only processes of that cluster: the pids in its
# pid files (checked against the program's name) and processes carrying its MEMREC_SLURM_OWNER mark;
# it never stops a system Slurm or munged. Running it when nothing is up is fine.
#
# Usage: down.sh [--keep-state]
#   --keep-state  stop the daemons but keep $MEMREC_SLURM_STATE (its logs) for a look
# Exit: 0 stopped (or nothing to stop), 2 bad usage.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=.ci/slurm/common.sh
. "$here/common.sh"

keep=0
for arg in "$@"; do
  case "$arg" in
    --keep-state) keep=1 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) slurm_log "unknown argument '$arg' (allowed: --keep-state, --help)"; exit 2 ;;
  esac
done
slurm_check_state_dir
unset MEMREC_SLURM_OWNER # this script is no daemon of the cluster (see slurm_owned_pids)

if [ -e "$SLURM_STATE_DIR" ] && [ ! -e "$SLURM_MARKER" ]; then
  slurm_log "$SLURM_STATE_DIR exists but was not made by up.sh (no $SLURM_MARKER): left alone"
  exit 2
fi

ctld=$(slurm_live_pid "$CTLD_PID" slurmctld || true)
slurmd=$(slurm_live_pid "$SLURMD_PID" slurmd || true)
munged=$(slurm_live_pid "$MUNGE_PID" munged || true)

# Jobs first, while slurmctld and slurmd can still end them cleanly (slurmstepd would otherwise keep
# a job's processes running after slurmd is gone).
if [ -n "$ctld" ] && [ -n "$slurmd" ] && [ -r "$SLURM_CONF_FILE" ]; then
  export SLURM_CONF=$SLURM_CONF_FILE
  if [ -n "$(timeout 10 squeue -h -o %i 2>/dev/null)" ]; then
    slurm_log "cancelling the cluster's jobs"
    timeout 10 scancel --user="$(id -un)" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      [ -z "$(timeout 10 squeue -h -o %i 2>/dev/null)" ] && break
      sleep 0.1
    done
  fi
fi

# slurmctld and slurmd together, then whatever of ours is left (a slurmstepd whose job would not end,
# slurmctld's slurmscriptd, a daemon whose pid file is gone), munged last: the others may still need
# it to authenticate while they shut down.
# shellcheck disable=SC2046,SC2086 # pids are digits only
slurm_stop_pids 10 $slurmd $ctld
# A slurmstepd left behind (its slurmd died) takes its job's processes along: they carry no mark of
# ours but are this cluster's jobs all the same.
leftover=()
for pid in $(slurm_owned_pids); do
  [ "$pid" = "$munged" ] && continue
  slurm_alive "$pid" || continue
  leftover+=("$pid")
  slurm_log "stopping leftover $(cat "/proc/$pid/comm" 2>/dev/null || echo '?') (pid $pid)"
done
if [ ${#leftover[@]} -gt 0 ]; then
  jobs_procs=$(slurm_descendants "${leftover[@]}" | tr '\n' ' ')
  [ -n "$jobs_procs" ] && slurm_log "and the processes of its jobs: $jobs_procs"
  # shellcheck disable=SC2086 # pids are digits only
  slurm_stop_pids 2 $jobs_procs "${leftover[@]}"
fi
# shellcheck disable=SC2086
slurm_stop_pids 10 $munged
# shellcheck disable=SC2046
slurm_stop_pids 5 $(slurm_owned_pids)

if [ ! -e "$SLURM_STATE_DIR" ]; then
  slurm_log "nothing to stop in $SLURM_STATE_DIR"
elif [ "$keep" = 0 ]; then
  rm -rf "$SLURM_STATE_DIR"
  slurm_log "stopped; removed $SLURM_STATE_DIR"
else
  slurm_log "stopped; logs kept in $SLURM_STATE_DIR/log and $MUNGE_DIR"
fi
