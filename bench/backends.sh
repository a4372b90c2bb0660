#!/usr/bin/env bash
# bench/backends.sh — mailsrv's storage backends compared, one run:
#
#   files   bbolt + data_dir/blobs (the default)
#   s3      bbolt + an S3 bucket (store/s3blobs) served by versitygw over a
#           POSIX directory on 127.0.0.1: every body is an HTTP PUT before
#           the metadata commit, every read a GET
#   pg-s3   metadata in PostgreSQL ([store] backend = "postgres", store/kv/
#           pgkv) + bodies in S3: what several servers share
#   two     MX intake only: two mailsrv servers (own data_dir and server id)
#           on that one database and bucket, smtpload split across both
#           servers' MX ports, against pg-s3 (one server)
#
# Every bench server opens its store as serve does: from a mailsrv
# configuration file written here ([store], [blobs], data_dir) through
# server/storage.Open (the -config flag of smtpload -serve and imapbench).
# PostgreSQL is a cluster of this run: Debian's initdb/postgres from
# /usr/lib/postgresql/*/bin, run as user postgres in the run's temporary
# directory, on a loopback port, stopped by its PID. Unlike the
# throwaway cluster of internal/pgtest it keeps fsync=on (and
# full_page_writes, synchronous_commit at their defaults): this is a
# benchmark of durable intake, so every commit waits for its WAL flush
# as bbolt's waits for its fsync.
#
#   MX intake  bench/cmd/smtpload, 1 and 10 sessions, 3 KiB messages
#   IMAP       bench/imapwork.py (imaplib APPEND + reads, the raw client's
#              reads) and bench/cmd/imapbench run (Go imapclient APPEND +
#              reads) on an N-message folder
#
# It prints each figure, the ratios to files (bbolt + files = 1), and the
# CPU time per message of mailsrv, postgres and versitygw during the
# intake runs, read from /proc (where the time goes). Separate from
# bench/run.sh (which CI smokes): it needs versitygw and PostgreSQL and
# takes minutes.
#
#   bench/backends.sh            N=1000 messages in the IMAP folder, 1000 per MX run
#   bench/backends.sh --smoke    tiny counts (checks the script works)
#
# Needs versitygw (go install github.com/versity/versitygw/cmd/versitygw@v1.8.0)
# and Debian's postgresql package (run as root: the cluster runs as user
# postgres through setpriv, as internal/pgtest does).
# Every daemon is started here and stopped by its PID.
set -euo pipefail
{ # parsed whole before it runs
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

SMOKE=0
[ "${1:-}" = "--smoke" ] && SMOKE=1
if [ "$SMOKE" = 1 ]; then
  N=${N:-100} SMTPN=${SMTPN:-100} GOAPPEND=${GOAPPEND:-50} REPS=${REPS:-1}
else
  N=${N:-1000} SMTPN=${SMTPN:-1000} GOAPPEND=${GOAPPEND:-500} REPS=${REPS:-3}
fi
SIZE=3072
USER_=bench@example.com
PASS=benchpass
PORT0=${PORT0:-14400}
W=$(mktemp -d /tmp/mailsrv-backends.XXXXXX)
chmod 755 "$W"
RES="$W/results.jsonl"
: >"$RES"
PIDS=()
log() { echo "== $(date -u +%H:%M:%S) $*" >&2; }

cleanup() {
  local p
  # postgres: a fast shutdown (SIGINT) ends its sessions, SIGTERM would wait for them.
  [ -n "${PGPID:-}" ] && kill -INT "$PGPID" 2>/dev/null
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
wait_port() { # PORT [PID]: until PORT accepts, or PID exited
  for _ in $(seq 600); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    [ -n "${2:-}" ] && ! kill -0 "$2" 2>/dev/null && { echo "the server for port $1 exited (see $W/*.log)" >&2; return 1; }
    sleep 0.1
  done
  echo "port $1 did not open" >&2; return 1
}
result() { # server client workload n value unit
  printf '{"server": "%s", "client": "%s", "workload": "%s", "n": %d, "value": %s, "unit": "%s"}\n' "$@" >>"$RES"
}
# cpu_ticks PID...: user+system clock ticks of the PIDs and all their
# descendants.
cpu_ticks() {
  python3 - "$@" <<'PY'
import os, sys
kids, ticks = {}, {}
for p in os.listdir("/proc"):
    if not p.isdigit():
        continue
    try:
        st = open(f"/proc/{p}/stat").read()
    except OSError:
        continue
    f = st[st.rindex(")") + 2:].split()
    kids.setdefault(int(f[1]), []).append(int(p))
    ticks[int(p)] = int(f[11]) + int(f[12])
total, todo = 0, [int(a) for a in sys.argv[1:]]
while todo:
    p = todo.pop()
    total += ticks.get(p, 0)
    todo += kids.get(p, [])
print(total)
PY
}
HZ=$(getconf CLK_TCK)

# ------------------------------------------------------------ tools
VGW=$(command -v versitygw || echo "$(go env GOPATH)/bin/versitygw")
[ -x "$VGW" ] || { echo "versitygw not found: go install github.com/versity/versitygw/cmd/versitygw@v1.8.0" >&2; exit 1; }

PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$PGBIN" ] && [ -x "$PGBIN/postgres" ] || { echo "PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin (apt-get install postgresql)" >&2; exit 1; }
# AS_PG runs a command as the postgres user when root (initdb and
# postgres refuse root); setpriv execs, so "${AS_PG[@]}" postgres & makes
# $! postgres's own PID (a shell function there would be a subshell).
AS_PG=()
[ "$(id -u)" = 0 ] && AS_PG=(setpriv --reuid=postgres --regid=postgres --init-groups)

log "load before the run: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores; N=$N SMTPN=$SMTPN"
result host - loadavg_before 0 "$(cut -d' ' -f1 /proc/loadavg)" load
go build -o "$W/imapbench" ./bench/cmd/imapbench
go build -o "$W/smtpload" ./bench/cmd/smtpload
B="$W/imapbench"
"$B" cert -dir "$W/tls"
CERT="$W/tls/cert.pem" KEY="$W/tls/key.pem"

S3PORT=$((PORT0 + 2))
log "versitygw: S3 on 127.0.0.1:$S3PORT over $W/s3"
mkdir -p "$W/s3"
"$VGW" --port "127.0.0.1:$S3PORT" --access bench --secret benchsecret --region us-east-1 --quiet posix "$W/s3" >"$W/versitygw.log" 2>&1 &
S3PID=$!; PIDS+=("$S3PID")
wait_port "$S3PORT" "$S3PID"

PGPORT=$((PORT0 + 3))
log "postgres: $PGBIN on 127.0.0.1:$PGPORT, fsync on, data in $W/pg"
mkdir -p "$W/pg"
[ "$(id -u)" = 0 ] && chown postgres: "$W/pg"
"${AS_PG[@]}" "$PGBIN/initdb" -D "$W/pg/data" -U mailsrv --auth=trust --encoding=UTF8 --locale=C >"$W/initdb.log" 2>&1 ||
  { cat "$W/initdb.log" >&2; exit 1; }
"${AS_PG[@]}" "$PGBIN/postgres" -D "$W/pg/data" -c listen_addresses=127.0.0.1 -c port="$PGPORT" \
  -c unix_socket_directories= -c fsync=on -c max_connections=200 -c log_min_messages=warning >"$W/postgres.log" 2>&1 &
PGPID=$!; PIDS+=("$PGPID")
wait_port "$PGPORT" "$PGPID"
for _ in $(seq 100); do "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PGPORT" && break; sleep 0.1; done
kill -0 "$PGPID" 2>/dev/null || { echo "postgres exited (is port $PGPORT taken? see $W/postgres.log)" >&2; exit 1; }
result host - postgres_fsync 0 "$([ "$("$PGBIN/psql" -qtA -h 127.0.0.1 -p "$PGPORT" -U mailsrv -d postgres -c 'SHOW fsync')" = on ] && echo 1 || echo 0)" bool

# mkcfg NAME SETUP [DB]: write the configuration $W/NAME.toml of a bench
# server with data_dir $W/NAME; SETUP files, s3 (bucket bench-NAME) or
# pg-s3 (database DB and bucket bench-DB, created here, shared by every
# server given the same DB).
mkcfg() {
  local name=$1 setup=$2 db=${3:-} bucket=bench-$1
  { echo "hostname = \"mx.bench.test\""
    echo "data_dir = \"$W/$name\""
    if [ "$setup" = pg-s3 ]; then
      bucket=bench-${db//_/-}
      "$PGBIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U mailsrv "$db" 2>/dev/null || true
      printf '[store]\nbackend = "postgres"\npostgres_url = "postgres://mailsrv@127.0.0.1:%s/%s?sslmode=disable"\n' "$PGPORT" "$db"
    fi
    if [ "$setup" != files ]; then
      printf '[blobs]\nbackend = "s3"\ns3_endpoint = "http://127.0.0.1:%s"\ns3_bucket = "%s"\n' "$S3PORT" "$bucket"
      printf 's3_region = "us-east-1"\ns3_access_key = "bench"\ns3_secret_key = "benchsecret"\ns3_insecure = true\n'
    fi
  } >"$W/$name.toml"
  echo "$W/$name.toml"
}

# ------------------------------------------------------------ MX intake
# mx_serve NAME PORT CONFIG: start an MX intake server, set MXPID.
mx_serve() {
  "$W/smtpload" -serve -config "$3" -listen "127.0.0.1:$2" -cert "$CERT" -key "$KEY" >>"$W/mx-$1.log" 2>&1 &
  MXPID=$!; PIDS+=("$MXPID")
  wait_port "$2" "$MXPID"
}
# mx_load SETUP PORT C N: one smtpload run, its rate recorded.
mx_load() {
  local rate
  rate=$("$W/smtpload" -addr "127.0.0.1:$2" -c "$3" -n "$4" -size "$SIZE" | sed -n 's/.*rate=\([0-9.]*\).*/\1/p')
  result "$1" smtpload "mx_${3}_sessions" "$4" "$rate" msg/s
  echo "$rate"
}
# cpu_share SETUP WORKLOAD N T0_MAILSRV T0_PG T0_S3 PIDS...: CPU ms per
# message of mailsrv (the PIDs), postgres (all its processes) and
# versitygw since the T0 readings.
cpu_share() {
  local s=$1 wl=$2 n=$3 k
  declare -A t0=([mailsrv]=$4 [postgres]=$5 [versitygw]=$6)
  shift 6
  declare -A t1=([mailsrv]=$(cpu_ticks "$@") [postgres]=$(cpu_ticks "$PGPID") [versitygw]=$(cpu_ticks "$S3PID"))
  for k in mailsrv postgres versitygw; do
    result "$s" cpu "${wl}_${k}_cpu" "$n" "$(awk -v a="${t0[$k]}" -v b="${t1[$k]}" -v n="$n" -v hz="$HZ" 'BEGIN { printf "%.3f", (b - a) * 1000 / hz / n }')" ms/msg
  done
}
ticks3() { echo "$(cpu_ticks "$@") $(cpu_ticks "$PGPID") $(cpu_ticks "$S3PID")"; }
mx_runs() { # SETUP
  local s=$1 port=$((PORT0 + 10)) c t cfg
  cfg=$(mkcfg "mx-$s" "$s" mx_pg)
  mx_serve "mx-$s" "$port" "$cfg"
  for c in 1 10; do
    read -r -a t <<<"$(ticks3 "$MXPID")"
    log "$s: MX intake, $c sessions, $SMTPN messages: $(mx_load "$s" "$port" "$c" "$SMTPN") msg/s"
    cpu_share "$s" "mx_$c" "$SMTPN" "${t[@]}" "$MXPID"
  done
  stop "$MXPID"
  check_count "$s" "$cfg" $((2 * SMTPN))
}
# check_count SETUP CONFIG WANT: the INBOX holds WANT messages.
check_count() {
  local got
  got=$("$B" count -config "$2" -user "$USER_" -folder INBOX)
  [ "$got" = "$3" ] || { echo "$1: stored $got messages, want $3" >&2; exit 1; }
}
# mx_two: two servers on one database (mx_two) and bucket, C sessions
# split C/2 + C/2 across their ports, SMTPN messages in all; the rate is
# all messages over the wall time of both loads.
mx_two() {
  local pa=$((PORT0 + 11)) pb=$((PORT0 + 12)) ca cb a b c t t0 t1 rate
  ca=$(mkcfg mx-two-a pg-s3 mx_two) cb=$(mkcfg mx-two-b pg-s3 mx_two)
  mx_serve two-a "$pa" "$ca"; a=$MXPID
  mx_serve two-b "$pb" "$cb"; b=$MXPID
  for c in 2 10; do
    read -r -a t <<<"$(ticks3 "$a" "$b")"
    t0=$(date +%s%N)
    "$W/smtpload" -addr "127.0.0.1:$pa" -c $((c / 2)) -n $((SMTPN / 2)) -size "$SIZE" >"$W/two-a.out" &
    local la=$!
    "$W/smtpload" -addr "127.0.0.1:$pb" -c $((c / 2)) -n $((SMTPN - SMTPN / 2)) -size "$SIZE" >"$W/two-b.out"
    wait "$la"
    t1=$(date +%s%N)
    rate=$(awk -v n="$SMTPN" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", n / ((b - a) / 1e9) }')
    result two smtpload "mx_${c}_sessions" "$SMTPN" "$rate" msg/s
    log "two: MX intake, $c sessions ($((c / 2)) + $((c / 2))), $SMTPN messages: $rate msg/s (A: $(sed -n 's/.*rate=\([0-9.]*\).*/\1/p' "$W/two-a.out"), B: $(sed -n 's/.*rate=\([0-9.]*\).*/\1/p' "$W/two-b.out"))"
    cpu_share two "mx_$c" "$SMTPN" "${t[@]}" "$a" "$b"
  done
  stop "$a"; stop "$b"
  check_count two "$ca" $((2 * SMTPN))
}

mx_runs files
mx_runs s3
mx_runs pg-s3
mx_two

# ------------------------------------------------------------ IMAP
py() { python3 "$ROOT/bench/imapwork.py" "$@"; }
imap_runs() { # SETUP
  local s=$1 cfg port=$((PORT0 + 20)) pid
  cfg=$(mkcfg "imap-$s" "$s" imap_pg)
  "$B" setup -config "$cfg" -user "$USER_" -pass "$PASS"
  "$B" serve -config "$cfg" -listen "127.0.0.1:$port" -cert "$CERT" -key "$KEY" 2>>"$W/imap-$s.log" &
  pid=$!; PIDS+=("$pid")
  wait_port "$port" "$pid"
  local A=(--addr "127.0.0.1:$port" --server "$s" --user "$USER_" --password "$PASS" --reps "$REPS")
  log "$s: imaplib APPEND $N + reads"
  py run "${A[@]}" --client imaplib --folder bench --n "$N" --append "$N" >>"$RES"
  log "$s: raw client reads"
  py run "${A[@]}" --client raw --folder bench --n "$N" --cpu-root "$pid" >>"$RES"
  log "$s: Go imapclient APPEND $GOAPPEND + reads"
  "$B" run -addr "127.0.0.1:$port" -server "$s" -user "$USER_" -pass "$PASS" -reps "$REPS" \
    -folder bench -n "$N" -append "$GOAPPEND" -first 1 -appendfolder gobench >>"$RES"
  stop "$pid"
}
imap_runs files
imap_runs s3
imap_runs pg-s3

result host - loadavg_after 0 "$(cut -d' ' -f1 /proc/loadavg)" load
[ "$SMOKE" = 1 ] || cp "$RES" "$ROOT/bench/backends.json"

# ------------------------------------------------------------ report
python3 - "$RES" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
val = {(r["server"], r["client"], r["workload"]): (r["value"], r["unit"]) for r in rows}
setups = ("s3", "pg-s3", "two")
print(f'{"client workload":40} {"files":>9}' + "".join(f' {s:>9} {"ratio":>6}' for s in setups))
for (s, c, w), (v, u) in sorted(val.items()):
    if s != "files" or c == "cpu":
        continue
    line = f'{c + " " + w:40} {v:9.2f}'
    for o in setups:
        x = val.get((o, c, w))
        line += f' {x[0]:9.2f} {x[0] / v if v else float("nan"):6.2f}' if x else f' {"":9} {"":6}'
    print(line + f'  {u}')
for c in (2,):  # the two servers' split run has no files twin
    if ("two", "smtpload", f"mx_{c}_sessions") in val:
        print(f'{"smtpload mx_2_sessions (two: 1 + 1)":40} {"":9}' + f' {"":9} {"":6}' * 2 + f' {val[("two", "smtpload", "mx_2_sessions")][0]:9.2f}  msg/s')
print("CPU per message during MX intake (ms, from /proc):")
for s in ("files",) + setups:
    for c in (1, 2, 10):
        parts = [(p, val[(s, "cpu", f"mx_{c}_{p}_cpu")][0]) for p in ("mailsrv", "postgres", "versitygw") if (s, "cpu", f"mx_{c}_{p}_cpu") in val]
        if parts:
            print(f'  {s:6} {c:2} sessions: ' + ", ".join(f"{p} {v:.3f}" for p, v in parts) + f' (total {sum(v for _, v in parts):.3f})')
PY
log "results: $RES$([ "$SMOKE" = 1 ] || echo " (copied to bench/backends.json)")"
exit 0
}
