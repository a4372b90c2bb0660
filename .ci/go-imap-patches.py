#!/usr/bin/env python3
"""Fail when third_party/go-imap differs from the upstream module it was
copied from (github.com/emersion/go-imap/v2@v2.0.0-beta.8) outside a
marked patch.

A patch region runs from a line containing "mailsrv patch" (usually
"// mailsrv patch: why") to a line containing "mailsrv patch end"; a line
that itself contains "mailsrv patch" is covered too. A file that is ours
alone says "mailsrv patch: whole file" in its first lines. Every changed
or added line must be covered, and a deletion must sit next to a covered
line; blank and import lines are free. Usage: go-imap-patches.py [UPSTREAM_DIR] (default: go mod download).
"""
import difflib
import json
import os
import re
import subprocess
import sys

MODULE = "github.com/emersion/go-imap/v2@v2.0.0-beta.8"
OURS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "third_party", "go-imap")


def upstream_dir():
    if len(sys.argv) > 1:
        return sys.argv[1]
    out = subprocess.run(["go", "mod", "download", "-json", MODULE], check=True,
                         capture_output=True, text=True, cwd=OURS).stdout
    return json.loads(out)["Dir"]


def files(root):
    found = set()
    for d, _, names in os.walk(root):
        for n in names:
            found.add(os.path.relpath(os.path.join(d, n), root))
    return found


# An import line follows the code that needs it (the compiler insists), so
# adding or removing one is free.
IMPORT_SPEC = re.compile(r'^\s*(\w+\s+|_\s+|\.\s+)?"[^"]+"\s*$')


def free(line):
    return not line.strip() or IMPORT_SPEC.match(line) is not None


def coverage(lines):
    cov, on = [], False
    for l in lines:
        if "mailsrv patch end" in l:
            cov.append(True)
            on = False
        elif "mailsrv patch" in l:
            cov.append(True)
            on = True
        else:
            cov.append(on)
    return cov


def read(path):
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        return f.read().splitlines()


def main():
    up = upstream_dir()
    problems = []
    theirs, ours = files(up), files(OURS)
    for rel in sorted(theirs - ours):
        problems.append(f"{rel}: upstream file missing from the copy")
    for rel in sorted(ours - theirs):
        head = "\n".join(read(os.path.join(OURS, rel))[:3])
        if "mailsrv patch: whole file" not in head:
            problems.append(f"{rel}: file not in upstream and not marked 'mailsrv patch: whole file'")
    patched = 0
    for rel in sorted(theirs & ours):
        a, b = read(os.path.join(up, rel)), read(os.path.join(OURS, rel))
        if a == b:
            continue
        patched += 1
        cov = coverage(b)
        sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
        for op, i1, i2, j1, j2 in sm.get_opcodes():
            if op == "equal":
                continue
            if op in ("replace", "insert"):
                for j in range(j1, j2):
                    if not cov[j] and not free(b[j]):
                        problems.append(f"{rel}:{j + 1}: change outside a mailsrv patch region: {b[j].strip()[:80]}")
            else:  # delete
                if all(free(l) for l in a[i1:i2]):
                    continue
                near = [k for k in (j1 - 1, j1) if 0 <= k < len(b)]
                if not any(cov[k] for k in near):
                    problems.append(f"{rel}:{j1 + 1}: upstream lines {i1 + 1}-{i2} removed outside a mailsrv patch region")
    if problems:
        print("third_party/go-imap differs from %s outside marked patches:" % MODULE)
        for p in problems:
            print("  " + p)
        return 1
    print("third_party/go-imap: %d patched files, %d files of our own, every change marked" % (patched, len(ours - theirs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
