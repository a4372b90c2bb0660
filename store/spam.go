package store

// Junk-filter state of each mailbox (server/spam owns the filter; the
// store only keeps its counts, so backup, restore and `mailbox backup`'s
// snapshot carry them like any other data).
//
//	spam  mailbox id u64 → nested bucket with
//	        "stats" → JSON SpamStats
//	        "t": token hash u64 BE → spam count u32 BE ++ ham count u32 BE
//	        "m": message key (blob id) → "s" | "h": how it was trained, so
//	             training twice does not count twice and a message moved
//	             out of Junk is untrained as spam before it counts as ham
//	        "k": known sender address or "@domain" → "S" (the mailbox wrote
//	             to it) | "H" (kept a message from it as ham)
//
// Everything is bounded: at most MaxSpamTokens tokens (the rarest are
// pruned first), MaxSpamTrained message keys (the oldest go first) and
// MaxSpamKnown known senders per mailbox.

import (
	"bytes"
	"context"
	"encoding/binary"
	"time"

	"mailsrv/store/kv"
)

// Bounds of one mailbox's filter state (about 4 MB at most).
const (
	MaxSpamTokens  = 100_000
	MaxSpamTrained = 50_000
	MaxSpamKnown   = 20_000
)

// SpamMinTrained is how many spam and how many ham messages a mailbox's
// filter needs before it decides anything.
const SpamMinTrained = 10

// SpamStats summarises a mailbox's filter state.
type SpamStats struct {
	// Spam and Ham count the messages the filter currently holds as
	// trained spam and ham.
	Spam uint32 `json:"spam"`
	Ham  uint32 `json:"ham"`
	// Trained is how many messages were ever trained (retraining a message
	// from one class to the other counts again).
	Trained uint64 `json:"trained"`
	// Tokens is the number of distinct tokens kept; Known the number of
	// known senders (addresses and domains).
	Tokens  int       `json:"tokens"`
	Known   int       `json:"known_senders"`
	Updated time.Time `json:"updated,omitzero"`
	// Messages is how many message keys are kept (bounded by
	// MaxSpamTrained; the oldest are forgotten first).
	Messages int `json:"messages_kept"`
}

// SpamCounts is one token's counts.
type SpamCounts struct{ Spam, Ham uint32 }

// SpamSample is one message to train.
type SpamSample struct {
	// Key identifies the message across copies: its blob id.
	Key    string
	Spam   bool
	Tokens []uint64 // hashed tokens, each once
	// Senders are remembered as known (value "H") when the message is ham
	// and forgotten again when a ham message is retrained as spam.
	Senders []string
}

func spamBucket(tx kv.Tx, mbid uint64) kv.Bucket {
	if b := bucket(tx, "spam"); b != nil {
		return b.Bucket(u64(mbid))
	}
	return nil
}

func (t *Tx) spamBucket(mbid uint64) (kv.Bucket, error) {
	mb, err := bucket(t.tx, "spam").CreateBucketIfNotExists(u64(mbid))
	if err != nil {
		return nil, err
	}
	for _, n := range []string{"t", "m", "k"} {
		if _, err := mb.CreateBucketIfNotExists([]byte(n)); err != nil {
			return nil, err
		}
	}
	return mb, nil
}

func readSpamStats(b kv.Bucket) SpamStats {
	var st SpamStats
	if b != nil {
		getJSON(b, []byte("stats"), &st)
	}
	return st
}

// SpamLookup returns mailbox mbid's filter statistics and the counts of
// the given tokens (zero for unknown ones), in the order given.
func (s *Store) SpamLookup(ctx context.Context, mbid uint64, tokens []uint64) (SpamStats, []SpamCounts, error) {
	out := make([]SpamCounts, len(tokens))
	var st SpamStats
	err := s.view(ctx, func(tx kv.Tx) error {
		b := spamBucket(tx, mbid)
		st = readSpamStats(b)
		if b == nil {
			return nil
		}
		tb := b.Bucket([]byte("t"))
		for i, tok := range tokens {
			if v := tb.Get(u64(tok)); len(v) == 8 {
				out[i] = SpamCounts{Spam: getU32(v[:4]), Ham: getU32(v[4:])}
			}
		}
		return nil
	})
	return st, out, err
}

