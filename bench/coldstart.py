#!/usr/bin/env python3
"""Cold start of `mailsrv serve` over a large store (issue 19): the time
from exec to the IMAP port accepting, and the first SELECT of the big
folder on the fresh server (its first open since the start), over
STARTTLS with the raw client of imapwork.py. Each repetition starts a new
server process on the same data directory and stops it by PID (SIGTERM).

  coldstart.py --mailsrv BIN --config FILE --addr H:P --folder F --n N [--reps R]

The store is built once by bench/coldstart.sh with the bench's tools
(imapbench setup/fill). Figures are medians; the server's CPU time (user
+ system from /proc) at listening and until the SELECT answered (LOGIN's
argon2id included) is reported too: on a loaded machine wall times
measure the queue for a core more than the start. Results
are JSON lines like imapwork.py's.
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import imapwork  # noqa: E402


def cpu_ms(pid):
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def once(a, host, port):
    t0 = time.perf_counter()
    p = subprocess.Popen([a.mailsrv, "serve", "--config", a.config],
                         stdout=subprocess.DEVNULL, stderr=open(a.log, "ab"))
    try:
        while True:
            if p.poll() is not None:
                raise imapwork.Failure("serve exited with %d (log: %s)" % (p.returncode, a.log))
            try:
                socket.create_connection((host, port), timeout=1).close()
                break
            except OSError:
                if time.perf_counter() - t0 > 60:
                    raise imapwork.Failure("IMAP port did not open in 60 s")
                time.sleep(0.001)
        listen = (time.perf_counter() - t0) * 1000
        listen_cpu = cpu_ms(p.pid)
        c = imapwork.Raw(host, port, a.user, a.password)
        t = time.perf_counter()
        imapwork.expect(c.select(a.folder), a.n, "EXISTS")
        sel = (time.perf_counter() - t) * 1000
        cpu = cpu_ms(p.pid)
        c.logout()
        return listen, sel, cpu, listen_cpu
    finally:
        p.terminate()
        p.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mailsrv", required=True)
    ap.add_argument("--config", required=True)
    ap.add_argument("--addr", required=True)
    ap.add_argument("--user", default="bench@example.com")
    ap.add_argument("--password", default="benchpass")
    ap.add_argument("--folder", default="big")
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--log", default="/dev/null")
    ap.add_argument("--server", default="mailsrv")
    a = ap.parse_args()
    host, port = a.addr.rsplit(":", 1)
    runs = []
    try:
        for _ in range(a.reps):
            runs.append(once(a, host, int(port)))
    except (imapwork.Failure, OSError) as e:
        print("coldstart: %s" % e, file=sys.stderr)
        sys.exit(1)
    for i, (name, unit) in enumerate((("coldstart_listen", "ms"), ("coldstart_first_select", "ms"), ("coldstart_server_cpu", "ms"),
                                      ("coldstart_listen_cpu", "ms"))):
        v = sorted(r[i] for r in runs)
        print(json.dumps({"server": a.server, "client": "raw", "workload": name, "n": a.n,
                          "value": round(v[len(v) // 2], 3), "unit": unit}), flush=True)


if __name__ == "__main__":
    main()
