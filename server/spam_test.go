package server

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-smtp"

	"mailsrv/server/spam/spamtest"
	"mailsrv/store"
)

// mxSendAll delivers msgs over one MX connection, in order.
func mxSendAll(t *testing.T, s *Server, msgs []spamtest.Message) {
	t.Helper()
	c, err := smtp.Dial(s.Addr("smtp").String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, m := range msgs {
		if err := c.SendMail(m.From, []string{"alice@example.com"}, strings.NewReader(m.Raw)); err != nil {
			t.Fatalf("MX: %v", err)
		}
	}
	c.Quit()
}

// lastMessage returns the raw text (with our trace fields) and blob of the
// newest message in addr's folder, or "" when it is empty.
func lastMessage(t *testing.T, st *store.Store, mbid uint64, folder string) (raw, blob string) {
	t.Helper()
	f, err := st.GetFolder(t.Context(), mbid, folder)
	if err != nil {
		t.Fatal(err)
	}
	uids, _ := st.FolderUIDs(t.Context(), f.ID)
	if len(uids) == 0 {
		return "", ""
	}
	msgs, err := st.Messages(t.Context(), f.ID, uids[len(uids)-1:])
	if err != nil || len(msgs) != 1 {
		t.Fatal(err)
	}
	rc, err := st.OpenMessage(t.Context(), &msgs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	return string(b), msgs[0].Blob
}

func spamStatus(raw string) string {
	hdr, _, _ := strings.Cut(raw, "\r\n\r\n")
	hdr = strings.ReplaceAll(hdr, "\r\n\t", " ")
	for _, l := range strings.Split(hdr, "\r\n") {
		if v, ok := strings.CutPrefix(l, "X-Spam-Status: "); ok {
			return v
		}
	}
	return ""
}

// waitFor polls cond (the trainer works asynchronously, after commit).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// The junk filter end to end, with real clients only: mail arrives over
// SMTP, Alice judges it over IMAP (MOVE into Junk, $NotJunk), the filter
// then files new spam in Junk; moving a message out of Junk retrains it
// and makes its sender known; a recipient of Alice's Sent mail is never
// junked by the filter alone; a shared mailbox has a filter of its own.
func TestJunkFilterLearnsFromIMAP(t *testing.T) {
	s, info := infoFixture(t)
	st := s.Store()
	alice, _ := st.User(t.Context(), "alice@example.com")
	mbid := alice.MailboxID

	corpus := spamtest.Corpus(7, 40) // ham, spam, ham, ...
	train, rest := corpus[:24], corpus[24:]
	mxSendAll(t, s, train)
	if raw, _ := lastMessage(t, st, mbid, "INBOX"); !strings.HasPrefix(spamStatus(raw), "No, ") {
		t.Fatalf("untrained filter: X-Spam-Status %q", spamStatus(raw))
	}

	c, err := imapclient.DialTLS(s.Addr("imaps").String(), &imapclient.Options{TLSConfig: insecureTLS})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("alice@example.com", "alice-password").Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	var spamUIDs, hamUIDs imap.UIDSet
	for i, m := range train {
		if m.Spam {
			spamUIDs.AddNum(imap.UID(i + 1))
		} else {
			hamUIDs.AddNum(imap.UID(i + 1))
		}
	}
	if _, err := c.Move(spamUIDs, "Junk").Wait(); err != nil {
		t.Fatalf("MOVE to Junk: %v", err)
	}
	if err := c.Store(hamUIDs, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{"$NotJunk"}}, nil).Close(); err != nil {
		t.Fatalf("STORE $NotJunk: %v", err)
	}
	waitFor(t, "12 spam and 12 ham trained", func() bool {
		stt, _ := st.SpamStatsOf(t.Context(), mbid)
		return stt.Spam == 12 && stt.Ham == 12
	})

	// New mail is now judged: spam to Junk, ham to INBOX.
	var nextSpam, nextHam spamtest.Message
	for _, m := range rest {
		if m.Spam && nextSpam.Raw == "" {
			nextSpam = m
		} else if !m.Spam && nextHam.Raw == "" {
			nextHam = m
		}
	}
	mxSendAll(t, s, []spamtest.Message{nextSpam, nextHam})
	junkRaw, junkBlob := lastMessage(t, st, mbid, "Junk")
	if !strings.Contains(junkRaw, nextSpam.Raw) || !strings.HasPrefix(spamStatus(junkRaw), "Yes, ") || !strings.Contains(spamStatus(junkRaw), "BAYES_SPAM(5.0)") {
		t.Fatalf("new spam not junked by the filter:\n%.600s", junkRaw)
	}
	if raw, _ := lastMessage(t, st, mbid, "INBOX"); !strings.Contains(raw, nextHam.Raw) || !strings.HasPrefix(spamStatus(raw), "No, ") {
		t.Fatalf("new ham not in INBOX: %q", spamStatus(raw))
	}
	if tr, _ := st.SpamTrainedAs(t.Context(), mbid, junkBlob); tr != "" {
		t.Fatalf("the filter's own Junk delivery trained it as %q", tr)
	}

	// Alice disagrees: she moves it out of Junk. That trains it as ham
	// and makes the sender known: their next spam stays out of Junk.
	if _, err := c.Select("Junk", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	junkUIDs, err := c.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: subjectOf(nextSpam.Raw)}}}, nil).Wait()
	if err != nil || len(junkUIDs.AllUIDs()) == 0 {
		t.Fatalf("SEARCH in Junk: %v %v", err, junkUIDs)
	}
	if _, err := c.Move(junkUIDs.All, "INBOX").Wait(); err != nil {
		t.Fatalf("MOVE out of Junk: %v", err)
	}
	waitFor(t, "the message moved out of Junk trained as ham", func() bool {
		tr, _ := st.SpamTrainedAs(t.Context(), mbid, junkBlob)
		return tr == "ham"
	})
	// One of the trained spam moved back retrains it: spam -1, ham +1.
	trainedSpam := uint32(12)
	if _, err := c.Move(imap.UIDSetNum(1), "Archive").Wait(); err != nil {
		t.Fatalf("MOVE to Archive: %v", err)
	}
	waitFor(t, "a trained spam retrained as ham", func() bool {
		stt, _ := st.SpamStatsOf(t.Context(), mbid)
		return stt.Spam == trainedSpam-1 && stt.Ham == 14
	})
	again := nextSpam
	again.Raw = strings.Replace(again.Raw, "Message-ID: <", "Message-ID: <again", 1)
	mxSendAll(t, s, []spamtest.Message{again})
	if raw, _ := lastMessage(t, st, mbid, "INBOX"); !strings.Contains(spamStatus(raw), "KNOWN_SENDER") || !strings.HasPrefix(spamStatus(raw), "No, ") {
		t.Fatalf("known (ham) sender junked: %q", spamStatus(raw))
	}

	// Somebody Alice wrote to (her Sent folder) is known too.
	var other spamtest.Message
	for _, m := range rest {
		if m.Spam && m.From != nextSpam.From && m.Shape == "pharmacy" {
			other = m
			break
		}
	}
	sent := "From: alice@example.com\r\nTo: <" + other.From + ">\r\nSubject: unsubscribe me\r\n\r\nPlease stop.\r\n"
	cmd := c.Append("Sent", int64(len(sent)), nil)
	cmd.Write([]byte(sent))
	cmd.Close()
	if _, err := cmd.Wait(); err != nil {
		t.Fatalf("APPEND to Sent: %v", err)
	}
	waitFor(t, "Sent recipient known", func() bool {
		k, _ := st.SpamKnown(t.Context(), mbid, []string{other.From})
		return k[other.From] == "sent"
	})
	mxSendAll(t, s, []spamtest.Message{other})
	if raw, _ := lastMessage(t, st, mbid, "INBOX"); !strings.Contains(raw, other.Raw) || !strings.Contains(spamStatus(raw), "KNOWN_SENDER") {
		t.Fatalf("Sent recipient's mail junked: %q", spamStatus(raw))
	}

	// The shared mailbox's filter is its own: a member's move into its
	// Junk trains info@, not Alice.
	before, _ := st.SpamStatsOf(t.Context(), mbid)
	c2, err := smtp.Dial(s.Addr("smtp").String())
	if err != nil {
		t.Fatal(err)
	}
	if err := c2.SendMail(other.From, []string{"info@example.com"}, strings.NewReader(other.Raw)); err != nil {
		t.Fatal(err)
	}
	c2.Quit()
	if _, err := c.Select("Shared/info@example.com/INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Move(imap.SeqSetNum(1), "Shared/info@example.com/Junk").Wait(); err != nil {
		t.Fatalf("MOVE in the shared mailbox: %v", err)
	}
	waitFor(t, "info@'s filter trained", func() bool {
		stt, _ := st.SpamStatsOf(t.Context(), info.ID)
		return stt.Spam == 1
	})
	if after, _ := st.SpamStatsOf(t.Context(), mbid); after.Spam != before.Spam || after.Ham != before.Ham {
		t.Fatalf("a move in info@ trained Alice's filter: %+v → %+v", before, after)
	}
}

func subjectOf(raw string) string {
	for _, l := range strings.Split(raw, "\r\n") {
		if v, ok := strings.CutPrefix(l, "Subject: "); ok {
			return v
		}
	}
	return ""
}
