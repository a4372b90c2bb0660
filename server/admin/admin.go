// Package admin owns the administrative operations of mailsrv and the
// admin Unix socket that carries them.
//
// Every CLI command except serve is one Request handled by Handler.Handle.
// While `mailsrv serve` runs, the CLI sends the Request over
// <data_dir>/admin.sock (mode 0600: only the owner may administer); when no
// server runs, the CLI opens the store itself and calls the same Handler
// in-process. Results always travel as JSON, in both cases, so the CLI
// prints byte-for-byte the same output either way.
//
// Operations are grouped by subject in ops_*.go files; each file
// contributes its entries to the table built by Handler.ops.
package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"mailsrv/server/config"
)

// Request is one admin operation.
type Request struct {
	Op   string          `json:"op"`
	Args json.RawMessage `json:"args,omitempty"`
}

// Response is the answer to a Request.
type Response struct {
	Error string          `json:"error,omitempty"`
	Data  json.RawMessage `json:"data,omitempty"`
	// Progress marks an interim line of a long operation; the answer
	// follows on a later line.
	Progress *Progress `json:"progress,omitempty"`
}

// Handler executes admin requests against a store.
type Handler struct {
	Store  Store
	Config *config.Config
	Log    *slog.Logger
	// Now is the clock (injectable for the recycle bin tests).
	Now func() time.Time
	// WakeQueue, set by the running server, starts the outbound delivery
	// loop (after queue.retry); offline it is nil.
	WakeQueue func()
}

// OpFunc runs one operation with its JSON arguments.
type OpFunc func(ctx context.Context, args json.RawMessage) (any, error)

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// ops builds the operation table.
func (h *Handler) ops(ctx context.Context) map[string]OpFunc {
	m := map[string]OpFunc{}
	for _, group := range []map[string]OpFunc{h.domainOps(), h.userOps(), h.aliasOps(), h.sharedOps(), h.mailboxOps(), h.trashOps(), h.queueOps(), h.dnsOps(), h.backupOps(), h.roleOps(), h.spamOps(ctx), h.teamOps(), h.quotaOps()} {
		for k, v := range group {
			m[k] = v
		}
	}
	return m
}

// Handle runs req and packs the result or error into a Response.
func (h *Handler) Handle(ctx context.Context, req Request) (resp Response) {
	op, ok := h.ops(ctx)[req.Op]
	if !ok {
		return Response{Error: fmt.Sprintf("unknown admin operation %q", req.Op)}
	}
	// An operation runs inside the serving process: a bug in one must
	// answer this request with an error, not stop the mail server.
	defer func() {
		if r := recover(); r != nil {
			resp = Response{Error: fmt.Sprintf("internal error in %s: %v (see the server log)", req.Op, r)}
			if h.Log != nil {
				h.Log.Error("admin operation panicked", "op", req.Op, "panic", r, "stack", string(debug.Stack()))
			}
		}
	}()
	res, err := op(ctx, req.Args)
	if err != nil {
		return Response{Error: err.Error()}
	}
	raw, err := json.Marshal(res)
	if err != nil {
		return Response{Error: "encode result: " + err.Error()}
	}
	return Response{Data: raw}
}

// decode unmarshals args strictly into v: an unknown field is an error
// that names it (a misspelt "nmae" must not be silently dropped), and so
// is anything after the one JSON value.
func decode(args json.RawMessage, v any) error {
	if len(bytes.TrimSpace(args)) == 0 || bytes.Equal(bytes.TrimSpace(args), []byte("null")) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(args))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return fmt.Errorf("unknown argument %s", f)
		}
		return fmt.Errorf("bad arguments: %w", err)
	}
	if dec.More() {
		return errors.New("bad arguments: more than one JSON value")
	}
	return nil
}

// op wraps a typed operation. Its argument struct is the operation's
// whole interface: the CLI, the socket and the web console send it.
func op[A any](fn func(ctx context.Context, a A) (any, error)) OpFunc {
	return func(ctx context.Context, raw json.RawMessage) (any, error) {
		var a A
		if err := decode(raw, &a); err != nil {
			return nil, err
		}
		return fn(ctx, a)
	}
}

// Done is the result of an operation that has nothing to report.
type Done struct {
	Message string `json:"message"`
}
