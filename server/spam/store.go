package spam

import (
	"context"
	"io"

	"mailsrv/store"
)

// Store is what the filter and the trainer read and write: each mailbox's
// classifier counts and known correspondents, the change events the
// trainer learns from and the messages it reads to learn.
// *store.Store satisfies it.
type Store interface {
	Subscribe(fn func(store.Event)) (cancel func())

	FolderByID(ctx context.Context, fid uint64) (*store.Folder, error)
	Messages(ctx context.Context, fid uint64, uids []uint32) ([]store.Message, error)
	OpenBlob(ctx context.Context, id string) (io.ReadCloser, error)

	SpamStatsOf(ctx context.Context, mbid uint64) (store.SpamStats, error)
	SpamLookup(ctx context.Context, mbid uint64, tokens []uint64) (store.SpamStats, []store.SpamCounts, error)
	SpamTrain(ctx context.Context, mbid uint64, smp store.SpamSample) (changed bool, err error)
	SpamKnown(ctx context.Context, mbid uint64, senders []string) (map[string]string, error)
	SpamAddKnown(ctx context.Context, mbid uint64, senders []string) error
}
