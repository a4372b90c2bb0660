# TestPythonImaplibOverTLS: imaplib refuses to log in without TLS, then
# reads over STARTTLS and implicit TLS. Arguments: plain-addr tls-addr cafile.
import imaplib, ssl, sys
plain, tls, cafile = sys.argv[1], sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=cafile)
def hp(a):
    h, p = a.rsplit(":", 1)
    return h, int(p)
# Without TLS, login is refused (LOGINDISABLED).
m = imaplib.IMAP4(*hp(plain))
assert "LOGINDISABLED" in m.capabilities, m.capabilities
try:
    m.login("alice@example.com", "correct horse")
    raise SystemExit("login without TLS accepted")
except imaplib.IMAP4.error:
    pass
m.starttls(ssl_context=ctx)
typ, _ = m.login("alice@example.com", "correct horse")
assert typ == "OK"
m.logout()
# Implicit TLS.
m = imaplib.IMAP4_SSL(*hp(tls), ssl_context=ctx)
m.login("alice@example.com", "correct horse")
typ, data = m.select("INBOX")
assert typ == "OK" and data[0] == b"2", data
typ, data = m.uid("SEARCH", None, "FROM", "sender2@")
assert data[0] == b"2", data
typ, data = m.fetch("1", "(RFC822)")
assert b"Subject: message 1" in data[0][1], data
typ, data = m.store("1", "+FLAGS", "(\\Flagged)")
assert typ == "OK" and b"\\Flagged" in data[0], data
typ, data = m.list('""', '"Shared/*"')
assert any(b"Shared/info@example.com/INBOX" in l for l in data), data
m.append("Drafts", "(\\Draft)", None, b"Subject: draft\r\n\r\nhi\r\n")
typ, data = m.status("Drafts", "(MESSAGES)")
assert b"MESSAGES 1" in data[0], data
m.logout()
print("ok")
