#!/usr/bin/env bash
# .ci/slurm/smoke.sh: checks that the cluster from .ci/slurm/up.sh runs what the Slurm sweep needs: a
# job array, a job that depends on it (afterok), and scancel of one array task (JOB_I) leaving the
# other tasks alone. It submits real jobs and waits for them by polling scontrol (no accounting, so
# no sacct). It starts no cluster; run .ci/slurm/up.sh first. Its files go to a temporary directory
# that is removed at the end (kept when a check fails, and named then).
#
# Usage: smoke.sh [--timeout SECONDS]   (seconds to wait for each group of jobs, default 120)
# Exit: 0 all checks passed, 1 a check failed or the cluster is not up, 2 bad usage.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=.ci/slurm/common.sh
. "$here/common.sh"

timeout=120
while [ $# -gt 0 ]; do
  case "$1" in
    --timeout)
      if [ $# -lt 2 ] || ! [[ "$2" =~ ^[0-9]+$ ]]; then
        slurm_log "--timeout needs a number of seconds"; exit 2
      fi
      timeout=$2; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) slurm_log "unknown argument '$1' (allowed: --timeout S, --help)"; exit 2 ;;
  esac
  shift
done

# The cluster's own configuration, whatever the caller's SLURM_CONF says.
env_text=$("$here/up.sh" --env) || exit 1
eval "$env_text"

work=$(mktemp -d "${TMPDIR:-/tmp}/memrec-slurm-smoke.XXXXXX")
passed=0 failed=0
check() { # check NAME COMMAND...: runs COMMAND, counts and reports the result
  local name=$1
  shift
  if "$@"; then
    passed=$((passed + 1)); printf 'ok   %s\n' "$name"
  else
    failed=$((failed + 1)); printf 'FAIL %s\n' "$name"
  fi
}

# "TASK STATE" lines for every record of JOB (one line per array task once the array is split; a
# pending array not yet split is one record whose ArrayTaskId is a range such as 0-2).
job_states() {
  scontrol -o show job "$1" 2>/dev/null |
    sed -n 's/.*ArrayTaskId=\([^ ]*\).*JobState=\([A-Z_]*\).*/\1 \2/p; t; s/.*JobState=\([A-Z_]*\).*/- \1/p'
}
state_of() { job_states "$1" | awk -v t="$2" '$1 == t { print $2 }'; }
is_terminal() {
  case "$1" in
    COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | PREEMPTED | BOOT_FAIL | DEADLINE) return 0 ;;
    *) return 1 ;;
  esac
}
# Waits until every record of every JOB is in a terminal state.
wait_done() {
  local i job st pending
  for ((i = 0; i < timeout * 4; i++)); do
    pending=0
    for job in "$@"; do
      st=$(job_states "$job")
      [ -n "$st" ] || { pending=1; continue; }
      while read -r _ s; do is_terminal "$s" || pending=1; done <<<"$st"
    done
    [ "$pending" = 0 ] && return 0
    sleep 0.25
  done
  slurm_log "timed out after ${timeout}s waiting for jobs $*"
  for job in "$@"; do job_states "$job" >&2; done
  return 1
}

t0=$(date +%s.%N)
# --- 1. array of 3 + a job after it --------------------------------------------------------------
# shellcheck disable=SC2016 # $SLURM_ARRAY_TASK_ID is for the job's shell to expand
array=$(sbatch --parsable --chdir="$work" --output=array_%A_%a.log --array=0-2 \
  --wrap 'echo $SLURM_ARRAY_TASK_ID > out_$SLURM_ARRAY_TASK_ID')
after=$(sbatch --parsable --chdir="$work" --output=after_%j.log --dependency="afterok:$array" \
  --wrap 'cat out_0 out_1 out_2 > all')
printf 'submitted array %s and job %s (afterok:%s) in %s\n' "$array" "$after" "$array" "$work"
wait_done "$array" "$after" || true

all_completed() { [ "$(job_states "$1" | awk '$2 != "COMPLETED"' | wc -l)" = 0 ] && [ -n "$(job_states "$1")" ]; }
outputs_right() {
  local i
  for i in 0 1 2; do [ "$(cat "$work/out_$i" 2>/dev/null)" = "$i" ] || return 1; done
}
check "array $array: tasks 0-2 COMPLETED" all_completed "$array"
check "array $array: out_0..out_2 hold their task ids" outputs_right
check "job $after (afterok) COMPLETED" all_completed "$after"
check "job $after ran after the array: 'all' is 0 1 2" \
  test "$(tr '\n' ' ' <"$work/all" 2>/dev/null)" = "0 1 2 "
t1=$(date +%s.%N)

# --- 2. scancel JOB_I of a long array -------------------------------------------------------------
# Each task records its pid (exec: the pid is sleep's) so the check can see the process is gone.
# shellcheck disable=SC2016
long=$(sbatch --parsable --chdir="$work" --output=long_%A_%a.log --array=0-2 \
  --wrap 'echo $$ > pid_$SLURM_ARRAY_TASK_ID; exec sleep 600')
printf 'submitted array %s (sleep 600 each)\n' "$long"
# The task to cancel is one that runs (on a 1-CPU node only task 0 does).
victim=
for ((i = 0; i < timeout * 4; i++)); do
  victim=$(job_states "$long" | awk '$2 == "RUNNING" { print $1; exit }')
  [ -n "$victim" ] && [ -s "$work/pid_$victim" ] && break
  victim=
  sleep 0.25
done
if [ -z "$victim" ]; then
  check "a task of array $long starts running" false
else
  pid=$(cat "$work/pid_$victim")
  scancel "${long}_${victim}"
  for ((i = 0; i < timeout * 4; i++)); do
    st=$(state_of "$long" "$victim")
    is_terminal "$st" && ! kill -0 "$pid" 2>/dev/null && break
    sleep 0.25
  done
  check "scancel ${long}_${victim}: task $victim CANCELLED" test "$(state_of "$long" "$victim")" = CANCELLED
  check "scancel ${long}_${victim}: its process $pid is gone" bash -c "! kill -0 $pid 2>/dev/null"
  others_alive() {
    local t s
    while read -r t s; do
      [ "$t" = "$victim" ] && continue
      case "$s" in RUNNING | PENDING) ;; *) printf '  task %s is %s\n' "$t" "$s"; return 1 ;; esac
    done < <(job_states "$long")
  }
  check "scancel ${long}_${victim}: the other tasks still RUNNING or PENDING" others_alive
fi
scancel "$long"
wait_done "$long" || true
none_left() { [ -z "$(squeue -h -o %i)" ]; }
check "scancel $long: no job left in squeue" none_left
t2=$(date +%s.%N)

awk -v a="$t0" -v b="$t1" -v c="$t2" \
  'BEGIN { printf "array + afterok job: %.1fs; scancel part: %.1fs\n", b - a, c - b }'
if [ "$failed" = 0 ]; then
  rm -rf "$work"
else
  printf 'files kept in %s; daemon logs in %s\n' "$work" "$SLURM_STATE_DIR/log"
fi
printf 'slurm smoke: %d passed, %d failed\n' "$passed" "$failed"
[ "$failed" = 0 ]
