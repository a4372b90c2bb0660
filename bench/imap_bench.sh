#!/usr/bin/env bash
# IMAP benchmark: mailsrv's imapd vs Dovecot (Debian dovecot-imapd), same
# messages, same client (bench/cmd/imapbench), same run. Prints each
# timing and the ratio mailsrv/dovecot (lower is better for mailsrv).
#
#   bench/imap_bench.sh            # N=10000 APPEND/read workloads, BIG=100000 for SELECT+FETCH FLAGS
#   N=2000 BIG=20000 bench/imap_bench.sh
#
# Needs root (Dovecot drops to a mail uid), apt-get for dovecot-imapd if
# missing. Traps from shared/notes/benchmarking.md: no systemd, so Dovecot
# runs in the foreground (-F) with private base/state dirs and is stopped
# by PID; memory is PSS from /proc/PID/smaps_rollup summed over the
# process tree, not RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-10000}
BIG=${BIG:-100000}
CONNS=${CONNS:-200}
MPORT=${MPORT:-14301}
DPORT=${DPORT:-14302}
USER_=bench@example.com
PASS=benchpass

if ! command -v dovecot >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-imapd >/dev/null
fi
W=$(mktemp -d /tmp/imapbench.XXXXXX)
chmod 755 "$W"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
go build -o "$W/imapbench" ./bench/cmd/imapbench
B="$W/imapbench"

wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 not up" >&2; exit 1; }

# pss_tree PID: PSS in KiB of PID and all its descendants.
pss_tree() {
  local total=0 p kids
  local todo=("$1")
  while [ ${#todo[@]} -gt 0 ]; do
    p=${todo[0]}; todo=("${todo[@]:1}")
    if [ -r "/proc/$p/smaps_rollup" ]; then
      total=$((total + $(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup")))
    fi
    kids=$(pgrep -P "$p" || true)
    for k in $kids; do todo+=("$k"); done
  done
  echo "$total"
}

# work PORT OUT: the timed workloads.
work() {
  local port=$1 out=$2
  "$B" run -addr "127.0.0.1:$port" -user "$USER_" -pass "$PASS" -n "$N" >"$out"
  # First SELECT of the big folder may build indexes (Dovecot); the
  # second is the steady state.
  "$B" select -addr "127.0.0.1:$port" -user "$USER_" -pass "$PASS" -folder big -name "select_fetch_flags_${BIG}_cold" >>"$out"
  "$B" select -addr "127.0.0.1:$port" -user "$USER_" -pass "$PASS" -folder big -name "select_fetch_flags_${BIG}" >>"$out"
}

# settle PID: for mailsrv, ask the bench server to return freed heap to
# the OS (SIGUSR2 → debug.FreeOSMemory); each argon2id login leaves 19 MiB
# of scratch as idle heap, a fixed cost that would otherwise be counted per
# connection. Both the raw and the settled figure are printed.
settle() { if [ "$SETTLE" = 1 ]; then kill -USR2 "$1"; sleep 1; fi; }

# idle_mem PORT PID OUT: PSS per idle authenticated connection, on a
# freshly started server (so garbage from the workloads does not count).
idle_mem() {
  local port=$1 pid=$2 out=$3
  sleep 2
  settle "$pid"
  local before after raw
  before=$(pss_tree "$pid")
  rm -f "$W/hold" && mkfifo "$W/hold"
  "$B" idle -addr "127.0.0.1:$port" -user "$USER_" -pass "$PASS" -conns "$CONNS" <"$W/hold" >"$W/idle.out" &
  local ipid=$!
  exec 3>"$W/hold"
  for _ in $(seq 600); do grep -q ready "$W/idle.out" 2>/dev/null && break; sleep 0.1; done
  sleep 1
  raw=$(pss_tree "$pid")
  settle "$pid"
  after=$(pss_tree "$pid")
  exec 3>&-
  wait "$ipid" || true
  echo "pss_kib_per_idle_conn_raw $(( (raw - before) / CONNS ))" >>"$out"
  echo "pss_kib_per_idle_conn $(( (after - before) / CONNS ))" >>"$out"
}

# --- mailsrv ---
"$B" setup -data "$W/ms" -user "$USER_" -pass "$PASS"
echo "filling mailsrv with $BIG messages..."
"$B" fill -data "$W/ms" -user "$USER_" -folder big -n "$BIG"
start_mailsrv() {
  "$B" serve -data "$W/ms" -listen "127.0.0.1:$MPORT" 2>>"$W/ms.log" &
  MPID=$!; PIDS+=("$MPID")
  wait_port "$MPORT"
}
start_mailsrv
work "$MPORT" "$W/mailsrv.txt"
kill "$MPID"; wait "$MPID" 2>/dev/null || true
start_mailsrv
SETTLE=1 idle_mem "$MPORT" "$MPID" "$W/mailsrv.txt"
kill "$MPID"; wait "$MPID" 2>/dev/null || true
echo "== mailsrv"; cat "$W/mailsrv.txt"

# --- dovecot ---
id benchimap >/dev/null 2>&1 || useradd -u 20001 -M -d /nonexistent -s /usr/sbin/nologin benchimap
D="$W/dovecot"
mkdir -p "$D/run" "$D/state" "$D/home/$USER_"
echo "$USER_:{PLAIN}$PASS" >"$D/passwd"
cat >"$D/dovecot.conf" <<CONF
protocols = imap
listen = 127.0.0.1
base_dir = $D/run
state_dir = $D/state
log_path = $D/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
first_valid_uid = 1000
mail_max_userip_connections = 1000
default_process_limit = 1000
default_client_limit = 4000
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $DPORT
  }
  inet_listener imaps {
    port = 0
  }
}
service anvil {
  client_limit = 4000
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $D/passwd
}
userdb {
  driver = static
  args = uid=benchimap gid=benchimap home=$D/home/%u
}
CONF
echo "writing $BIG messages as a Maildir for Dovecot..."
"$B" maildir -dir "$D/home/$USER_/Maildir/.big" -n "$BIG"
mkdir -p "$D/home/$USER_/Maildir/cur" "$D/home/$USER_/Maildir/new" "$D/home/$USER_/Maildir/tmp"
chown -R benchimap:benchimap "$D/home"
ulimit -n 20000 2>/dev/null || true
start_dovecot() {
  dovecot -c "$D/dovecot.conf" -F &
  DPID=$!; PIDS+=("$DPID")
  wait_port "$DPORT"
}
start_dovecot
work "$DPORT" "$W/dovecot.txt"
kill "$DPID"; wait "$DPID" 2>/dev/null || true
sleep 1
start_dovecot
SETTLE=0 idle_mem "$DPORT" "$DPID" "$W/dovecot.txt"
kill "$DPID"; wait "$DPID" 2>/dev/null || true
echo "== dovecot"; cat "$W/dovecot.txt"

echo "== ratio mailsrv/dovecot (targets: select_fetch_flags ≤ 0.5, pss per conn ≤ 0.25)"
awk 'NR==FNR {d[$1]=$2; next} ($1 in d) && d[$1] > 0 {printf "%-28s mailsrv %10.4f  dovecot %10.4f  ratio %.2f\n", $1, $2, d[$1], $2/d[$1]}' \
  "$W/dovecot.txt" "$W/mailsrv.txt"
echo "(work dir: $W)"
