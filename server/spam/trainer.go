package spam

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"mailsrv/server/metrics"
	"mailsrv/store"
)

// trainQueue bounds the events waiting for the trainer. Training is best
// effort: when users move thousands of messages faster than they can be
// read, the overflow is logged and skipped, never blocking the store.
const trainQueue = 4096

// Trainer learns from what people do with their mail, whichever client
// does it (IMAP, webmail, CLI): it subscribes to the store's change events
// and trains the mailbox's classifier when a message is moved or copied
// into Junk (spam) or out of Junk into any folder but Trash (ham), or when
// $Junk / Junk (spam) or $NotJunk / NonJunk (ham) is set. Messages stored
// in a Sent folder teach it who the mailbox writes to.
type Trainer struct {
	store   Store
	metrics *metrics.Metrics
	log     *slog.Logger
	events  chan store.Event
	cancel  func()
	// dropped counts events skipped since the last warning, which is
	// logged at most every dropWarnEvery so a flood cannot flood the log.
	dropped  atomic.Int64
	lastWarn atomic.Int64 // unix nanoseconds
}

const dropWarnEvery = 10 * time.Second

// NewTrainer subscribes at once (so nothing done before Run is missed);
// Run processes the events, Close unsubscribes.
func NewTrainer(st Store, m *metrics.Metrics, log *slog.Logger) *Trainer {
	if log == nil {
		log = slog.Default()
	}
	t := &Trainer{store: st, metrics: m, log: log.With("component", "junk-trainer"), events: make(chan store.Event, trainQueue)}
	t.cancel = st.Subscribe(t.offer)
	return t
}

// offer runs on the store's committer goroutine: it only filters and
// queues, never blocks.
func (t *Trainer) offer(ev store.Event) {
	switch ev.Kind {
	case store.EventNew:
	case store.EventFlags:
		if !anyKeywordAdded(ev) {
			return
		}
	default:
		return
	}
	select {
	case t.events <- ev:
	default:
		n := t.dropped.Add(1)
		now := time.Now().UnixNano()
		if last := t.lastWarn.Load(); now-last >= int64(dropWarnEvery) && t.lastWarn.CompareAndSwap(last, now) {
			t.dropped.Add(-n)
			t.log.Warn("junk filter training queue full; changes skipped", "skipped", n)
		}
	}
}

// Close stops the subscription.
func (t *Trainer) Close() { t.cancel() }

// Run trains from queued events until ctx ends.
func (t *Trainer) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-t.events:
			t.handle(ctx, ev)
		}
	}
}

// Keywords that mark a message as spam or as not spam: RFC 5788's
// registered $Junk/$NotJunk and Thunderbird's older Junk/NonJunk.
var (
	junkKeywords    = []string{"$Junk", "Junk"}
	notJunkKeywords = []string{"$NotJunk", "NonJunk", "NotJunk"}
)

func hasKeyword(flags, kws []string) bool {
	return slices.ContainsFunc(flags, func(f string) bool {
		return slices.ContainsFunc(kws, func(k string) bool { return strings.EqualFold(f, k) })
	})
}

// added returns the flags in next that are not in prev.
func added(prev, next []string) []string {
	var out []string
	for _, f := range next {
		if !slices.ContainsFunc(prev, func(p string) bool { return strings.EqualFold(p, f) }) {
			out = append(out, f)
		}
	}
	return out
}

func anyKeywordAdded(ev store.Event) bool {
	for i := range ev.UIDs {
		if classOf(ev, i) != 0 {
			return true
		}
	}
	return false
}

// classOf says what flag change i of ev teaches: +1 spam, -1 ham, 0 nothing.
func classOf(ev store.Event, i int) int {
	if i >= len(ev.Flags) {
		return 0
	}
	var prev []string
	if i < len(ev.Prev) {
		prev = ev.Prev[i]
	}
	a := added(prev, ev.Flags[i])
	spam, ham := hasKeyword(a, junkKeywords), hasKeyword(a, notJunkKeywords)
	switch {
	case spam && !ham:
		return 1
	case ham && !spam:
		return -1
	}
	return 0
}

func isJunkFolder(f *store.Folder) bool {
	return f.SpecialUse == `\Junk` || strings.EqualFold(f.Name, "Junk") || strings.EqualFold(f.Name, "Spam")
}

