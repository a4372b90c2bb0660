#!/usr/bin/env python3
"""Independent IMAP clients for bench/run.sh: the same workloads against
mailsrv and Dovecot, over STARTTLS on both.

  imapwork.py run  --addr H:P --client imaplib|raw|raw-plain --folder F --n N
                   [--append K --first S --append-folder AF] [--reps R]
                   [--ctl URL --profile-dir D --profile-secs S] [--only W1,W2]
  imapwork.py idle --addr H:P --conns C     hold C logged-in TLS connections
                                            until stdin closes
  imapwork.py qresync --addr H:P --folder F --n N [--reps R]
                   a QRESYNC reconnect after 100 flag changes and 10
                   expunges by another client (expunges 10 per repetition)

Clients:
  imaplib  Python's standard imaplib (the issue's reference client): parses
           every response line into Python objects.
  raw      a minimal client over the same TLS socket: sends one command,
           reads until its tagged reply, skipping literals by their byte
           count and counting untagged lines. Its figure is close to the
           server's own time plus TLS; imaplib minus raw is client parsing.
  raw-plain  the raw client without STARTTLS, for a server started without
           a certificate: raw minus raw-plain is the cost of TLS records.

Messages are bench/cmd/imapbench's Message(i) (~3 KiB), computed the same
way here. Every workload checks its answer (counts of EXISTS, FETCH
responses and SEARCH hits) and exits non-zero when a server answers
wrongly, so the CI smoke catches breakage, not slowness.

With --cpu-root PID the server's CPU time (user+system of PID and its
descendants, from /proc) per workload is reported too, for both servers.

With --ctl (mailsrv only) each read workload is then repeated for
--profile-secs under a CPU profile written to --profile-dir/WORKLOAD.pprof,
after (not during) the timed runs; the run count and wall time per run are
printed too, so report.py can set the server's CPU time per run (from the
profile) against the client's wall time.

Results are JSON lines: {"server","client","workload","n","value","unit"}.
"""
import argparse
import imaplib
import json
import os
import re
import socket
import ssl
import sys
import time
import urllib.parse
import urllib.request


