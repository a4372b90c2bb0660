#!/usr/bin/env bash
# bench/coldstart.sh — cold start of `mailsrv serve` over a large store
# (issue 19: under 200 ms from exec to listening, the first SELECT of the
# 100k folder under 50 ms), run by bench/run.sh and on its own:
#
#   bench/coldstart.sh [OUT.jsonl]     COLD_N=100000 COLD_FOLDERS=20 COLD_REPS=5
#
# The store is built once with the bench's tools (imapbench setup/fill:
# COLD_N messages in folder "big" and COLD_SMALL in each of the other
# COLD_FOLDERS-1) under COLD_DIR, kept for the next run (same counts), and
# opened by the real `mailsrv serve` from a configuration file with only
# IMAP (STARTTLS, self-signed) and SMTP on loopback. bench/coldstart.py
# starts the server COLD_REPS times, stopping it by PID each time, and
# prints JSON lines (medians; also the server's CPU until the SELECT
# answered) to OUT (default stdout).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
OUT=${1:-/dev/stdout}
N=${COLD_N:-100000} FOLDERS=${COLD_FOLDERS:-20} SMALL=${COLD_SMALL:-500} REPS=${COLD_REPS:-5}
DIR=${COLD_DIR:-/var/tmp/mailsrv-bench-coldstart}
IMAP=${COLD_IMAP:-127.0.0.1:14331} SMTP=${COLD_SMTP:-127.0.0.1:14332}
BIN=$(mktemp -d /tmp/mailsrv-coldstart.XXXXXX)
trap 'rm -rf "$BIN"' EXIT
go build -o "$BIN/mailsrv" .
go build -o "$BIN/imapbench" ./bench/cmd/imapbench
stamp="n=$N folders=$FOLDERS small=$SMALL"
if [ "$(cat "$DIR/stamp" 2>/dev/null)" != "$stamp" ]; then
  echo "== $(date -u +%H:%M:%S) coldstart: building the store ($stamp) in $DIR" >&2
  rm -rf "$DIR"; mkdir -p "$DIR"
  "$BIN/imapbench" setup -data "$DIR/data"
  "$BIN/imapbench" fill -data "$DIR/data" -folder big -n "$N"
  for i in $(seq 2 "$FOLDERS"); do
    "$BIN/imapbench" fill -data "$DIR/data" -folder "f$i" -n "$SMALL"
  done
  echo "$stamp" >"$DIR/stamp"
fi
cat >"$DIR/mailsrv.toml" <<CONF
hostname = "bench.local"
data_dir = "$DIR/data"
[listen]
smtp = "$SMTP"
submission = ""
submissions = ""
imap = "$IMAP"
imaps = ""
http = ""
https = ""
metrics = ""
[tls]
mode = "self-signed"
CONF
echo "== $(date -u +%H:%M:%S) coldstart: $REPS starts of serve over $N + $((FOLDERS - 1)) x $SMALL messages (load $(cut -d' ' -f1 /proc/loadavg))" >&2
python3 bench/coldstart.py --mailsrv "$BIN/mailsrv" --config "$DIR/mailsrv.toml" --addr "$IMAP" \
  --folder big --n "$N" --reps "$REPS" --log "$DIR/serve.log" >>"$OUT"
