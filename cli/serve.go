package cli

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"mailsrv/server"
)

// Serve returns `mailsrv serve`.
func Serve(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Run the mail server (embedded defaults when no --config is given)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.LoadConfig()
			if err != nil {
				return failed(err)
			}
			log := server.NewLogger(cfg.Log, os.Stderr)
			startCtx := cmd.Context()
			if startCtx == nil {
				startCtx = context.Background()
			}
			srv, err := server.New(startCtx, cfg, log)
			if err != nil {
				return failed(err)
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			go func() {
				for {
					select {
					case <-hup:
						srv.Reload()
					case <-ctx.Done():
						return
					}
				}
			}()
			return failed(srv.Run(ctx))
		},
	}
}
