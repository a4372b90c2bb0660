package smtpd

import (
	"testing"

	"github.com/emersion/go-smtp"

	"mailsrv/internal/testkit"
	"mailsrv/store"
)

// postmaster@ and abuse@ of every local domain are accepted without a user
// or alias of that name (SPEC §4): they go to the postmaster role's
// holders, else to the domain's first user; a real alias still wins.
func TestMXPostmasterAndAbuse(t *testing.T) {
	e := newMXEnv(t)
	testkit.Must(t, e.st.AddDomain(t.Context(), store.Domain{Name: "empty.test"}))

	// No role holder: the domain's first user (alice) gets them.
	testkit.Must(t, e.send("s@good.test", []string{"Postmaster@example.com"}, message("s@good.test", "postmaster@example.com", "dmarc report", "r\r\n")))
	testkit.Must(t, e.send("s@good.test", []string{"abuse@example.com"}, message("s@good.test", "abuse@example.com", "complaint", "c\r\n")))
	if got := e.folder(t, "alice@example.com", "INBOX"); len(got) != 2 {
		t.Fatalf("alice has %d messages, want 2", len(got))
	}
	// A domain without users has nobody to receive them: 550, not a loss.
	c, err := smtp.Dial(e.addr)
	testkit.Must(t, err)
	defer c.Close()
	testkit.Must(t, c.Hello("client.good.test"))
	testkit.Must(t, c.Mail("s@good.test", nil))
	wantCode(t, c.Rcpt("postmaster@empty.test", nil), 550, "5.1.1")
	// Other unknown names still bounce.
	wantCode(t, c.Rcpt("hostmaster@example.com", nil), 550, "5.1.1")

	// With role holders, they (and not alice) receive it, for every domain.
	for _, u := range []string{"bob@example.com", "carol@example.com"} {
		if _, err := e.st.GrantRole(t.Context(), u, store.RolePostmaster, "admin"); err != nil {
			t.Fatal(err)
		}
	}
	testkit.Must(t, e.send("s@good.test", []string{"postmaster@example.com", "abuse@empty.test"}, message("s@good.test", "postmaster@example.com", "report 2", "r\r\n")))
	for a, want := range map[string]int{"alice@example.com": 2, "bob@example.com": 1, "carol@example.com": 1} {
		if got := e.folder(t, a, "INBOX"); len(got) != want {
			t.Errorf("%s has %d messages, want %d", a, len(got), want)
		}
	}
	// An alias named postmaster@ is used as it is.
	testkit.Must(t, e.st.AddAlias(t.Context(), "postmaster@example.com", "info@example.com"))
	testkit.Must(t, e.send("s@good.test", []string{"postmaster@example.com"}, message("s@good.test", "postmaster@example.com", "to alias", "a\r\n")))
	if got := e.folder(t, "info@example.com", "INBOX"); len(got) != 1 {
		t.Errorf("info@ has %d messages, want 1", len(got))
	}
	if got := e.folder(t, "bob@example.com", "INBOX"); len(got) != 1 {
		t.Errorf("bob has %d messages after the alias, want 1", len(got))
	}
}
