# TestRealClientsAgainstServeBinary: smtplib submits with AUTH LOGIN (as
# Outlook does), imaplib reads over implicit TLS.
# Arguments: submission-addr imaps-addr password.
import imaplib, smtplib, ssl, sys
from email.message import EmailMessage
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
sub_host, sub_port = sys.argv[1].rsplit(":", 1)
imap_host, imap_port = sys.argv[2].rsplit(":", 1)
s = smtplib.SMTP(sub_host, int(sub_port))
s.starttls(context=ctx)
s.ehlo()
s.esmtp_features["auth"] = "LOGIN"  # force AUTH LOGIN, as Outlook does
s.login("alice@example.com", sys.argv[3])
m = EmailMessage(); m["From"] = "alice@example.com"; m["To"] = "alice@example.com"; m["Subject"] = "from smtplib"; m.set_content("hi")
s.send_message(m)
s.quit()
M = imaplib.IMAP4_SSL(imap_host, int(imap_port), ssl_context=ctx)
M.login("alice@example.com", sys.argv[3])
typ, d = M.select("INBOX")
print("EXISTS", d[0].decode())
typ, d = M.uid("SEARCH", "SUBJECT", "swaks")
print("SWAKS", d[0].decode())
typ, d = M.uid("FETCH", d[0].split()[0], "(BODY.PEEK[HEADER.FIELDS (Authentication-Results)])")
print("AR", d[0][1].decode().strip().replace("\r\n", " "))
M.logout()