def message(i):
    body = bytearray()
    while len(body) < 2800:
        body += b"Line %d of message %d: lorem ipsum dolor sit amet, consectetur.\r\n" % (len(body) // 64, i)
    head = (b"From: Sender %d <sender%d@remote.example>\r\nTo: bench@example.com\r\n"
            b"Subject: benchmark message %d\r\nMessage-ID: <bench%d@remote.example>\r\n"
            b"Date: Mon, 02 Jan 2006 15:04:05 +0000\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
            % (i % 100, i % 100, i, i))
    return head + bytes(body)


def spread(n):
    k = min(n, 1000)
    return [1 + i * n // k for i in range(k)]


def body_term(n):
    return "of message %d:" % (n // 2 + 7)


def from_matches(n):
    return sum(1 for i in range(1, n + 1) if i % 100 == 7)


_CTX = []


def tls_context():
    """One client context for all connections (building one loads the
    system CA store: ~0.2 s, which would dominate the idle-connection setup)."""
    if not _CTX:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        _CTX.append(ctx)
    return _CTX[0]


class Failure(Exception):
    pass


def expect(got, want, what):
    if got != want:
        raise Failure("%s: got %d, want %d" % (what, got, want))


# ---------------------------------------------------------------- imaplib

START = re.compile(rb"^\d+ \(")


def count_fetch(data):
    """Number of FETCH responses in imaplib's data list."""
    k = 0
    for item in data:
        head = item[0] if isinstance(item, tuple) else item
        if head and START.match(head):
            k += 1
    return k


class Imaplib:
    name = "imaplib"

    def __init__(self, host, port, user, password):
        self.m = imaplib.IMAP4(host, port)
        self.m.starttls(tls_context())
        self.m.login(user, password)

    def check(self, typ, data, what):
        if typ != "OK":
            raise Failure("%s: %s %r" % (what, typ, data))
        return data

    def create(self, folder):
        self.m.create(folder)

    def append(self, folder, msg):
        self.check(*self.m.append(folder, None, None, msg), what="APPEND")

    def select(self, folder):
        return int(self.check(*self.m.select(folder), what="SELECT")[0])

    def fetch(self, uid, numset, items):
        if uid:
            return count_fetch(self.check(*self.m.uid("FETCH", numset, items), what="FETCH"))
        return count_fetch(self.check(*self.m.fetch(numset, items), what="FETCH"))

    def uid_search(self, key, value):
        data = self.check(*self.m.uid("SEARCH", key, '"%s"' % value), what="SEARCH")
        return len(data[0].split())

    def sort_thread(self, cmd, args):
        """SORT or THREAD over the whole folder: the message numbers listed."""
        if cmd == "SORT":
            data = self.check(*self.m.sort(args, "UTF-8", "ALL"), what="SORT")
        else:
            data = self.check(*self.m.thread(args, "UTF-8", "ALL"), what="THREAD")
        return len(re.findall(rb"\d+", data[0] or b""))

    def logout(self):
        self.m.logout()


# ---------------------------------------------------------------- raw

LITERAL = re.compile(rb"\{(\d+)\+?\}\r\n$")


class Raw:
    name = "raw"

    def __init__(self, host, port, user, password, plain=False):
        s = socket.create_connection((host, port))
        self.f = s.makefile("rb", buffering=1 << 16)
        self.sock = s
        self.n = 0
        self.line()  # greeting
        if not plain:
            self.cmd(b"STARTTLS")
            self.sock = tls_context().wrap_socket(s, server_hostname="localhost")
            self.f = self.sock.makefile("rb", buffering=1 << 16)
        self.cmd(b'LOGIN "%s" "%s"' % (user.encode(), password.encode()))

    def line(self):
        line = self.f.readline()
        if not line:
            raise Failure("connection closed")
        return line

    def send(self, data):
        self.sock.sendall(data)

    def cmd(self, text, literal=None):
        """Send a command; return (untagged lines, first untagged payload)."""
        self.n += 1
        tag = b"r%d" % self.n
        if literal is None:
            self.send(tag + b" " + text + b"\r\n")
        else:
            self.send(tag + b" " + text + b" {%d}\r\n" % len(literal))
            line = self.line()
            if not line.startswith(b"+"):
                raise Failure("no continuation: %r" % line)
            self.send(literal + b"\r\n")
        untagged, lines = 0, []
        while True:
            line = self.line()
            if line.startswith(tag + b" "):
                if not line[len(tag) + 1:].startswith(b"OK"):
                    raise Failure(line.decode(errors="replace").strip())
                return untagged, lines
            if line.startswith(b"* "):
                untagged += 1
                if len(lines) < 8:
                    lines.append(line)
            while True:  # skip the literals of this response
                m = LITERAL.search(line)
                if not m:
                    break
                self.f.read(int(m.group(1)))
                line = self.line()

    def create(self, folder):
        try:
            self.cmd(b'CREATE "%s"' % folder.encode())
        except Failure:
            pass

    def append(self, folder, msg):
        self.cmd(b'APPEND "%s"' % folder.encode(), literal=msg)

    def select(self, folder):
        _, lines = self.cmd(b'SELECT "%s"' % folder.encode())
        for line in lines:
            m = re.match(rb"\* (\d+) EXISTS", line)
            if m:
                return int(m.group(1))
        raise Failure("SELECT without EXISTS")

    def fetch(self, uid, numset, items):
        k, _ = self.cmd((b"UID FETCH " if uid else b"FETCH ") + numset.encode() + b" " + items.encode())
        return k

    def uid_search(self, key, value):
        _, lines = self.cmd(b'UID SEARCH %s "%s"' % (key.encode(), value.encode()))
        for line in lines:
            if line.startswith(b"* SEARCH"):
                return len(line.split()) - 2
        raise Failure("no SEARCH response")

    def sort_thread(self, cmd, args):
        text = (b"SORT (%s)" if cmd == "SORT" else b"THREAD %s") % args.encode()
        _, lines = self.cmd(text + b" UTF-8 ALL")
        for line in lines:
            if line.startswith(b"* " + cmd.encode()):
                return len(re.findall(rb"\d+", line[len(cmd) + 2:]))
        raise Failure("no %s response" % cmd)

    def logout(self):
        self.cmd(b"LOGOUT")


class RawPlain(Raw):
    """The raw client without TLS (for a server started without a
    certificate): tells the cost of TLS records from the rest."""
    name = "raw-plain"

    def __init__(self, host, port, user, password):
        super().__init__(host, port, user, password, plain=True)


CLIENTS = {"imaplib": Imaplib, "raw": Raw, "raw-plain": RawPlain}


# ---------------------------------------------------------------- workloads

def read_workloads(c, folder, n):
    uids = ",".join(str(u) for u in spread(n))
    return [
        ("select", lambda: expect(c.select(folder), n, "EXISTS")),
        ("fetch_flags", lambda: expect(c.fetch(True, "1:*", "(FLAGS)"), n, "FETCH responses")),
        ("fetch_envelope", lambda: expect(c.fetch(False, "1:*", "(ENVELOPE)"), n, "FETCH responses")),
        ("search_from", lambda: expect(c.uid_search("FROM", "sender7@"), from_matches(n), "SEARCH FROM hits")),
        ("search_body", lambda: expect(c.uid_search("BODY", body_term(n)), 1, "SEARCH BODY hits")),
        ("fetch_1000_bodies", lambda: expect(c.fetch(True, uids, "(BODY.PEEK[])"), len(spread(n)), "FETCH responses")),
        # RFC 5256 (issue 16): every message listed once.
        ("sort_arrival", lambda: expect(c.sort_thread("SORT", "ARRIVAL"), n, "SORT numbers")),
        ("sort_date", lambda: expect(c.sort_thread("SORT", "DATE"), n, "SORT numbers")),
        ("sort_subject", lambda: expect(c.sort_thread("SORT", "SUBJECT"), n, "SORT numbers")),
        ("sort_from", lambda: expect(c.sort_thread("SORT", "FROM"), n, "SORT numbers")),
        ("thread_references", lambda: expect(c.sort_thread("THREAD", "REFERENCES"), n, "THREAD numbers")),
    ]


def tree_cpu_ms(root):
    """User+system CPU of process root and its live descendants, in ms
    (Dovecot serves each connection from its own imap process)."""
    kids, cpu = {}, {}
    hz = os.sysconf("SC_CLK_TCK")
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            f = open("/proc/%s/stat" % p).read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        kids.setdefault(int(f[1]), []).append(int(p))
        cpu[int(p)] = (int(f[11]) + int(f[12])) * 1000 / hz
    total, todo = 0, [root]
    while todo:
        p = todo.pop()
        total += cpu.get(p, 0)
        todo += kids.get(p, [])
    return total


def ctl(url, path):
    with urllib.request.urlopen(url + path, timeout=60) as r:
        r.read()


def run(a):
    host, port = a.addr.rsplit(":", 1)
    c = CLIENTS[a.client](host, int(port), a.user, a.password)

    def out(workload, n, value, unit):
        print(json.dumps({"server": a.server, "client": c.name, "workload": workload,
                          "n": n, "value": round(value, 3), "unit": unit}), flush=True)

    if a.append:
        af = a.append_folder or a.folder
        c.create(af)
        t = time.perf_counter()
        for i in range(a.first, a.first + a.append):
            c.append(af, message(i))
        out("append", a.first + a.append - 1, a.append / (time.perf_counter() - t), "msg/s")

    # The first SELECT of the folder on this connection: for a folder no
    # session opened since the server started, this is the cold open.
    t = time.perf_counter()
    expect(c.select(a.folder), a.n, "EXISTS")
    out("select_first", a.n, (time.perf_counter() - t) * 1000, "ms")
    work = read_workloads(c, a.folder, a.n)
    if a.only:
        keep = a.only.split(",")
        work = [(name, f) for name, f in work if name in keep]
    for name, f in work:
        ms = []
        cpu0 = tree_cpu_ms(a.cpu_root) if a.cpu_root else 0
        for _ in range(a.reps):
            t = time.perf_counter()
            f()
            ms.append((time.perf_counter() - t) * 1000)
        ms.sort()
        out(name, a.n, ms[len(ms) // 2], "ms")
        if a.cpu_root:
            # The server's CPU (user+system, 10 ms ticks) averaged over the
            # repetitions: what the server spent, whatever the client costs.
            out("server_cpu_" + name, a.n, (tree_cpu_ms(a.cpu_root) - cpu0) / a.reps, "ms")

    if a.ctl:
        for name, f in work:
            ctl(a.ctl, "/profile/start?path=" + urllib.parse.quote("%s/%s_%d.pprof" % (a.profile_dir, name, a.n)))
            t, k = time.perf_counter(), 0
            while k == 0 or time.perf_counter() - t < a.profile_secs:
                f()
                k += 1
            secs = time.perf_counter() - t
            ctl(a.ctl, "/profile/stop")
            out("profiled_runs_" + name, a.n, k, "runs")
            out("profiled_wall_" + name, a.n, secs * 1000 / k, "ms")
        if a.profile_append:
            c.create("profappend")
            ctl(a.ctl, "/profile/start?path=" + urllib.parse.quote("%s/append_%d.pprof" % (a.profile_dir, a.n)))
            t = time.perf_counter()
            for i in range(1, a.profile_append + 1):
                c.append("profappend", message(i))
            secs = time.perf_counter() - t
            ctl(a.ctl, "/profile/stop")
            out("profiled_runs_append", a.n, a.profile_append, "runs")
            out("profiled_wall_append", a.n, secs * 1000 / a.profile_append, "ms")
    c.logout()


def uid_count(s):
    """Number of UIDs in an IMAP sequence set such as b"3:5,9"."""
    k = 0
    for part in s.decode().split(","):
        lo, _, hi = part.partition(":")
        k += abs(int(hi or lo) - int(lo)) + 1
    return k


def qresync(a):
    """A client resynchronising with QRESYNC (RFC 7162 §3.2.5): it knew the
    folder at (UIDVALIDITY, HIGHESTMODSEQ), another client then changed
    the flags of 100 messages (one STORE each) and expunged 10, and it
    reconnects with SELECT folder (QRESYNC (uidvalidity modseq)). Timed:
    that SELECT alone, and the whole reconnect (TLS, login, ENABLE,
    SELECT). The answer must list exactly the 100 changed messages and
    VANISH exactly the 10 expunged ones. Each repetition changes other
    messages, so the folder loses 10 messages per repetition: run it last
    on a folder."""
    host, port = a.addr.rsplit(":", 1)
    sel, whole = [], []
    for rep in range(a.reps):
        c = Imaplib(host, int(port), a.user, a.password)
        c.check(*c.m._simple_command("ENABLE", "QRESYNC"), what="ENABLE")
        c.m.untagged_responses = {}
        c.check(*c.m._simple_command("SELECT", a.folder), what="SELECT")
        c.m.state = "SELECTED"  # imaplib only tracks its own select()
        uv = int(c.m.untagged_responses["UIDVALIDITY"][0])
        ms = int(c.m.untagged_responses["HIGHESTMODSEQ"][0])
        uids = [int(u) for u in c.check(*c.m.uid("SEARCH", "ALL"), what="UID SEARCH")[0].split()]
        c.logout()
        nchg, ndel = min(100, len(uids) // 2), min(10, len(uids) // 10)
        step = len(uids) // (nchg + ndel)
        picked = [uids[(rep + i * step) % len(uids)] for i in range(nchg + ndel)]
        chg, dels = picked[:nchg], picked[nchg:]
        w = Imaplib(host, int(port), a.user, a.password)
        w.select(a.folder)
        for u in chg:
            w.check(*w.m.uid("STORE", str(u), "+FLAGS.SILENT", "(\\Flagged $Bench%d)" % rep), what="STORE")
        w.check(*w.m.uid("STORE", ",".join(map(str, dels)), "+FLAGS.SILENT", "(\\Deleted)"), what="STORE")
        w.check(*w.m.expunge(), what="EXPUNGE")
        w.logout()

        t0 = time.perf_counter()
        c = Imaplib(host, int(port), a.user, a.password)
        c.check(*c.m._simple_command("ENABLE", "QRESYNC"), what="ENABLE")
        c.m.untagged_responses = {}
        t1 = time.perf_counter()
        c.check(*c.m._simple_command("SELECT", "%s (QRESYNC (%d %d))" % (a.folder, uv, ms)), what="SELECT QRESYNC")
        t2 = time.perf_counter()
        sel.append((t2 - t1) * 1000)
        whole.append((t2 - t0) * 1000)
        expect(len(c.m.untagged_responses.get("FETCH", [])), nchg, "QRESYNC FETCH responses")
        vanished = c.m.untagged_responses.get("VANISHED", [])
        gone = sum(uid_count(v.split(b" ", 1)[1]) for v in vanished if v.startswith(b"(EARLIER)"))
        expect(gone, ndel, "UIDs in VANISHED (EARLIER)")
        c.logout()
    for name, ms in (("qresync_select", sel), ("qresync_reconnect", whole)):
        ms.sort()
        print(json.dumps({"server": a.server, "client": "imaplib", "workload": name,
                          "n": a.n, "value": round(ms[len(ms) // 2], 3), "unit": "ms"}), flush=True)


def idle(a):
    host, port = a.addr.rsplit(":", 1)
    conns = [Imaplib(host, int(port), a.user, a.password) for _ in range(a.conns)]
    print("ready", flush=True)
    sys.stdin.read()
    for c in conns:
        try:
            c.logout()
        except Exception:
            pass


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["run", "idle", "qresync"])
    p.add_argument("--addr", required=True)
    p.add_argument("--user", default="bench@example.com")
    p.add_argument("--password", default="benchpass")
    p.add_argument("--server", default="")
    p.add_argument("--client", choices=sorted(CLIENTS), default="imaplib")
    p.add_argument("--folder", default="bench")
    p.add_argument("--n", type=int, default=10000)
    p.add_argument("--append", type=int, default=0)
    p.add_argument("--first", type=int, default=1)
    p.add_argument("--append-folder", default="")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--conns", type=int, default=200)
    p.add_argument("--ctl", default="")
    p.add_argument("--cpu-root", type=int, default=0, help="server PID: also report its CPU time per workload")
    p.add_argument("--profile-dir", default="")
    p.add_argument("--profile-secs", type=float, default=3)
    p.add_argument("--profile-append", type=int, default=0)
    p.add_argument("--only", default="", help="run: only these read workloads (comma-separated names, e.g. select,fetch_flags)")
    a = p.parse_args()
    try:
        {"run": run, "idle": idle, "qresync": qresync}[a.mode](a)
    except (Failure, imaplib.IMAP4.error, OSError) as e:
        print("imapwork (%s, %s): %s" % (a.server, a.client, e), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
