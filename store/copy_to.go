package store

import (
	"context"
	"errors"
	"fmt"
	"io"

	"mailsrv/store/kv"
)

// CopyStats describes a finished CopyTo.
type CopyStats struct {
	Entries   int   `json:"entries"` // keys and buckets copied
	Accounts  int   `json:"accounts"`
	Mailboxes int   `json:"mailboxes"`
	Folders   int   `json:"folders"`
	Messages  int   `json:"messages"`
	Queue     int   `json:"queue"`
	Audit     int   `json:"audit"`
	Blobs     int   `json:"blobs"`
	BlobBytes int64 `json:"blob_bytes"`
}

// CopyTo copies everything in this store into the engine dst and the blob
// store dstBlobs (`mailsrv migrate`): every bucket as it is, with its
// sequences, so users, mail, flags, UIDs, UIDVALIDITY, MODSEQs, audit,
// queue and ids are unchanged, and every referenced body under its id. The
// store must not change meanwhile (the server is stopped). It refuses a
// target that already holds data, and at the end checks that every bucket
// of the target matches the source (entries and a digest) and that every
// body is there with its size. progress, if set, is told what it is doing.
func (s *Store) CopyTo(ctx context.Context, dst kv.DB, dstBlobs BlobStore, progress func(stage string, done, total int)) (CopyStats, error) {
	var st CopyStats
	if progress == nil {
		progress = func(string, int, int) {}
	}
	if err := targetEmpty(ctx, dst, dstBlobs); err != nil {
		return st, err
	}
	var blobs []string
	err := s.view(ctx, func(tx kv.Tx) error {
		return bucket(tx, "blobrefs").ForEach(func(k, _ []byte) error {
			if !isInline(tx, k) { // small bodies travel with bucket blobinline
				blobs = append(blobs, string(k))
			}
			return nil
		})
	})
	if err != nil {
		return st, err
	}
	total := 0
	s.view(ctx, func(tx kv.Tx) error {
		for _, n := range allBuckets {
			if b := tx.Bucket([]byte(n)); b != nil {
				total += b.KeyN()
			}
		}
		return nil
	})
	if st.Entries, err = kv.Copy(ctx, dst, s.db, allBuckets, 5000, func(n int) { progress("database entries", n, total) }); err != nil {
		return st, fmt.Errorf("copy the database: %w", err)
	}
	for i, id := range blobs {
		n, err := s.copyBlob(ctx, dstBlobs, id)
		if err != nil {
			return st, fmt.Errorf("copy message body %s: %w", id, err)
		}
		st.Blobs++
		st.BlobBytes += n
		progress("message bodies", i+1, len(blobs))
	}
	return st, s.verifyCopy(ctx, dst, dstBlobs, blobs, &st)
}

// targetEmpty refuses a target with data: any key in a bucket other than
// meta (which a server started once on an empty database writes), or any
// body in its blob store.
func targetEmpty(ctx context.Context, dst kv.DB, dstBlobs BlobStore) error {
	var full string
	err := dst.View(ctx, func(tx kv.Tx) error {
		for _, n := range allBuckets {
			b := tx.Bucket([]byte(n))
			if b == nil || n == "meta" {
				continue
			}
			if k, _ := b.Cursor().First(); k != nil {
				full = n
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read the target database: %w", err)
	}
	if full != "" {
		return fmt.Errorf("the target database is not empty (it has %s): migrate only into a new, empty database", full)
	}
	errFull := errors.New("full")
	err = dstBlobs.List(ctx, func(BlobInfo) error { return errFull })
	if errors.Is(err, errFull) {
		return errors.New("the target blob store is not empty: migrate only into a new, empty bucket or data directory")
	}
	if err != nil {
		return fmt.Errorf("list the target blob store: %w", err)
	}
	return nil
}

func (s *Store) copyBlob(ctx context.Context, dst BlobStore, id string) (int64, error) {
	r, err := s.blobs.Open(ctx, id)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	u, err := dst.Create(ctx, id)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(u, r)
	if err == nil {
		err = u.Commit()
	}
	if err != nil {
		u.Abort()
		return 0, err
	}
	return n, nil
}

// verifyCopy compares every bucket's digest and every body's size, and
// fills the counts of st from the target.
func (s *Store) verifyCopy(ctx context.Context, dst kv.DB, dstBlobs BlobStore, blobs []string, st *CopyStats) error {
	want, err := kv.Digests(ctx, s.db, allBuckets)
	if err != nil {
		return err
	}
	got, err := kv.Digests(ctx, dst, allBuckets)
	if err != nil {
		return fmt.Errorf("verify: read the target: %w", err)
	}
	for name, w := range want {
		if g := got[name]; g != w {
			return fmt.Errorf("verify: bucket %s differs after the copy (%d entries, target %d)", name, w.Entries, g.Entries)
		}
	}
	for _, id := range blobs {
		a, err := s.blobs.Stat(ctx, id)
		if err != nil {
			return fmt.Errorf("verify: source body %s: %w", id, err)
		}
		b, err := dstBlobs.Stat(ctx, id)
		if err != nil || b.Size != a.Size {
			return fmt.Errorf("verify: body %s in the target: size %d, want %d (%v)", id, b.Size, a.Size, err)
		}
	}
	return dst.View(ctx, func(tx kv.Tx) error {
		count := func(name string) int {
			n := 0
			if b := tx.Bucket([]byte(name)); b != nil {
				b.ForEach(func(_, _ []byte) error { n++; return nil })
			}
			return n
		}
		st.Accounts, st.Mailboxes, st.Queue, st.Audit = count("accounts"), count("mailboxes"), count("queue"), count("audit")
		st.Folders = count("folderids")
		msgs := tx.Bucket([]byte("msgs"))
		return msgs.ForEach(func(k, _ []byte) error {
			if fm := msgs.Bucket(k); fm != nil {
				if mb := fm.Bucket(bktRecords); mb != nil {
					mb.ForEach(func(_, _ []byte) error { st.Messages++; return nil })
				}
			}
			return nil
		})
	})
}
