#!/usr/bin/env python3
"""Print the ratio tables of one bench/run.sh run and write results.json.

  report.py RESULTS.jsonl OUT.json N BIG [PROFDIR]

RESULTS.jsonl holds one measurement per line (bench/imapwork.py,
bench/cmd/imapbench run and run.sh itself write them):
{"server", "client", "workload", "n", "value", "unit"}. Ratios are always
mailsrv / anchor (Dovecot for IMAP, Postfix for SMTP) from this one run.
A missing anchor prints "-". This script never fails on slow figures.
"""
import glob
import json
import os
import platform
import re
import sys
import time

# (label, client, workload, size key, target text, target test)
# Size key "N" means the 10k folder, "C" the idle connection count, "S" SMTP.
TABLE = [
    ("MX intake, 10 sessions, new connection per message", "smtp-source", "mx_10_sessions", "S", ">= 3x", lambda r: r >= 3),
    ("  same, mailsrv with no fsync at all (experiment)", "smtp-source", "mx_10_sessions", "X", "", None),
    ("MX intake, 1 session (new connection per message)", "smtp-source", "mx_1_session", "S", ">= 2x", lambda r: r >= 2),
    ("  same, mailsrv with no fsync at all (experiment)", "smtp-source", "mx_1_session", "X", "", None),
    ("MX intake, 1 connection for all messages", "smtp-source", "mx_1_connection", "S", "", None),
    ("MX intake, 10 sessions, Go smtpload, STARTTLS", "smtpload-starttls", "mx_10_sessions_reused", "S", "", None),
    ("MX intake, 1 session, Go smtpload, STARTTLS", "smtpload-starttls", "mx_1_sessions_reused", "S", "", None),
    ("IMAP APPEND, one connection (msg/s)", "imaplib", "append", "N", ">= 4x", lambda r: r >= 4),
    ("  same, mailsrv with TCP_QUICKACK (experiment; Q messages)", "imaplib", "append", "Q", "", None),
    ("FETCH 1:* (ENVELOPE)", "imaplib", "fetch_envelope", "N", "<= 0.5", lambda r: r <= 0.5),
    ("UID SEARCH FROM", "imaplib", "search_from", "N", "<= 0.5", lambda r: r <= 0.5),
    ("UID SEARCH BODY (no FTS either side)", "imaplib", "search_body", "N", "<= 0.5", lambda r: r <= 0.5),
    ("1,000 bodies in one FETCH", "imaplib", "fetch_1000_bodies", "N", "<= 0.5", lambda r: r <= 0.5),
    ("SORT (ARRIVAL)", "imaplib", "sort_arrival", "N", "<= 0.5", lambda r: r <= 0.5),
    ("SORT (DATE)", "imaplib", "sort_date", "N", "<= 0.5", lambda r: r <= 0.5),
    ("SORT (SUBJECT)", "imaplib", "sort_subject", "N", "<= 0.5", lambda r: r <= 0.5),
    ("SORT (FROM)", "imaplib", "sort_from", "N", "<= 0.5", lambda r: r <= 0.5),
    ("THREAD REFERENCES", "imaplib", "thread_references", "N", "<= 0.5", lambda r: r <= 0.5),
    ("QRESYNC SELECT after 100 flag changes + 10 expunges", "imaplib", "qresync_select", "N", "<= 0.5", lambda r: r <= 0.5),
    ("  same, whole reconnect (TLS, login, ENABLE, SELECT)", "imaplib", "qresync_reconnect", "N", "", None),
    ("SELECT (first on the connection)", "imaplib", "select_first", "N", "keep", lambda r: r <= 1),
    ("SELECT (again)", "imaplib", "select", "N", "keep", lambda r: r <= 1),
    ("UID FETCH 1:* (FLAGS)", "imaplib", "fetch_flags", "N", "", None),
    ("PSS per idle logged-in TLS connection (KiB)", "imaplib", "pss_idle_conn", "C", "<= 50 KiB", None),
]
IMAP_WORKLOADS = ["append", "select_first", "select", "fetch_flags", "fetch_envelope",
                  "search_from", "search_body", "fetch_1000_bodies",
                  "sort_arrival", "sort_date", "sort_subject", "sort_from", "thread_references",
                  "qresync_select", "qresync_reconnect"]


def fmt(v, unit):
    if v is None:
        return "-"
    if unit == "msg/s":
        return "%.0f msg/s" % v
    if unit == "ms":
        return "%.1f ms" % v if v < 100 else "%.0f ms" % v
    return "%g %s" % (v, unit)