// SpamStatsOf returns mailbox mbid's filter statistics.
func (s *Store) SpamStatsOf(ctx context.Context, mbid uint64) (SpamStats, error) {
	st, _, err := s.SpamLookup(ctx, mbid, nil)
	return st, err
}

// SpamTrainedAs reports how message key was trained in mbid: "spam",
// "ham" or "" (not trained).
func (s *Store) SpamTrainedAs(ctx context.Context, mbid uint64, key string) (string, error) {
	var out string
	err := s.view(ctx, func(tx kv.Tx) error {
		if b := spamBucket(tx, mbid); b != nil {
			switch string(b.Bucket(bktRecords).Get([]byte(key))) {
			case "s":
				out = "spam"
			case "h":
				out = "ham"
			}
		}
		return nil
	})
	return out, err
}

// SpamTrain trains mailbox mbid's filter with one message. It reports
// false when the message was already trained that way (nothing changed).
// A message trained the other way before is untrained first.
func (s *Store) SpamTrain(ctx context.Context, mbid uint64, smp SpamSample) (changed bool, err error) {
	err = s.update(ctx, func(t *Tx) error {
		changed = false
		b, err := t.spamBucket(mbid)
		if err != nil {
			return err
		}
		st := readSpamStats(b)
		class := []byte("h")
		if smp.Spam {
			class = []byte("s")
		}
		mb := b.Bucket(bktRecords)
		prev := mb.Get([]byte(smp.Key))
		if bytes.Equal(prev, class) {
			return nil
		}
		changed = true
		tb := b.Bucket([]byte("t"))
		if prev != nil {
			wasSpam := string(prev) == "s"
			if err := addTokens(tb, &st, smp.Tokens, wasSpam, -1); err != nil {
				return err
			}
			if wasSpam && st.Spam > 0 {
				st.Spam--
			} else if !wasSpam && st.Ham > 0 {
				st.Ham--
			}
		} else {
			st.Messages++
		}
		if err := addTokens(tb, &st, smp.Tokens, smp.Spam, 1); err != nil {
			return err
		}
		if smp.Spam {
			st.Spam++
		} else {
			st.Ham++
		}
		st.Trained++
		if err := mb.Put([]byte(smp.Key), class); err != nil {
			return err
		}
		kb := b.Bucket([]byte("k"))
		for _, snd := range smp.Senders {
			if err := setKnown(kb, &st, snd, !smp.Spam, 'H'); err != nil {
				return err
			}
		}
		if err := pruneSpam(b, &st); err != nil {
			return err
		}
		st.Updated = t.s.now().UTC()
		return putJSON(b, []byte("stats"), st)
	})
	return changed, err
}

// addTokens adds delta (±1) to each token's count of one class.
func addTokens(tb kv.Bucket, st *SpamStats, tokens []uint64, spam bool, delta int) error {
	for _, tok := range tokens {
		k := u64(tok)
		var sp, hm uint32
		v := tb.Get(k)
		if len(v) == 8 {
			sp, hm = getU32(v[:4]), getU32(v[4:])
		} else if delta < 0 {
			continue // pruned meanwhile
		}
		c := &hm
		if spam {
			c = &sp
		}
		if delta < 0 {
			if *c > 0 {
				*c--
			}
		} else if *c < 1<<31 {
			*c++
		}
		if sp == 0 && hm == 0 {
			if v != nil {
				st.Tokens--
			}
			if err := tb.Delete(k); err != nil {
				return err
			}
			continue
		}
		if v == nil {
			st.Tokens++
		}
		nv := make([]byte, 8)
		binary.BigEndian.PutUint32(nv[:4], sp)
		binary.BigEndian.PutUint32(nv[4:], hm)
		if err := tb.Put(k, nv); err != nil {
			return err
		}
	}
	return nil
}

