#!/usr/bin/env bash
# bench/backends.sh — mailsrv's message bodies in files vs in S3, one run:
#
#   files   bbolt + data_dir/blobs (the default)
#   s3      bbolt + an S3 bucket (store/s3blobs) served by versitygw over a
#           POSIX directory on 127.0.0.1: every body is an HTTP PUT before
#           the metadata commit, every read a GET
#
#   MX intake  bench/cmd/smtpload, 1 and 10 sessions, 3 KiB messages
#   IMAP       bench/imapwork.py (imaplib APPEND + reads, the raw client's
#              reads) and bench/cmd/imapbench run (Go imapclient APPEND +
#              reads) on an N-message folder
#
# It prints each figure, the ratios s3 / files, and the CPU time per
# message of mailsrv and versitygw during the intake runs (where the time
# goes). It compares the blob stores alone: PostgreSQL + S3 and two
# servers against one are still to be added (bench servers opening the
# store through server/storage.Open with a config file). Separate from bench/run.sh (which CI
# smokes): it needs versitygw and takes minutes.
#
#   bench/backends.sh            N=1000 messages in the IMAP folder, 1000 per MX run
#   bench/backends.sh --smoke    tiny counts (checks the script works)
#
# Needs versitygw (go install github.com/versity/versitygw/cmd/versitygw@v1.8.0).
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

# s3url NAME: the -s3 flag of bucket NAME (s3blobs.Open creates it).
s3url() { echo "http://bench:benchsecret@127.0.0.1:$S3PORT/bench-$1"; }

# ------------------------------------------------------------ MX intake
# mx_serve NAME PORT [S3URL]: start an MX intake server, set MXPID.
mx_serve() {
  local cfg=()
  [ -n "${3:-}" ] && cfg=(-s3 "$3")
  "$W/smtpload" -serve -data "$W/$1" -listen "127.0.0.1:$2" -cert "$CERT" -key "$KEY" "${cfg[@]}" >>"$W/mx-$1.log" 2>&1 &
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
# cpu_share SETUP WORKLOAD N T0_MS T0_S3 PIDS...: CPU ms per message of
# mailsrv (the PIDs) and versitygw since the T0 readings.
cpu_share() {
  local s=$1 wl=$2 n=$3 m0=$4 v0=$5; shift 5
  local m v
  m=$(cpu_ticks "$@") v=$(cpu_ticks "$S3PID")
  result "$s" cpu "${wl}_mailsrv_cpu" "$n" "$(awk -v a="$m0" -v b="$m" -v n="$n" -v hz="$HZ" 'BEGIN { printf "%.3f", (b - a) * 1000 / hz / n }')" ms/msg
  result "$s" cpu "${wl}_versitygw_cpu" "$n" "$(awk -v a="$v0" -v b="$v" -v n="$n" -v hz="$HZ" 'BEGIN { printf "%.3f", (b - a) * 1000 / hz / n }')" ms/msg
}
mx_runs() { # SETUP [S3URL]
  local s=$1 cfg=${2:-} port=$((PORT0 + 10)) c m0 v0
  mx_serve "mx-$s" "$port" "$cfg"
  for c in 1 10; do
    m0=$(cpu_ticks "$MXPID") v0=$(cpu_ticks "$S3PID")
    log "$s: MX intake, $c sessions, $SMTPN messages: $(mx_load "$s" "$port" "$c" "$SMTPN") msg/s"
    cpu_share "$s" "mx_$c" "$SMTPN" "$m0" "$v0" "$MXPID"
  done
  stop "$MXPID"
  check_count "$s" "$W/mx-$s" "$cfg" $((2 * SMTPN))
}
# check_count SETUP DATA S3URL WANT: the INBOX holds WANT messages.
check_count() {
  local cfg=() got
  [ -n "$3" ] && cfg=(-s3 "$3")
  got=$("$B" count -data "$2" -user "$USER_" -folder INBOX "${cfg[@]}")
  [ "$got" = "$4" ] || { echo "$1: stored $got messages, want $4" >&2; exit 1; }
}

mx_runs files
mx_runs s3 "$(s3url mx)"

# ------------------------------------------------------------ IMAP
py() { python3 "$ROOT/bench/imapwork.py" "$@"; }
imap_runs() { # SETUP [S3URL]
  local s=$1 cfg=() port=$((PORT0 + 20)) pid
  [ -n "${2:-}" ] && cfg=(-s3 "$2")
  "$B" setup -data "$W/imap-$s" -user "$USER_" -pass "$PASS" "${cfg[@]}"
  "$B" serve -data "$W/imap-$s" -listen "127.0.0.1:$port" -cert "$CERT" -key "$KEY" "${cfg[@]}" 2>>"$W/imap-$s.log" &
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
imap_runs s3 "$(s3url imap)"

result host - loadavg_after 0 "$(cut -d' ' -f1 /proc/loadavg)" load
[ "$SMOKE" = 1 ] || cp "$RES" "$ROOT/bench/backends.json"

# ------------------------------------------------------------ report
python3 - "$RES" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
val = {(r["server"], r["client"], r["workload"]): (r["value"], r["unit"]) for r in rows}
print(f'{"client workload":46} {"files":>10} {"s3":>10} {"s3/files":>8}')
for (s, c, w), (v, u) in sorted(val.items()):
    o = val.get(("s3", c, w))
    if s != "files" or o is None or c == "cpu":
        continue
    print(f'{c + " " + w:46} {v:10.2f} {o[0]:10.2f} {o[0] / v if v else float("nan"):8.2f}  {u}')
print("CPU per message during MX intake (ms):")
for s in ("files", "s3"):
    for c in (1, 10):
        parts = [f'{p} {val[(s, "cpu", f"mx_{c}_{p}_cpu")][0]:.3f}' for p in ("mailsrv", "versitygw") if (s, "cpu", f"mx_{c}_{p}_cpu") in val]
        print(f'  {s:6} {c:2} sessions: ' + ", ".join(parts))
PY
log "results: $RES$([ "$SMOKE" = 1 ] || echo " (copied to bench/backends.json)")"
exit 0
}