def main():
    src, out, n, big = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    rows = [json.loads(line) for line in open(src) if line.strip()]
    get = {}
    for r in rows:
        get[(r["server"], r["client"], r["workload"], r["n"])] = r
    sizes = {r["workload"]: r["n"] for r in rows if r["workload"].startswith("mx_")}
    conns = next((r["n"] for r in rows if r["workload"] == "pss_idle_conn"), 0)
    qa_n = next((r["n"] for r in rows if r["server"] == "mailsrv-quickack" and r["workload"] == "append"), 0)
    go_append = {r["server"]: r for r in rows if r["client"] == "go-imapclient" and r["workload"] == "append"}

    def val(server, client, workload, n):
        r = get.get((server, client, workload, n))
        return (r["value"], r["unit"]) if r else (None, "")

    table = []
    print("\n== mailsrv vs %s, one run (ratio = mailsrv / anchor)" % "Dovecot 2.3 / Postfix")
    print("| workload | client | mailsrv | anchor | ratio | target | met |")
    print("|---|---|---|---|---|---|---|")
    for label, client, wl, key, target, test in TABLE:
        size = {"N": n, "C": conns, "S": sizes.get(wl, 0), "X": sizes.get(wl, 0), "Q": qa_n}[key]
        anchor = "postfix" if wl.startswith("mx_") else "dovecot"
        m, unit = val({"Q": "mailsrv-quickack", "X": "mailsrv-nosync"}.get(key, "mailsrv"), client, wl, size)
        a, _ = val(anchor, client, wl, n if key == "Q" else size)
        if m is None:
            continue
        ratio = m / a if a else None
        if wl == "pss_idle_conn":
            met = m <= 50
        elif test and ratio is not None:
            met = test(ratio)
        else:
            met = None
        table.append({"workload": label, "client": client, "key": wl, "n": size, "unit": unit,
                      "mailsrv": m, "anchor": a, "anchor_server": anchor, "ratio": ratio,
                      "target": target, "met": met})
        print("| %s | %s | %s | %s | %s | %s | %s |" % (
            label, client, fmt(m, unit), fmt(a, unit) if a is not None else "-",
            "%.2f" % ratio if ratio is not None else "-", target or "",
            {True: "yes", False: "no", None: ""}[met]))

    print("\n== the same IMAP workloads by client, %d messages (ms; APPEND msg/s)" % n)
    clients = ["imaplib", "raw", "go-imapclient"]
    by_client = []
    print("| workload | " + " | ".join("%s %s" % (s, c) for s in ("mailsrv", "dovecot") for c in clients) + " |")
    print("|---|" + "---|" * 6)
    for wl in IMAP_WORKLOADS:
        cells, rec = [], {"workload": wl}
        for s in ("mailsrv", "dovecot"):
            for c in clients:
                v, unit = val(s, c, wl, n)
                if v is None and wl == "append" and c == "go-imapclient" and s in go_append:
                    v, unit = go_append[s]["value"], "msg/s"  # its own, smaller count
                rec["%s/%s" % (s, c)] = v
                cells.append(fmt(v, unit))
        by_client.append(rec)
        print("| %s | %s |" % (wl, " | ".join(cells)))

    print("\n== growth %d -> %d messages (time ratio; %.0f = linear; APPEND: rate ratio, 1 = flat)" % (n, big, big / n))
    growth = []
    print("| workload | client | mailsrv %d | mailsrv %d | growth | dovecot %d | dovecot %d | growth |" % (n, big, n, big))
    print("|---|---|---|---|---|---|---|---|")
    for client in ("imaplib", "raw"):
        for wl in IMAP_WORKLOADS:
            cells, rec = [], {"workload": wl, "client": client}
            for s in ("mailsrv", "dovecot"):
                small, unit = val(s, client, wl, n)
                large, _ = val(s, client, wl, big)
                g = large / small if small and large is not None else None
                rec[s] = {"small": small, "large": large, "growth": g}
                cells += [fmt(small, unit), fmt(large, unit), "%.1f" % g if g is not None else "-"]
            if rec["mailsrv"]["small"] is None and rec["mailsrv"]["large"] is None:
                continue
            growth.append(rec)
            print("| %s | %s | %s |" % (wl, client, " | ".join(cells)))

    cpu = []
    if any(r["workload"].startswith("server_cpu_") for r in rows):
        print("\n== server CPU per run (user+system from /proc, 10 ms ticks) vs the raw client's wall time")
        print("| workload | n | mailsrv wall | mailsrv CPU | dovecot wall | dovecot CPU | CPU ratio |")
        print("|---|---|---|---|---|---|---|")
        for size in (n, big):
            for wl in IMAP_WORKLOADS[2:]:
                mw, _ = val("mailsrv", "raw", wl, size)
                mc, _ = val("mailsrv", "raw", "server_cpu_" + wl, size)
                dw, _ = val("dovecot", "raw", wl, size)
                dc, _ = val("dovecot", "raw", "server_cpu_" + wl, size)
                if mc is None and dc is None:
                    continue
                ratio = mc / dc if mc is not None and dc else None
                cpu.append({"workload": wl, "n": size, "mailsrv_wall_ms": mw, "mailsrv_cpu_ms": mc,
                            "dovecot_wall_ms": dw, "dovecot_cpu_ms": dc, "cpu_ratio": ratio})
                print("| %s | %d | %s | %s | %s | %s | %s |" % (wl, size, fmt(mw, "ms"), fmt(mc, "ms"),
                      fmt(dw, "ms"), fmt(dc, "ms"), "%.2f" % ratio if ratio is not None else "-"))

    cold = {r["workload"]: r for r in rows if r["workload"].startswith("coldstart_")}
    if cold:
        cn = next(iter(cold.values()))["n"]
        print("\n== cold start of mailsrv serve over a %d-message folder (bench/coldstart.sh; medians)" % cn)
        print("| step | mailsrv | target | met |")
        print("|---|---|---|---|")
        for wl, label, limit in (("coldstart_listen", "exec -> IMAP port accepting", 200),
                                 ("coldstart_first_select", "first SELECT of the big folder", 50),
                                 ("coldstart_listen_cpu", "server CPU until listening", None),
                                 ("coldstart_server_cpu", "server CPU until that SELECT answered (incl. LOGIN's argon2id)", None)):
            if wl in cold:
                v = cold[wl]["value"]
                print("| %s | %s | %s | %s |" % (label, fmt(v, "ms"), "< %d ms" % limit if limit else "",
                      ("yes" if v < limit else "no") if limit else ""))

    mx_cpu = []
    for wl in ("mx_10_sessions", "mx_1_session", "mx_1_connection"):
        mc, _ = val("mailsrv", "smtp-source", "server_cpu_" + wl, sizes.get(wl, 0))
        pc, _ = val("postfix", "smtp-source", "server_cpu_" + wl, sizes.get(wl, 0))
        if mc is not None or pc is not None:
            mx_cpu.append({"workload": wl, "mailsrv_cpu_ms_per_msg": mc, "postfix_cpu_ms_per_msg": pc,
                           "cpu_ratio": mc / pc if mc is not None and pc else None})
    if mx_cpu:
        print("\n== MX server CPU per message (ms, user+system of the process tree from /proc; Postfix's includes its local delivery)")
        print("| workload | mailsrv | postfix | ratio |")
        print("|---|---|---|---|")
        for r in mx_cpu:
            print("| %s | %s | %s | %s |" % (r["workload"], "%.2f" % r["mailsrv_cpu_ms_per_msg"] if r["mailsrv_cpu_ms_per_msg"] is not None else "-",
                  "%.2f" % r["postfix_cpu_ms_per_msg"] if r["postfix_cpu_ms_per_msg"] is not None else "-",
                  "%.2f" % r["cpu_ratio"] if r["cpu_ratio"] is not None else "-"))

    profiles = profile_table(rows, sys.argv[5]) if len(sys.argv) > 5 else []

    load = {r["workload"]: r["value"] for r in rows if r["server"] == "host"}
    doc = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "host": {"cores": os.cpu_count(), "python": platform.python_version(), **load},
        "n": n, "big": big, "table": table, "by_client": by_client, "growth": growth, "server_cpu": cpu, "mx_cpu": mx_cpu, "profiles": profiles, "results": rows,
    }
    with open(out, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print("\nload average before/after: %s / %s; written %s" % (load.get("loadavg_before"), load.get("loadavg_after"), out))


def profile_table(rows, profdir):
    """Server CPU per run (CPU profile samples / runs) against the wall time
    the client saw per run, for every profiled workload."""
    runs = {(r["workload"][len("profiled_runs_"):], r["n"]): r["value"] for r in rows
            if r["workload"].startswith("profiled_runs_")}
    wall = {(r["workload"][len("profiled_wall_"):], r["n"]): r["value"] for r in rows
            if r["workload"].startswith("profiled_wall_")}
    out = []
    for (wl, n), k in sorted(runs.items()):
        name = "%s_%d" % (wl, n) if not wl.startswith("mx_") else wl
        path = os.path.join(profdir, name + ".top.txt")
        if not os.path.exists(path):
            continue
        m = re.search(r"Total samples = ([\d.]+)(ms|s)", open(path).read())
        if not m or not k:
            continue
        cpu = float(m.group(1)) * (1 if m.group(2) == "ms" else 1000) / k
        out.append({"workload": wl, "n": n, "runs": k, "server_cpu_ms": round(cpu, 3),
                    "client_wall_ms": wall.get((wl, n)), "profile": name + ".pprof"})
    if out:
        print("\n== mailsrv CPU per run (profile samples / runs) vs the client's wall time per run")
        print("| workload | n | runs | server CPU ms/run | client wall ms/run | server share |")
        print("|---|---|---|---|---|---|")
        for p in out:
            w = p["client_wall_ms"]
            print("| %s | %d | %d | %.3f | %s | %s |" % (p["workload"], p["n"], p["runs"], p["server_cpu_ms"],
                  "%.3f" % w if w else "-", "%.0f %%" % (100 * p["server_cpu_ms"] / w) if w else "-"))
    return out


if __name__ == "__main__":
    main()
