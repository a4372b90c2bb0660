#!/usr/bin/env bash
# bench/run.sh — mailsrv side by side with Dovecot 2.3 (IMAP) and Postfix
# 3.7 (MX intake), in one run, with independent clients on both sides:
#
#   IMAP  Python imaplib and a raw Python client (bench/imapwork.py) plus our
#         Go load generator (bench/cmd/imapbench run), all over STARTTLS, on
#         a 10k folder built by APPEND and on a 100k folder (99k written
#         straight to disk, the last BIGAPPEND appended over IMAP), then PSS
#         per idle logged-in TLS connection.
#   cold  `mailsrv serve` started over a BIG-message folder (20 folders):
#         time to listening and its first SELECT (bench/coldstart.sh).
#   SMTP  Postfix's smtp-source (no TLS: smtp-source has none) and our Go
#         bench/cmd/smtpload (plain and STARTTLS) against Postfix → local
#         Maildir and against mailsrv's MX.
#
# It prints the ratio table and the 10k→100k growth (bench/report.py) and
# writes bench/results.json; CPU profiles of mailsrv for every IMAP workload
# and the MX intake go to $W/prof with a `go tool pprof -top` summary each.
#
#   bench/run.sh            full run (about 20 minutes on the 2-core box)
#   bench/run.sh --smoke    CI smoke: tiny counts, no installs, no
#                           profiles; Dovecot/Postfix only when installed
#                           and root; fails on wrong answers, never on
#                           slow figures; writes results to $W only
#   ONLY=mx bench/run.sh    the MX intake rows only (Postfix and mailsrv;
#                           no IMAP, no Dovecot); SMTPN sets the count
#
# Needs root for the full run (apt-get install postfix/dovecot-imapd if
# missing, Unix users for Dovecot and Postfix's local delivery). Setup
# traps are in ../shared/notes/benchmarking.md: no systemd, so both daemons
# run in the foreground with private directories under /tmp and /var/tmp
# and are stopped by the PID recorded here; memory is PSS from
# /proc/PID/smaps_rollup over the process tree.
set -euo pipefail
{ # the whole script is one block, parsed before it runs: editing this file
  # during a run cannot change the run
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

SMOKE=0
[ "${1:-}" = "--smoke" ] && SMOKE=1
if [ "$SMOKE" = 1 ]; then
  N=${N:-100} BIG=${BIG:-600} BIGAPPEND=${BIGAPPEND:-20} CONNS=${CONNS:-10}
  GOAPPEND=${GOAPPEND:-20} SMTPN=${SMTPN:-50} REPS=${REPS:-1} PROFILE=${PROFILE:-0}
else
  N=${N:-10000} BIG=${BIG:-100000} BIGAPPEND=${BIGAPPEND:-1000} CONNS=${CONNS:-200}
  GOAPPEND=${GOAPPEND:-2000} SMTPN=${SMTPN:-2000} REPS=${REPS:-3} PROFILE=${PROFILE:-1}
fi
SIZE=3072
USER_=bench@example.com
PASS=benchpass
MPORT=${MPORT:-14301} DPORT=${DPORT:-14302} CTLPORT=${CTLPORT:-14303}
PF_PORT=${PF_PORT:-42525} MS_PORT=${MS_PORT:-42526}
W=$(mktemp -d /tmp/mailsrv-bench.XXXXXX)
chmod 755 "$W"
PF=/var/tmp/mailsrv-bench-postfix   # under /var: Postfix's maillog_file_prefixes
RES="$W/results.jsonl"
: >"$RES"
PIDS=()
log() { echo "== $(date -u +%H:%M:%S) $*" >&2; }

cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

# stop PID: end a daemon this script started and wait for it.
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

wait_port() {
  for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
  echo "port $1 did not open" >&2; return 1
}

# pss_tree PID: PSS in KiB of PID and all its descendants (one pass over
# /proc; Dovecot has two processes per connection).
pss_tree() {
  python3 - "$1" <<'PY'
import os, sys
kids = {}
for p in os.listdir("/proc"):
    if p.isdigit():
        try:
            ppid = int(open("/proc/%s/stat" % p).read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        kids.setdefault(ppid, []).append(int(p))
total, todo = 0, [int(sys.argv[1])]
while todo:
    p = todo.pop()
    todo += kids.get(p, [])
    try:
        for line in open("/proc/%d/smaps_rollup" % p):
            if line.startswith("Pss:"):
                total += int(line.split()[1])
    except OSError:
        pass
print(total)
PY
}

# result SERVER CLIENT WORKLOAD N VALUE UNIT: one JSON line for report.py.
result() {
  printf '{"server": "%s", "client": "%s", "workload": "%s", "n": %d, "value": %s, "unit": "%s"}\n' "$@" >>"$RES"
}

have_root() { [ "$(id -u)" = 0 ]; }
want() { # want TOOL: is the anchor available (installing it in a full run)?
  local pkg=$1 cmd=$2
  command -v "$cmd" >/dev/null 2>&1 && return 0
  [ "$SMOKE" = 1 ] && return 1
  have_root || return 1
  if [ "$pkg" = postfix ]; then
    echo "postfix postfix/main_mailer_type select Local only" | debconf-set-selections
    echo "postfix postfix/mailname string bench.local" | debconf-set-selections
  fi
  log "installing $pkg"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null
  command -v "$cmd" >/dev/null 2>&1
}
DOVECOT=0; POSTFIX=0
# The smoke leaves Postfix out (its private instance needs /etc/postfix/main.cf
# edited and costs most of a minute); SMOKE_POSTFIX=1 includes it.
if have_root && want dovecot-imapd dovecot; then DOVECOT=1; fi
if have_root && { [ "$SMOKE" = 0 ] || [ "${SMOKE_POSTFIX:-0}" = 1 ]; } && want postfix postfix && command -v smtp-source >/dev/null; then POSTFIX=1; fi
ONLY=${ONLY:-}
if [ "$ONLY" = mx ]; then DOVECOT=0; fi
if [ "$SMOKE" = 0 ] && { { [ $DOVECOT = 0 ] && [ "$ONLY" != mx ]; } || [ $POSTFIX = 0 ]; }; then
  echo "the full run needs root, Dovecot and Postfix" >&2; exit 1
fi

log "load before the run: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores; N=$N BIG=$BIG CONNS=$CONNS SMTPN=$SMTPN"
result host - loadavg_before 0 "$(cut -d' ' -f1 /proc/loadavg)" load
go build -o "$W/imapbench" ./bench/cmd/imapbench
go build -o "$W/smtpload" ./bench/cmd/smtpload
B="$W/imapbench"
"$B" cert -dir "$W/tls"
CERT="$W/tls/cert.pem" KEY="$W/tls/key.pem"
mkdir -p "$W/prof"

py() { python3 "$ROOT/bench/imapwork.py" "$@"; }
# ctl URL: one request to a bench server's control endpoint (benchkit.Control).
ctl() { python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=60).read()' "$1"; }

# imap_side SERVER PORT PID [CTL]: every IMAP client against one running
# server; the raw client also reads the server's CPU time (PID's tree).
imap_side() {
  local s=$1 port=$2 pid=$3 ctl=${4:-}
  local A=(--addr "127.0.0.1:$port" --server "$s" --user "$USER_" --password "$PASS" --reps "$REPS")
  log "$s: imaplib APPEND $N + reads on the ${N} folder"
  py run "${A[@]}" --client imaplib --folder bench --n "$N" --append "$N" >>"$RES"
  log "$s: raw client reads, ${N} folder"
  py run "${A[@]}" --client raw --folder bench --n "$N" --cpu-root "$pid" >>"$RES"
  log "$s: Go imapclient APPEND $GOAPPEND + reads, ${N} folder"
  "$B" run -addr "127.0.0.1:$port" -server "$s" -user "$USER_" -pass "$PASS" -reps "$REPS" \
    -folder bench -n "$N" -append "$GOAPPEND" -first 1 -appendfolder gobench >>"$RES"
  log "$s: imaplib APPEND $BIGAPPEND into the $((BIG - BIGAPPEND)) folder + reads, ${BIG} folder"
  py run "${A[@]}" --client imaplib --folder big --n "$BIG" --append "$BIGAPPEND" --first $((BIG - BIGAPPEND + 1)) --reps 1 >>"$RES"
  log "$s: raw client reads, ${BIG} folder"
  py run "${A[@]}" --client raw --folder big --n "$BIG" --reps 1 --cpu-root "$pid" >>"$RES"
  if [ -n "$ctl" ]; then
    log "$s: CPU profiles of each workload (10k folder, then 100k folder)"
    local P=(--addr "127.0.0.1:$port" --server "$s-profiled" --user "$USER_" --password "$PASS" --reps 1)
    py run "${P[@]}" --client imaplib --folder bench --n "$N" \
      --ctl "http://$ctl" --profile-dir "$W/prof" --profile-secs 4 --profile-append 500 >>"$RES"
    py run "${P[@]}" --client imaplib --folder big --n "$BIG" \
      --ctl "http://$ctl" --profile-dir "$W/prof" --profile-secs 4 >>"$RES"
  fi
  # Last on each folder: every repetition expunges 10 of its messages.
  log "$s: QRESYNC reconnect after 100 flag changes and 10 expunges, ${N} and ${BIG} folders"
  py qresync "${A[@]}" --folder bench --n "$N" >>"$RES"
  py qresync "${A[@]}" --folder big --n "$BIG" >>"$RES"
}

# idle_side SERVER PORT PID SETTLE_URL: PSS per idle logged-in TLS connection.
idle_side() {
  local s=$1 port=$2 pid=$3 settle=${4:-}
  local before raw after ipid
  sleep 2
  if [ -n "$settle" ]; then ctl "$settle"; sleep 1; fi
  before=$(pss_tree "$pid")
  rm -f "$W/hold" && mkfifo "$W/hold"
  py idle --addr "127.0.0.1:$port" --user "$USER_" --password "$PASS" --conns "$CONNS" <"$W/hold" >"$W/idle.$s" &
  ipid=$!
  exec 3>"$W/hold"
  for _ in $(seq 1200); do grep -q ready "$W/idle.$s" 2>/dev/null && break; kill -0 "$ipid" 2>/dev/null || break; sleep 0.1; done
  grep -q ready "$W/idle.$s" || { echo "$s: idle connections failed" >&2; exit 1; }
  sleep 1
  raw=$(pss_tree "$pid")
  if [ -n "$settle" ]; then ctl "$settle"; sleep 1; fi
  after=$(pss_tree "$pid")
  exec 3>&-
  wait "$ipid" || true
  result "$s" imaplib pss_idle_conn_raw "$CONNS" $(( (raw - before) / CONNS )) KiB
  result "$s" imaplib pss_idle_conn "$CONNS" $(( (after - before) / CONNS )) KiB
}

# ------------------------------------------------------------ mailsrv IMAP
if [ "$ONLY" != mx ]; then
log "mailsrv: store with $((BIG - BIGAPPEND)) messages in 'big'"
"$B" setup -data "$W/ms" -user "$USER_" -pass "$PASS"
"$B" fill -data "$W/ms" -user "$USER_" -folder big -n $((BIG - BIGAPPEND))
start_mailsrv() { # [-quickack]
  "$B" serve -data "$W/ms" -listen "127.0.0.1:$MPORT" -cert "$CERT" -key "$KEY" -ctl "127.0.0.1:$CTLPORT" "$@" 2>>"$W/mailsrv-imap.log" &
  MPID=$!; PIDS+=("$MPID")
  wait_port "$MPORT"
}
start_mailsrv
PROFCTL=""; [ "$PROFILE" = 1 ] && PROFCTL="127.0.0.1:$CTLPORT"
imap_side mailsrv "$MPORT" "$MPID" "$PROFCTL"
stop "$MPID"
# The TCP_QUICKACK experiment (bench/internal/benchkit/quickack.go): the
# same imaplib APPEND with the kernel acknowledging every read at once.
start_mailsrv -quickack
log "mailsrv -quickack: imaplib APPEND $GOAPPEND"
py run --addr "127.0.0.1:$MPORT" --server mailsrv-quickack --user "$USER_" --password "$PASS" --reps 1 \
  --client imaplib --folder quickack --n "$GOAPPEND" --append "$GOAPPEND" >>"$RES"
stop "$MPID"
start_mailsrv
log "mailsrv: $CONNS idle TLS connections"
idle_side mailsrv "$MPORT" "$MPID" "http://127.0.0.1:$CTLPORT/freeos"
stop "$MPID"

# Cold start of the real `mailsrv serve` over a 100k folder in 20 folders
# (its own store, built once and kept under /var/tmp between runs).
log "mailsrv: cold start of serve (bench/coldstart.sh)"
if [ "$SMOKE" = 1 ]; then
  COLD_N=600 COLD_FOLDERS=3 COLD_SMALL=20 COLD_REPS=1 COLD_DIR="$W/cold" bash "$ROOT/bench/coldstart.sh" "$RES"
else
  COLD_N=$BIG bash "$ROOT/bench/coldstart.sh" "$RES"
fi
fi # ONLY != mx

# ------------------------------------------------------------ Dovecot IMAP
if [ $DOVECOT = 1 ]; then
  id benchimap >/dev/null 2>&1 || useradd -u 20001 -M -d /nonexistent -s /usr/sbin/nologin benchimap
  D="$W/dovecot"
  mkdir -p "$D/run" "$D/state" "$D/home/$USER_/Maildir"/{cur,new,tmp}
  echo "$USER_:{PLAIN}$PASS" >"$D/passwd"
  cat >"$D/dovecot.conf" <<CONF
protocols = imap
listen = 127.0.0.1
base_dir = $D/run
state_dir = $D/state
log_path = $D/dovecot.log
ssl = yes
ssl_cert = <$CERT
ssl_key = <$KEY
disable_plaintext_auth = yes
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
  log "dovecot: Maildir with $((BIG - BIGAPPEND)) messages in 'big'"
  "$B" maildir -dir "$D/home/$USER_/Maildir/.big" -n $((BIG - BIGAPPEND))
  chown -R benchimap:benchimap "$D/home"
  ulimit -n 20000 2>/dev/null || true
  start_dovecot() {
    dovecot -c "$D/dovecot.conf" -F &
    DPID=$!; PIDS+=("$DPID")
    wait_port "$DPORT"
  }
  start_dovecot
  imap_side dovecot "$DPORT" "$DPID"
  stop "$DPID"
  sleep 1
  start_dovecot
  log "dovecot: $CONNS idle TLS connections"
  idle_side dovecot "$DPORT" "$DPID"
  stop "$DPID"
fi

# ------------------------------------------------------------ MX intake
# cpu_ms PID: user+system CPU in ms of PID and its live descendants,
# plus what their exited children were charged (cutime/cstime: Postfix's
# smtpd, cleanup and local processes come and go).
cpu_ms() {
  python3 - "$1" <<'PY'
import os, sys
hz, kids, cpu = os.sysconf("SC_CLK_TCK"), {}, {}
for p in os.listdir("/proc"):
    if p.isdigit():
        try:
            f = open("/proc/%s/stat" % p).read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        kids.setdefault(int(f[1]), []).append(int(p))
        cpu[int(p)] = sum(int(x) for x in f[11:15]) * 1000 / hz
total, todo = 0, [int(sys.argv[1])]
while todo:
    p = todo.pop()
    todo += kids.get(p, [])
    total += cpu.get(p, 0)
print("%.0f" % total)
PY
}

# smtp_runs SERVER PORT PID: the same loads against one running server
# (PID: its process, for the CPU time per message of smtp-source's runs).
# smtp-source opens a new connection per message unless -d is given.
smtp_runs() {
  local s=$1 port=$2 pid=$3 t0 t1 c0
  local SS=(smtp-source -l "$SIZE" -m "$SMTPN" -f load@bench.test -t "$USER_" -M load.bench.test)
  if command -v smtp-source >/dev/null; then
    for mode in "mx_10_sessions:-s 10" "mx_1_session:-s 1" "mx_1_connection:-s 1 -d"; do
      c0=$(cpu_ms "$pid")
      t0=$(date +%s.%N)
      # shellcheck disable=SC2086
      "${SS[@]}" ${mode#*:} "127.0.0.1:$port"
      t1=$(date +%s.%N)
      result "$s" smtp-source "${mode%%:*}" "$SMTPN" "$(awk -v n="$SMTPN" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", n / (b - a) }')" msg/s
      if [ "$s" = postfix ]; then drain_postfix; fi
      # Postfix's CPU includes the local delivery it does after the 250.
      result "$s" smtp-source "server_cpu_${mode%%:*}" "$SMTPN" "$(awk -v n="$SMTPN" -v a="$c0" -v b="$(cpu_ms "$pid")" 'BEGIN { printf "%.3f", (b - a) / n }')" ms/msg
    done
  fi
  for c in 10 1; do
    for tls in "" -starttls; do
      rate=$("$W/smtpload" -addr "127.0.0.1:$port" -c "$c" -n "$SMTPN" -size "$SIZE" $tls | sed -n 's/.*rate=\([0-9.]*\).*/\1/p')
      result "$s" "smtpload${tls}" "mx_${c}_sessions_reused" "$SMTPN" "$rate" msg/s
      if [ "$s" = postfix ]; then drain_postfix; fi
    done
  done
}

maildir_count() { find "$PF/home/Maildir/new" -type f 2>/dev/null | wc -l; }
PF_SENT=0
drain_postfix() { # wait until Postfix delivered every accepted message
  PF_SENT=$((PF_SENT + SMTPN))
  for _ in $(seq 1200); do [ "$(maildir_count)" -ge "$PF_SENT" ] && return 0; sleep 0.1; done
  echo "postfix delivered $(maildir_count) of $PF_SENT" >&2; exit 1
}

if [ $POSTFIX = 1 ]; then
  log "postfix: private instance on 127.0.0.1:$PF_PORT (local Maildir delivery)"
  rm -rf "$PF"; mkdir -p "$PF/conf" "$PF/queue" "$PF/data" "$PF/home"
  id bench >/dev/null 2>&1 || useradd -M -d "$PF/home" -s /usr/sbin/nologin bench
  usermod -d "$PF/home" bench 2>/dev/null || true
  chown bench "$PF/home"
  C="$PF/conf"
  cp /etc/postfix/main.cf /etc/postfix/master.cf "$C/"
  chown postfix "$PF/data"
  postconf -e "alternate_config_directories = $C"   # or `postfix -c` fails silently
  postconf -c "$C" -e \
    "queue_directory = $PF/queue" "data_directory = $PF/data" \
    "maillog_file = $PF/postfix.log" "myhostname = bench.local" \
    "mydestination = example.com" "inet_interfaces = 127.0.0.1" \
    "inet_protocols = ipv4" "home_mailbox = Maildir/" \
    "alias_maps =" "alias_database =" "smtpd_peername_lookup = no" "biff = no" \
    "smtpd_tls_security_level = may" "smtpd_tls_chain_files = $KEY, $CERT" \
    "message_size_limit = 52428800" "smtpd_client_connection_rate_limit = 0"
  postconf -c "$C" -F '*/*/chroot = n'
  postconf -c "$C" -MX smtp/inet
  postconf -c "$C" -M "127.0.0.1:$PF_PORT/inet=127.0.0.1:$PF_PORT inet n - n - - smtpd"
  postfix -c "$C" set-permissions >/dev/null 2>&1 || true
  postfix -c "$C" check
  postfix -c "$C" start-fg >"$PF/fg.log" 2>&1 &
  PPID_=$!; PIDS+=("$PPID_")
  wait_port "$PF_PORT"
  smtp_runs postfix "$PF_PORT" "$PPID_"
  postfix -c "$C" stop >/dev/null 2>&1 || true
  wait "$PPID_" 2>/dev/null || true
fi

log "mailsrv MX on 127.0.0.1:$MS_PORT"
"$W/smtpload" -serve -data "$W/mx" -listen "127.0.0.1:$MS_PORT" -cert "$CERT" -key "$KEY" -ctl "127.0.0.1:$CTLPORT" >"$W/mailsrv-mx.log" 2>&1 &
XPID=$!; PIDS+=("$XPID")
wait_port "$MS_PORT"
smtp_runs mailsrv "$MS_PORT" "$XPID"
if [ "$PROFILE" = 1 ]; then
  log "mailsrv MX: CPU profiles of smtp-source 10 sessions and 1 session"
  for mode in "mx_10_sessions:-s 10" "mx_1_session:-s 1"; do
    ctl "http://127.0.0.1:$CTLPORT/profile/start?path=$W/prof/${mode%%:*}.pprof"
    t0=$(date +%s.%N)
    # shellcheck disable=SC2086
    smtp-source -l "$SIZE" -m "$SMTPN" -f load@bench.test -t "$USER_" -M load.bench.test ${mode#*:} "127.0.0.1:$MS_PORT"
    t1=$(date +%s.%N)
    ctl "http://127.0.0.1:$CTLPORT/profile/stop"
    result mailsrv-profiled smtp-source "profiled_runs_${mode%%:*}" "$SMTPN" "$SMTPN" runs
    result mailsrv-profiled smtp-source "profiled_wall_${mode%%:*}" "$SMTPN" "$(awk -v n="$SMTPN" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) * 1000 / n }')" ms
  done
fi
stop "$XPID"
if [ "$PROFILE" = 1 ]; then
  # The upper bound of "fewer fsyncs per message": the same intake with no
  # fsync at all (store.Options.NoSync; not durable, an experiment only).
  log "mailsrv MX -nosync (experiment)"
  "$W/smtpload" -serve -nosync -data "$W/mx-nosync" -listen "127.0.0.1:$MS_PORT" >>"$W/mailsrv-mx.log" 2>&1 &
  YPID=$!; PIDS+=("$YPID")
  wait_port "$MS_PORT"
  for mode in "mx_10_sessions:-s 10" "mx_1_session:-s 1"; do
    t0=$(date +%s.%N)
    # shellcheck disable=SC2086
    smtp-source -l "$SIZE" -m "$SMTPN" -f load@bench.test -t "$USER_" -M load.bench.test ${mode#*:} "127.0.0.1:$MS_PORT"
    t1=$(date +%s.%N)
    result mailsrv-nosync smtp-source "${mode%%:*}" "$SMTPN" "$(awk -v n="$SMTPN" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", n / (b - a) }')" msg/s
  done
  stop "$YPID"
fi
got=$("$B" count -data "$W/mx" -user "$USER_" -folder INBOX)
want_n=$(( SMTPN * (4 + $(command -v smtp-source >/dev/null && echo 3 || echo 0) + $([ "$PROFILE" = 1 ] && echo 2 || echo 0)) ))
[ "$got" = "$want_n" ] || { echo "mailsrv MX stored $got messages, want $want_n" >&2; exit 1; }

if [ "$PROFILE" = 1 ]; then
  for p in "$W"/prof/*.pprof; do
    go tool pprof -top -nodecount=30 "$p" >"${p%.pprof}.top.txt" 2>/dev/null || true
    go tool pprof -top -cum -nodecount=60 "$p" >"${p%.pprof}.cum.txt" 2>/dev/null || true
  done
fi

log "load after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
result host - loadavg_after 0 "$(cut -d' ' -f1 /proc/loadavg)" load
OUT="$W/results.json"
if [ "$SMOKE" = 0 ] && [ "$ONLY" != mx ]; then OUT="$ROOT/bench/results.json"; fi
python3 "$ROOT/bench/report.py" "$RES" "$OUT" "$N" "$BIG" "$W/prof"
if [ "$SMOKE" = 1 ]; then
  rm -rf "$W"   # nothing worth keeping from tiny counts
else
  echo "(work dir: $W; profiles: $W/prof)"
fi
exit
}
