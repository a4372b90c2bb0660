package cli

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"mailsrv/server/admin"
)

// progressLine shows a long operation's progress as one line rewritten in
// place on standard error — only when that is a terminal and the output
// is not --json, so scripts and logs see nothing of it.
type progressLine struct {
	w     io.Writer
	shown bool
}

// newProgress returns the line for cmd, or nil when progress is not shown.
func newProgress(cmd *cobra.Command, asJSON bool) *progressLine {
	if asJSON {
		return nil
	}
	f, ok := cmd.ErrOrStderr().(*os.File)
	if !ok {
		return nil
	}
	if fi, err := f.Stat(); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	return &progressLine{w: f}
}

// report is the admin.ProgressFunc (nil for a nil line).
func (p *progressLine) report() admin.ProgressFunc {
	if p == nil {
		return nil
	}
	return func(pr admin.Progress) {
		p.shown = true
		if pr.Total > 0 {
			fmt.Fprintf(p.w, "\r%s: %d/%d %s (%d%%)\033[K", pr.Op, pr.Done, pr.Total, pr.Unit, pr.Done*100/pr.Total)
		} else {
			fmt.Fprintf(p.w, "\r%s: %d %s\033[K", pr.Op, pr.Done, pr.Unit)
		}
	}
}

// end finishes the line so the result starts on a fresh one.
func (p *progressLine) end() {
	if p != nil && p.shown {
		fmt.Fprintln(p.w)
	}
}
