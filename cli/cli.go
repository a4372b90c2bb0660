// Package cli implements mailsrv's command line: cobra commands that turn
// flags into one admin.Request each and print the result.
//
// The CLI is deliberately thin. A command first tries the running server's
// admin socket; if no server runs it opens the data directory itself and
// runs the very same admin.Handler in-process. Results are decoded from the
// same JSON in both cases, so output does not depend on which path ran.
//
// Exit codes (SPEC §4): 0 success, 1 a failed operation or check (one-line
// error saying what to do), 2 a usage error.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"mailsrv/server/admin"
	"mailsrv/server/config"
	"mailsrv/server/storage"
	"mailsrv/store"
)

// Globals are the flags every command accepts.
type Globals struct {
	ConfigFile string
	DataDir    string
}

// LoadConfig loads the config file (or embedded defaults) and applies --data.
func (g *Globals) LoadConfig() (*config.Config, error) {
	cfg, err := config.Load(g.ConfigFile)
	if err != nil {
		return nil, err
	}
	if g.DataDir != "" {
		cfg.DataDir = g.DataDir
	}
	return cfg, nil
}

// opError marks a failed operation (exit 1), as opposed to usage (exit 2).
type opError struct{ err error }

func (e opError) Error() string { return e.err.Error() }
func (e opError) Unwrap() error { return e.err }

// failed wraps err as an operation failure.
func failed(err error) error {
	if err == nil {
		return nil
	}
	var oe opError
	if errors.As(err, &oe) {
		return err
	}
	return opError{err}
}

// checkFailed is returned when a check ran fine but found problems: the
// output says it all, so nothing more is printed.
var checkFailed = opError{errors.New("")}

// Execute runs the root command and returns the process exit code.
func Execute(root *cobra.Command) int {
	root.SilenceUsage = true
	root.SilenceErrors = true
	strictGroups(root)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var oe opError
	if errors.As(err, &oe) {
		if msg := oe.Error(); msg != "" {
			fmt.Fprintln(root.ErrOrStderr(), "mailsrv:", msg)
		}
		return 1
	}
	fmt.Fprintln(root.ErrOrStderr(), "mailsrv:", err)
	fmt.Fprintln(root.ErrOrStderr(), "Run 'mailsrv --help' for usage.")
	return 2
}

// strictGroups makes every command group below root ("user", "shared", …)
// reject an unknown subcommand as a usage error (exit 2). Cobra does that
// only for the root; a group without a Run would print its help and exit
// 0, so `mailsrv user frobnicate` would look like success to a script.
func strictGroups(c *cobra.Command) {
	for _, sub := range c.Commands() {
		if sub.HasSubCommands() && !sub.Runnable() {
			sub.RunE = func(cmd *cobra.Command, args []string) error {
				if len(args) > 0 {
					return fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath())
				}
				return cmd.Help()
			}
		}
		strictGroups(sub)
	}
}

// call runs one admin operation and decodes its result into out (may be nil).
func (g *Globals) call(cmd *cobra.Command, opName string, args, out any) error {
	return g.callProgress(cmd, opName, args, out, nil)
}

// callProgress is call with progress reports passed to progress (may be nil).
func (g *Globals) callProgress(cmd *cobra.Command, opName string, args, out any, progress admin.ProgressFunc) error {
	cfg, err := g.LoadConfig()
	if err != nil {
		return failed(err)
	}
	raw, err := json.Marshal(args)
	if err != nil {
		return failed(err)
	}
	req := admin.Request{Op: opName, Args: raw}
	resp, err := admin.CallProgress(cfg.DataDir, req, progress)
	if errors.Is(err, admin.ErrNoServer) {
		ctx := cmd.Context()
		if ctx == nil {
			ctx = context.Background()
		}
		if progress != nil {
			ctx = admin.WithProgress(ctx, progress)
		}
		resp, err = runOffline(ctx, cfg, req)
	}
	if err != nil {
		return failed(err)
	}
	if resp.Error != "" {
		return failed(errors.New(resp.Error))
	}
	if out != nil && len(resp.Data) > 0 {
		if err := json.Unmarshal(resp.Data, out); err != nil {
			return failed(fmt.Errorf("decode result: %w", err))
		}
	}
	return nil
}

// runOffline opens the data directory and runs req in-process.
func runOffline(ctx context.Context, cfg *config.Config, req admin.Request) (admin.Response, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	st, err := storage.Open(ctx, cfg, store.Options{})
	if errors.Is(err, store.ErrLocked) {
		return admin.Response{}, fmt.Errorf("%s is locked by a running mailsrv whose admin socket does not answer; wait for it to finish starting or stop it", cfg.DataDir)
	}
	if err != nil {
		return admin.Response{}, err
	}
	defer st.Close()
	h := &admin.Handler{Store: st, Config: cfg}
	return h.Handle(ctx, req), nil
}

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table returns a tabwriter for aligned columns.
func table(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0) }

// simple builds a command that runs one operation and prints its message.
func (g *Globals) simple(cmd *cobra.Command, opName string, args any) error {
	var d admin.Done
	if err := g.call(cmd, opName, args, &d); err != nil {
		return err
	}
	fmt.Fprintln(cmd.OutOrStdout(), d.Message)
	return nil
}

// listCmd runs a listing operation and prints JSON or the text form.
func listCmd[T any](g *Globals, cmd *cobra.Command, asJSON bool, opName string, args any, text func(w io.Writer, v T)) error {
	var v T
	if err := g.call(cmd, opName, args, &v); err != nil {
		return err
	}
	if asJSON {
		return printJSON(cmd.OutOrStdout(), v)
	}
	text(cmd.OutOrStdout(), v)
	return nil
}