func isTrashFolder(f *store.Folder) bool {
	return f.SpecialUse == `\Trash` || strings.EqualFold(f.Name, "Trash")
}

func isSentFolder(f *store.Folder) bool {
	return f.SpecialUse == `\Sent` || strings.EqualFold(f.Name, "Sent")
}

func (t *Trainer) handle(ctx context.Context, ev store.Event) {
	switch ev.Kind {
	case store.EventFlags:
		var spam, ham []uint32
		for i, uid := range ev.UIDs {
			switch classOf(ev, i) {
			case 1:
				spam = append(spam, uid)
			case -1:
				ham = append(ham, uid)
			}
		}
		t.train(ctx, ev.MailboxID, ev.FolderID, spam, true, "keyword")
		t.train(ctx, ev.MailboxID, ev.FolderID, ham, false, "keyword")
	case store.EventNew:
		dst, err := t.store.FolderByID(ctx, ev.FolderID)
		if err != nil {
			return // gone meanwhile
		}
		if isSentFolder(dst) {
			t.learnRecipients(ctx, dst, ev.UIDs)
		}
		if ev.Source == 0 {
			return // delivery or APPEND: nobody judged it
		}
		src, err := t.store.FolderByID(ctx, ev.Source)
		if err != nil {
			return
		}
		switch {
		case isJunkFolder(dst) && !isJunkFolder(src):
			t.train(ctx, dst.MailboxID, dst.ID, ev.UIDs, true, "moved into "+dst.Name)
		case isJunkFolder(src) && !isJunkFolder(dst) && !isTrashFolder(dst):
			t.train(ctx, dst.MailboxID, dst.ID, ev.UIDs, false, "moved out of "+src.Name)
		}
	}
}

// train trains uids of folder fid as spam or ham for mailbox mbid.
func (t *Trainer) train(ctx context.Context, mbid, fid uint64, uids []uint32, spam bool, why string) {
	if len(uids) == 0 {
		return
	}
	msgs, err := t.store.Messages(ctx, fid, uids)
	if err != nil {
		t.log.Warn("junk filter: read messages to train", "folder", fid, "err", err)
		return
	}
	class := "ham"
	if spam {
		class = "spam"
	}
	for _, m := range msgs {
		feat, err := t.features(ctx, m.Blob)
		if err != nil {
			t.log.Warn("junk filter: read message to train", "blob", m.Blob, "err", err)
			continue
		}
		var senders []string
		if feat.From != "" {
			senders = append(senders, feat.From)
			if d := domainOf(feat.From); d != "" {
				senders = append(senders, "@"+d)
			}
		}
		changed, err := t.store.SpamTrain(ctx, mbid, store.SpamSample{Key: m.Blob, Spam: spam, Tokens: feat.Hashes(), Senders: senders})
		if err != nil {
			t.log.Error("junk filter: train", "mailbox", mbid, "err", err)
			continue
		}
		if changed {
			t.metrics.SpamTrained(class)
			t.log.Info("junk filter trained", "mailbox", mbid, "class", class, "uid", m.UID, "why", why)
		}
	}
}

// features tokenizes a stored message body as it was received (the blob,
// without the trace prefix that holds our own X-Spam fields).
func (t *Trainer) features(ctx context.Context, blob string) (Features, error) {
	r, err := t.store.OpenBlob(ctx, blob)
	if err != nil {
		return Features{}, err
	}
	defer r.Close()
	return Tokenize(r), nil
}

// learnRecipients remembers the recipients (and their domains) of
// messages stored in a Sent folder as known senders of its mailbox.
func (t *Trainer) learnRecipients(ctx context.Context, sent *store.Folder, uids []uint32) {
	msgs, err := t.store.Messages(ctx, sent.ID, uids)
	if err != nil {
		return
	}
	var known []string
	for _, m := range msgs {
		feat, err := t.features(ctx, m.Blob)
		if err != nil {
			if !errors.Is(err, store.ErrNotFound) {
				t.log.Warn("junk filter: read sent message", "blob", m.Blob, "err", err)
			}
			continue
		}
		for _, a := range feat.Recipients {
			known = append(known, a)
			if d := domainOf(a); d != "" {
				known = append(known, "@"+d)
			}
		}
	}
	if err := t.store.SpamAddKnown(ctx, sent.MailboxID, known); err != nil {
		t.log.Error("junk filter: remember recipients", "mailbox", sent.MailboxID, "err", err)
	}
}
