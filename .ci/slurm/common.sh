# shellcheck shell=bash disable=SC2034 # sourced; the paths are used by the scripts that source it
# .ci/slurm/common.sh: paths and process helpers shared by up.sh, down.sh and smoke.sh (sourced, never
# run). It owns the layout of the private state directory and the rule for telling our daemons from
# anyone else's; it never starts, stops or installs anything by itself.

# Debian puts the daemons in /usr/sbin, which a non-login shell's PATH may lack.
case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH="$PATH:/usr/sbin:/sbin" ;; esac
export PATH

# Everything the cluster writes lives here; nothing goes to /etc, /run or /var. The name is ours
# (MEMREC_*), not SLURM_*: Slurm's commands read many SLURM_* variables and a collision would be silent.
SLURM_STATE_DIR=${MEMREC_SLURM_STATE:-/tmp/memrec-slurm}
# Not 6817/6818: a machine with a system Slurm (a developer's workstation) keeps working beside ours.
SLURM_CTLD_PORT=${MEMREC_SLURM_CTLD_PORT:-16817}
SLURM_SLURMD_PORT=${MEMREC_SLURM_SLURMD_PORT:-16818}

SLURM_MARKER=$SLURM_STATE_DIR/.memrec-slurm # only a directory holding it is ever removed
SLURM_CONF_FILE=$SLURM_STATE_DIR/etc/slurm.conf
SLURM_ENV_FILE=$SLURM_STATE_DIR/env
MUNGE_DIR=$SLURM_STATE_DIR/munge
MUNGE_SOCKET=$MUNGE_DIR/munge.socket
MUNGE_PID=$MUNGE_DIR/munged.pid
MUNGE_LOG=$MUNGE_DIR/munged.log
CTLD_PID=$SLURM_STATE_DIR/run/slurmctld.pid
SLURMD_PID=$SLURM_STATE_DIR/run/slurmd.pid
CTLD_LOG=$SLURM_STATE_DIR/log/slurmctld.log
SLURMD_LOG=$SLURM_STATE_DIR/log/slurmd.log

slurm_log() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }

# Refuses a state directory that could be someone else's: rm -rf runs on it.
slurm_check_state_dir() {
  case "$SLURM_STATE_DIR" in
    /*) ;;
    *) slurm_log "MEMREC_SLURM_STATE must be an absolute path, got '$SLURM_STATE_DIR'"; exit 2 ;;
  esac
  case "$SLURM_STATE_DIR" in
    / | /tmp | /tmp/ | /root | /home | /etc* | /usr* | /var | /run*)
      slurm_log "MEMREC_SLURM_STATE=$SLURM_STATE_DIR is not a private directory"; exit 2 ;;
  esac
}

# True while PID runs: a zombie (exited, not yet reaped by its parent) no longer counts, and cannot
# be signalled away anyway.
slurm_alive() {
  local state
  state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

# All descendants of the PIDs given (children first found, grandchildren after), from /proc alone.
slurm_descendants() {
  grep -H '^PPid:' /proc/[0-9]*/status 2>/dev/null |
    awk -v roots="$*" '
      { split($1, p, "/"); child[NR] = p[3]; parent[NR] = $2 }
      END {
        n = split(roots, r, " "); for (i = 1; i <= n; i++) seen[r[i]] = 1
        do {
          more = 0
          for (k = 1; k <= NR; k++)
            if ((parent[k] in seen) && !(child[k] in seen)) { seen[child[k]] = 1; print child[k]; more = 1 }
        } while (more)
      }'
}

# The pid in FILE when that process is alive and is still the program NAME (pids get reused: a stale
# pid file from a machine that was stopped must never make us signal an unrelated process).
slurm_live_pid() {
  local file=$1 name=$2 pid comm
  [ -r "$file" ] || return 1
  pid=$(tr -dc '0-9' <"$file")
  [ -n "$pid" ] || return 1
  comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
  [ "$comm" = "$name" ] && slurm_alive "$pid" || return 1
  printf '%s\n' "$pid"
}

# Pids of processes that we started (their environment carries MEMREC_SLURM_OWNER=<state dir>): the
# daemons and the slurmstepd processes that slurmd forks, which outlive slurmd if it dies first.
slurm_owned_pids() {
  local f pid
  # grep -z reads environ's NUL-separated entries as lines; one grep for all processes.
  grep -lzxF "MEMREC_SLURM_OWNER=$SLURM_STATE_DIR" /proc/[0-9]*/environ 2>/dev/null |
    while IFS= read -r f; do
      pid=${f#/proc/}
      pid=${pid%/environ}
      [ "$pid" = "$$" ] || printf '%s\n' "$pid"
    done
}

# Sends TERM to every PID, waits up to SECONDS for them all to go, then KILLs what is left. The
# daemons each take about 2 s to shut down, so they are stopped together rather than one by one.
slurm_stop_pids() {
  local seconds=$1 pid i alive
  shift
  [ $# -gt 0 ] || return 0
  kill -TERM "$@" 2>/dev/null || true
  for ((i = 0; i < seconds * 10; i++)); do
    alive=0
    for pid in "$@"; do slurm_alive "$pid" && alive=1; done
    [ "$alive" = 0 ] && return 0
    sleep 0.1
  done
  for pid in "$@"; do
    if slurm_alive "$pid"; then
      slurm_log "pid $pid ignored TERM for ${seconds}s; sending KILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
}

slurm_print_env() {
  printf 'export SLURM_CONF=%q\n' "$SLURM_CONF_FILE"
  printf 'export MEMREC_SLURM_STATE=%q\n' "$SLURM_STATE_DIR"
}
