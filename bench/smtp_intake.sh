#!/bin/bash
# bench/smtp_intake.sh — durable SMTP intake rate of mailsrv's MX server
# versus Postfix from Debian, in one run, on this machine.
#
# Load: 3 KiB messages to one local recipient, sent back to back over 1 and
# over 10 concurrent SMTP sessions (bench/cmd/smtpload, the same generator
# for both servers). A message counts when the server answered 250 after
# DATA, i.e. after it is durable: mailsrv fsyncs blob + database before
# 250; Postfix fsyncs its queue file before 250 and then delivers to a local
# Maildir (also fsynced) in the background — the script waits for that
# delivery to finish before moving on, and reports the drain time as well.
#
# Postfix runs as a private instance (own config, queue and data directory
# under $WORK, loopback high port, no chroot, local Maildir delivery for a
# "bench" Unix user), started in the foreground by this script and stopped
# by PID. It needs root (apt-get install postfix, useradd, postfix start)
# and adds $WORK/postfix-conf to alternate_config_directories in
# /etc/postfix/main.cf (Postfix refuses `-c DIR` otherwise).
#
# Usage: bench/smtp_intake.sh [N]   (N messages per run, default 2000)
# Not run by CI. Prints rates and the mailsrv/Postfix ratio per concurrency.
set -euo pipefail

N=${1:-2000}
SIZE=3072
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=/var/tmp/mailsrv-bench            # under /var: Postfix's maillog_file_prefixes
PF_PORT=${PF_PORT:-42525}
MS_PORT=${MS_PORT:-42526}
PIDS=()

cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	if [ -f "$WORK/postfix-conf/main.cf" ]; then postfix -c "$WORK/postfix-conf" stop >/dev/null 2>&1 || true; fi
	wait 2>/dev/null || true
}
trap cleanup EXIT

wait_port() { # host port
	for _ in $(seq 1 100); do
		if (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	echo "port $1:$2 did not open" >&2
	return 1
}

rm -rf "$WORK"
mkdir -p "$WORK"
echo "== building load generator"
(cd "$ROOT" && go build -o "$WORK/smtpload" ./bench/cmd/smtpload)

# ---------------------------------------------------------------- Postfix
setup_postfix() {
	if ! command -v postfix >/dev/null; then
		echo "postfix postfix/main_mailer_type select Local only" | debconf-set-selections
		echo "postfix postfix/mailname string bench.local" | debconf-set-selections
		DEBIAN_FRONTEND=noninteractive apt-get install -y postfix >/dev/null
	fi
	id bench >/dev/null 2>&1 || useradd -M -d "$WORK/home" -s /usr/sbin/nologin bench
	mkdir -p "$WORK/home" && chown bench "$WORK/home"
	usermod -d "$WORK/home" bench

	local C="$WORK/postfix-conf"
	mkdir -p "$C" "$WORK/pfqueue" "$WORK/pfdata"
	cp /etc/postfix/main.cf /etc/postfix/master.cf "$C/"
	chown postfix "$WORK/pfdata"
	# The default instance must list the private config directory.
	postconf -e "alternate_config_directories = $C"
	postconf -c "$C" -e \
		"queue_directory = $WORK/pfqueue" \
		"data_directory = $WORK/pfdata" \
		"maillog_file = $WORK/postfix.log" \
		"myhostname = bench.local" \
		"mydestination = example.com" \
		"inet_interfaces = 127.0.0.1" \
		"inet_protocols = ipv4" \
		"home_mailbox = Maildir/" \
		"alias_maps =" "alias_database =" \
		"smtpd_tls_security_level = none" \
		"smtpd_peername_lookup = no" \
		"biff = no" \
		"message_size_limit = 52428800"
	postconf -c "$C" -F '*/*/chroot = n'
	postconf -c "$C" -MX smtp/inet
	postconf -c "$C" -M "127.0.0.1:$PF_PORT/inet=127.0.0.1:$PF_PORT inet n - n - - smtpd"
	postfix -c "$C" set-permissions >/dev/null 2>&1 || true
	postfix -c "$C" check
	postfix -c "$C" start-fg >"$WORK/postfix.fg.log" 2>&1 &
	PIDS+=($!)
	wait_port 127.0.0.1 "$PF_PORT"
}

maildir_count() { find "$WORK/home/Maildir/new" -type f 2>/dev/null | wc -l; }

# ---------------------------------------------------------------- run
declare -A RATE
run_load() { # name port conc
	local out
	out=$("$WORK/smtpload" -addr "127.0.0.1:$2" -c "$3" -n "$N" -size "$SIZE")
	RATE["$1/$3"]=$(sed -n 's/.*rate=\([0-9.]*\).*/\1/p' <<<"$out")
	echo "   $1 c=$3: $out"
}

drain_postfix() { # expected
	local start=$(date +%s.%N)
	for _ in $(seq 1 600); do
		[ "$(maildir_count)" -ge "$1" ] && break
		sleep 0.1
	done
	echo "   postfix maildir: $(maildir_count)/$1 delivered, drain wait $(echo "$(date +%s.%N) - $start" | bc)s"
}

echo "== Postfix $(postconf -d mail_version 2>/dev/null | cut -d' ' -f3 || true) on 127.0.0.1:$PF_PORT"
setup_postfix
"$WORK/smtpload" -addr "127.0.0.1:$PF_PORT" -c 2 -n 100 -size $SIZE >/dev/null   # warm-up
drain_postfix 100
expected=100
for c in 1 10; do
	run_load postfix "$PF_PORT" "$c"
	expected=$((expected + N))
	drain_postfix "$expected"
done
postfix -c "$WORK/postfix-conf" stop >/dev/null 2>&1 || true

echo "== mailsrv MX on 127.0.0.1:$MS_PORT"
"$WORK/smtpload" -serve -data "$WORK/mailsrv-data" -listen "127.0.0.1:$MS_PORT" >"$WORK/mailsrv.log" 2>&1 &
PIDS+=($!)
wait_port 127.0.0.1 "$MS_PORT"
"$WORK/smtpload" -addr "127.0.0.1:$MS_PORT" -c 2 -n 100 -size $SIZE >/dev/null   # warm-up
for c in 1 10; do
	run_load mailsrv "$MS_PORT" "$c"
done

echo "== result (messages/s of durable intake, 3 KiB, $N messages per run)"
for c in 1 10; do
	m=${RATE["mailsrv/$c"]}; p=${RATE["postfix/$c"]}
	printf "   c=%-3s mailsrv %8.1f   postfix %8.1f   ratio %.2f (target >= 1.5)\n" "$c" "$m" "$p" "$(echo "$m / $p" | bc -l)"
done
