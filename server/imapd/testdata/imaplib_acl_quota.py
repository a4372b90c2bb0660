# TestPythonImaplibACLQuota: python's imaplib (an independent client)
# drives ID, MYRIGHTS, GETACL, SETACL, DELETEACL and GETQUOTAROOT.
# Argument: host:port.
import imaplib, sys
host, port = sys.argv[1].rsplit(":", 1)
imaplib.Commands["ID"] = ("NONAUTH", "AUTH", "SELECTED")
m = imaplib.IMAP4(host, int(port))
typ, data = m._simple_command("ID", '("name" "imaplib")')
typ, data = m._untagged_response(typ, data, "ID")
assert typ == "OK" and b'"name" "mailsrv"' in data[0], data
m.login("alice@example.com", "correct horse")
caps = m.capability()[1][0].decode().split()
for cap in ("ACL", "RIGHTS=texk", "QUOTA", "QUOTA=RES-STORAGE", "QUOTA=RES-MESSAGE", "ID"):
    assert cap in caps, (cap, caps)
box = '"Shared/info@example.com/INBOX"'
typ, data = m.myrights(box)
assert typ == "OK" and data[0].endswith(b" lrswiktecxa"), data
typ, data = m.setacl(box, "dave@example.com", "lrs")
assert typ == "OK", data
typ, data = m.getacl(box)
assert typ == "OK" and b'"dave@example.com" lrs' in data[0], data
typ, data = m.deleteacl(box, "dave@example.com")
assert typ == "OK", data
typ, data = m.getacl(box)
assert b"dave@example.com" not in data[0], data
typ, data = m.getquotaroot("INBOX")
assert typ == "OK", data
assert data[0][0] == b'INBOX "alice@example.com"', data
assert data[1][0].startswith(b'"alice@example.com" (STORAGE 0 1024'), data
m.logout()
m = imaplib.IMAP4(host, int(port))
m.login("bob@example.com", "correct horse")
typ, data = m.myrights(box)
assert data[0].endswith(b" lrs"), data
typ, data = m.setacl(box, "dave@example.com", "lrswipcd")
assert typ == "NO" and b"[NOPERM]" in data[0], (typ, data)
m.logout()
print("ok")