// setKnown records (on) or forgets (!on, only entries of the same origin)
// a known sender.
func setKnown(kb kv.Bucket, st *SpamStats, key string, on bool, origin byte) error {
	if key == "" || len(key) > 320 {
		return nil
	}
	cur := kb.Get([]byte(key))
	switch {
	case on && cur == nil:
		if st.Known >= MaxSpamKnown {
			return nil
		}
		st.Known++
		return kb.Put([]byte(key), []byte{origin})
	case on && cur[0] != 'S' && origin == 'S':
		return kb.Put([]byte(key), []byte{origin}) // Sent outranks ham
	case !on && cur != nil && cur[0] == origin:
		st.Known--
		return kb.Delete([]byte(key))
	}
	return nil
}

// pruneSpam keeps the state within its bounds: the rarest tokens and the
// oldest message keys go first.
func pruneSpam(b kv.Bucket, st *SpamStats) error {
	if st.Tokens > MaxSpamTokens {
		tb := b.Bucket([]byte("t"))
		// Only as many of the rarest as needed: all tokens seen once are
		// most of the set, and dropping them all would forget too much.
		for limit := uint32(1); st.Tokens > MaxSpamTokens*9/10; limit++ {
			need := st.Tokens - MaxSpamTokens*9/10
			var victims [][]byte
			c := tb.Cursor()
			for k, v := c.First(); k != nil && len(victims) < need; k, v = c.Next() {
				if len(v) != 8 || getU32(v[:4])+getU32(v[4:]) <= limit {
					victims = append(victims, bytes.Clone(k))
				}
			}
			for _, k := range victims {
				if err := tb.Delete(k); err != nil {
					return err
				}
			}
			st.Tokens -= len(victims)
		}
	}
	if st.Messages > MaxSpamTrained {
		mb := b.Bucket(bktRecords)
		var victims [][]byte
		c := mb.Cursor()
		for k, _ := c.First(); k != nil && st.Messages-len(victims) > MaxSpamTrained*9/10; k, _ = c.Next() {
			victims = append(victims, bytes.Clone(k))
		}
		for _, k := range victims {
			if err := mb.Delete(k); err != nil {
				return err
			}
		}
		st.Messages -= len(victims)
	}
	return nil
}

// SpamAddKnown remembers senders (addresses, "@domain") the mailbox wrote
// to; they count as known until the filter is reset.
func (s *Store) SpamAddKnown(ctx context.Context, mbid uint64, senders []string) error {
	if len(senders) == 0 {
		return nil
	}
	return s.update(ctx, func(t *Tx) error {
		b, err := t.spamBucket(mbid)
		if err != nil {
			return err
		}
		st := readSpamStats(b)
		kb := b.Bucket([]byte("k"))
		for _, snd := range senders {
			if err := setKnown(kb, &st, snd, true, 'S'); err != nil {
				return err
			}
		}
		return putJSON(b, []byte("stats"), st)
	})
}

// SpamKnown returns which of senders mailbox mbid knows, with "sent" or
// "ham" as the reason.
func (s *Store) SpamKnown(ctx context.Context, mbid uint64, senders []string) (map[string]string, error) {
	out := map[string]string{}
	err := s.view(ctx, func(tx kv.Tx) error {
		b := spamBucket(tx, mbid)
		if b == nil {
			return nil
		}
		kb := b.Bucket([]byte("k"))
		for _, snd := range senders {
			switch v := kb.Get([]byte(snd)); {
			case len(v) == 0:
			case v[0] == 'S':
				out[snd] = "sent"
			default:
				out[snd] = "ham"
			}
		}
		return nil
	})
	return out, err
}

// SpamReset forgets everything mailbox mbid's filter learnt.
func (s *Store) SpamReset(ctx context.Context, mbid uint64) error {
	return s.update(ctx, func(t *Tx) error { return t.deleteSpamState(mbid) })
}

func (t *Tx) deleteSpamState(mbid uint64) error {
	sb := bucket(t.tx, "spam")
	if sb.Bucket(u64(mbid)) == nil {
		return nil
	}
	return sb.DeleteBucket(u64(mbid))
}
