package admin

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// SocketName is the admin socket's file name inside the data directory.
const SocketName = "admin.sock"

// SocketPath returns the admin socket path for a data directory.
func SocketPath(dataDir string) string { return filepath.Join(dataDir, SocketName) }

// maxRequest bounds one request line (passwords, addresses: tiny).
const maxRequest = 1 << 20

// Listen creates the admin socket with mode 0600. The caller holds the
// database lock, so an existing socket file is stale and is replaced.
func Listen(dataDir string) (net.Listener, error) {
	p := SocketPath(dataDir)
	os.Remove(p)
	// The socket is bound inside the data directory, which the store
	// creates 0700, so the moment between bind and chmod exposes nothing;
	// changing the process umask instead would race other goroutines.
	ln, err := net.Listen("unix", p)
	if err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	if err := os.Chmod(p, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	return ln, nil
}

// Serve answers requests on ln until ctx ends. One JSON request per line,
// one JSON response per line; a connection may send several.
func Serve(ctx context.Context, ln net.Listener, h *Handler, log *slog.Logger) {
	var wg sync.WaitGroup
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				log.Error("admin socket accept", "err", err)
			}
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			serveConn(ctx, c, h, log)
		}()
	}
	wg.Wait()
}

// idleTimeout closes an admin connection that sends no request for this
// long (a CLI sends its request at once).
const idleTimeout = 5 * time.Minute

// serveConn answers one connection's requests. Shutdown (ctx) ends the
// wait for the next request at once; a request being handled finishes
// and its answer is written first.
func serveConn(ctx context.Context, c net.Conn, h *Handler, log *slog.Logger) {
	stop := context.AfterFunc(ctx, func() { c.SetReadDeadline(time.Now()) })
	defer stop()
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 64<<10), maxRequest)
	enc := json.NewEncoder(c)
	for {
		c.SetReadDeadline(time.Now().Add(idleTimeout))
		// Checked after the deadline is set: a shutdown that came before
		// has already cut the previous one short.
		if ctx.Err() != nil || !sc.Scan() {
			return
		}
		var req Request
		var resp Response
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			resp = Response{Error: "malformed admin request: " + err.Error()}
		} else {
			start := time.Now()
			pctx := WithProgress(ctx, func(p Progress) { enc.Encode(Response{Progress: &p}) })
			resp = h.Handle(pctx, req)
			log.Info("admin request", "op", req.Op, "ok", resp.Error == "", "dur", time.Since(start))
		}
		if err := enc.Encode(resp); err != nil {
			return
		}
	}
}

// ErrNoServer means no server answers on the admin socket.
var ErrNoServer = errors.New("no running server")

// Call sends one request over the admin socket of dataDir. It returns
// ErrNoServer when no server listens (no socket, or a stale one).
func Call(dataDir string, req Request) (Response, error) {
	return CallProgress(dataDir, req, nil)
}

// CallProgress is Call passing interim progress lines to progress (may be nil).
func CallProgress(dataDir string, req Request, progress ProgressFunc) (Response, error) {
	c, err := net.DialTimeout("unix", SocketPath(dataDir), 2*time.Second)
	if err != nil {
		return Response{}, ErrNoServer
	}
	defer c.Close()
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return Response{}, err
	}
	dec := json.NewDecoder(bufio.NewReader(c))
	for {
		var resp Response
		if err := dec.Decode(&resp); err != nil {
			return Response{}, fmt.Errorf("admin socket: %w", err)
		}
		if resp.Progress == nil {
			return resp, nil
		}
		if progress != nil {
			progress(*resp.Progress)
		}
	}
}
