package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"mailsrv/server/admin"
	"mailsrv/server/config"
	"mailsrv/server/storage"
	"mailsrv/store"
)

// Migrate returns `mailsrv migrate --to-config FILE` (SPEC §4): it copies
// this data (users, mail, flags, UIDs, audit, queue, everything) into the
// store FILE configures, e.g. PostgreSQL + S3, with the server stopped. It
// refuses a target that holds data and verifies the copy at the end.
func Migrate(g *Globals) *cobra.Command {
	var to string
	var asJSON bool
	c := &cobra.Command{
		Use:   "migrate --to-config FILE",
		Short: "Copy this data (users, mail, flags, UIDs, audit) into the store FILE configures (server stopped; the target must be empty)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if to == "" {
				return fmt.Errorf("--to-config FILE is required")
			}
			cfg, err := g.LoadConfig()
			if err != nil {
				return failed(err)
			}
			dstCfg, err := config.Load(to)
			if err != nil {
				return failed(err)
			}
			if err := dstCfg.Validate(); err != nil {
				return failed(err)
			}
			st, err := migrate(cmd, cfg, dstCfg, asJSON)
			if err != nil {
				return failed(err)
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), st)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "copied %d accounts, %d mailboxes, %d folders, %d messages, %d queued, %d audit entries, %d message bodies (%d bytes) into the store of %s; verified\n",
				st.Accounts, st.Mailboxes, st.Folders, st.Messages, st.Queue, st.Audit, st.Blobs, st.BlobBytes, to)
			fmt.Fprintf(cmd.OutOrStdout(), "start serving from it with `mailsrv serve --config %s`\n", to)
			return nil
		},
	}
	c.Flags().StringVar(&to, "to-config", "", "config file naming the target [store] and [blobs]")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func migrate(cmd *cobra.Command, cfg, dstCfg *config.Config, asJSON bool) (store.CopyStats, error) {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	var st store.CopyStats
	same := dstCfg.Store.Backend == cfg.Store.Backend && dstCfg.Store.Backend == "bbolt" && absPath(dstCfg.DataDir) == absPath(cfg.DataDir)
	if same {
		return st, errors.New("the target config uses this same data directory: name a new, empty one (data_dir) or another [store]")
	}
	src, err := storage.Open(ctx, cfg, store.Options{})
	if errors.Is(err, store.ErrLocked) {
		return st, fmt.Errorf("%s is in use by a running mailsrv: stop it before migrating", cfg.DataDir)
	}
	if err != nil {
		return st, err
	}
	defer src.Close()
	db, err := storage.OpenEngine(ctx, dstCfg)
	if err != nil {
		return st, fmt.Errorf("open the target store: %w", err)
	}
	defer db.Close()
	blobs, err := storage.OpenBlobs(ctx, dstCfg)
	if err != nil {
		return st, fmt.Errorf("open the target blob store: %w", err)
	}
	if blobs == nil {
		if blobs, err = store.NewFileBlobs(filepath.Join(dstCfg.DataDir, "blobs"), false); err != nil {
			return st, err
		}
	}
	p := newProgress(cmd, asJSON)
	defer p.end()
	var report func(string, int, int)
	if fn := p.report(); fn != nil {
		report = func(stage string, done, total int) {
			fn(admin.Progress{Op: "migrate", Done: int64(done), Total: int64(total), Unit: stage})
		}
	}
	return src.CopyTo(ctx, db, blobs, report)
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}
