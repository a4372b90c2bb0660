# TestSubmissionPythonSmtplib: smtplib with STARTTLS and AUTH LOGIN
# (what Outlook uses). Arguments: host port user password.
import smtplib, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP(sys.argv[1], int(sys.argv[2]), timeout=10)
s.ehlo("client.test")
s.starttls(context=ctx)
s.ehlo("client.test")
s.user, s.password = sys.argv[3], sys.argv[4]
code, resp = s.auth("LOGIN", s.auth_login, initial_response_ok=False)
assert code == 235, (code, resp)
s.sendmail("alice@example.com", ["bob@example.com"], "From: alice@example.com\r\nTo: bob@example.com\r\nSubject: from python\r\n\r\nhi\r\n")
s.quit()
