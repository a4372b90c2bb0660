#!/bin/sh
# bench/webmail.sh: the webmail's time to the first message list of a
# 100,000-message folder, and the memory an open event stream (one live
# webmail tab) costs. One run, numbers printed; see TestWebmailBench in
# server/web/mail/bench_test.go. MAILSRV_WEBMAIL_BENCH_MESSAGES=N changes
# the folder size.
set -e
cd "$(dirname "$0")/.."
MAILSRV_WEBMAIL_BENCH=1 go test ./server/web/mail/ -run '^TestWebmailBench$' -count=1 -v -timeout 30m | grep -E '^(webmail:|--- FAIL|FAIL|ok)'
