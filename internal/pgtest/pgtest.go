// Package pgtest starts a real PostgreSQL server for tests: Debian's
// binaries (initdb, postgres) run a throwaway cluster in a temporary
// directory, in the foreground as a child of the test binary, on 127.0.0.1
// with a free port, and every test gets a fresh database of its own.
//
// One cluster serves a whole test binary: the first test that asks starts
// it, and Main (called from the package's TestMain) stops it by PID when
// the tests end. The child also gets SIGKILL if the test binary dies first
// (Pdeathsig), so no cluster outlives its tests. The cluster runs with
// fsync=off because it is thrown away; nothing here is for production.
//
// initdb and postgres refuse to run as root, so as root the cluster runs
// as the "postgres" user that Debian's package creates (its data directory
// is chowned to it); as any other user it runs as that user. When the
// binaries are missing, tests skip and say how to get them.
package pgtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Server is a running throwaway cluster.
type Server struct {
	dir   string // temporary directory holding data/ and the log
	port  int
	admin string // URL of the postgres database, as superuser "mailsrv_test"
	cmd   *exec.Cmd
	done  chan error // receives postgres's exit
	dbs   atomic.Int64
}

var (
	once    sync.Once
	shared  *Server
	errInit error
	skipMsg string
)

// BinDir returns the directory of the newest installed PostgreSQL server
// binaries, or "" if there are none.
func BinDir() string {
	if d := os.Getenv("MAILSRV_PG_BINDIR"); d != "" {
		return d
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil {
			return d
		}
	}
	return ""
}

func version(bin string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(bin)))
	return n
}

// Main runs the tests of a package that uses pgtest and stops the cluster
// afterwards: func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }.
func Main(m *testing.M) int {
	code := m.Run()
	if shared != nil {
		shared.stop()
	}
	return code
}

// URL returns the connection URL of a fresh, empty database for t on the
// shared cluster, dropped when t ends. It skips t when PostgreSQL is not
// installed, and fails it when the cluster cannot start.
func URL(t testing.TB) string {
	t.Helper()
	s := Shared(t)
	name := fmt.Sprintf("t%d_%d", os.Getpid(), s.dbs.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// FILE_COPY copies the small template at once; the default (WAL_LOG,
	// PostgreSQL 15) writes it all to the WAL first.
	if err := s.exec(ctx, "CREATE DATABASE "+name+" STRATEGY FILE_COPY"); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := s.exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("pgtest: drop database %s: %v", name, err)
		}
	})
	return s.url(name)
}

// Shared returns the test binary's cluster, starting it on first use.
func Shared(t testing.TB) *Server {
	t.Helper()
	once.Do(func() {
		bin := BinDir()
		if bin == "" {
			skipMsg = "PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin " +
				"(install Debian's postgresql package; .ci/run does)"
			return
		}
		shared, errInit = start(bin)
	})
	if skipMsg != "" {
		t.Skip("pgtest: " + skipMsg)
	}
	if errInit != nil {
		t.Fatalf("pgtest: %v", errInit)
	}
	return shared
}

// Port is the cluster's TCP port on 127.0.0.1.
func (s *Server) Port() int { return s.port }

func (s *Server) url(db string) string {
	return fmt.Sprintf("postgres://mailsrv_test@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

func (s *Server) exec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, s.admin)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// cred is who the cluster runs as: nil for the current (non-root) user.
func cred() (*syscall.Credential, int, int, error) {
	if os.Geteuid() != 0 {
		return nil, -1, -1, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, 0, 0, fmt.Errorf("running as root and there is no postgres user to run the cluster as: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, uid, gid, nil
}

func start(bin string) (*Server, error) {
	c, uid, gid, err := cred()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "mailsrv-pgtest-")
	if err != nil {
		return nil, err
	}
	// The cluster's user must reach data/ through dir.
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		return nil, err
	}
	if uid >= 0 {
		if err := os.Chown(data, uid, gid); err != nil {
			return nil, err
		}
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "mailsrv_test",
		"--auth=trust", "--no-sync", "--encoding=UTF8", "--locale=C")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: c}
	initdb.Dir = dir
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		s := &Server{dir: dir, port: port}
		s.admin = s.url("postgres")
		if err := s.run(bin, data, c); err != nil {
			lastErr = err
			continue
		}
		return s, nil
	}
	os.RemoveAll(dir)
	return nil, lastErr
}

// run starts postgres in the foreground and waits until it accepts
// connections. The child is started from a goroutine that keeps its OS
// thread for the life of the process, because Pdeathsig fires when the
// thread that started the child exits.
func (s *Server) run(bin, data string, c *syscall.Credential) error {
	logf, err := os.Create(filepath.Join(s.dir, "postgres.log"))
	if err != nil {
		return err
	}
	if c != nil {
		os.Chown(logf.Name(), int(c.Uid), int(c.Gid))
	}
	s.cmd = exec.Command(filepath.Join(bin, "postgres"), "-D", data,
		"-c", "listen_addresses=127.0.0.1",
		"-c", "port="+strconv.Itoa(s.port),
		"-c", "unix_socket_directories=",
		"-c", "fsync=off", // throwaway test cluster only
		"-c", "full_page_writes=off",
		"-c", "max_connections=400",
		"-c", "shared_buffers=32MB",
		"-c", "log_min_messages=warning",
	)
	s.cmd.Dir = s.dir
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c, Pdeathsig: syscall.SIGKILL}
	s.done = make(chan error, 1)
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the process
		if err := s.cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		s.done <- s.cmd.Wait()
		logf.Close()
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := s.exec(ctx, "SELECT 1")
		cancel()
		if err == nil {
			return nil
		}
		select {
		case werr := <-s.done:
			log, _ := os.ReadFile(logf.Name())
			return fmt.Errorf("postgres exited (%v): %s", werr, tail(string(log)))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.cmd.Process.Kill()
			<-s.done
			return fmt.Errorf("postgres did not accept connections within 60 s: %v", err)
		}
	}
}

// stop shuts the cluster down (fast shutdown, then SIGKILL after 10 s) and
// removes its directory.
func (s *Server) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			s.cmd.Process.Kill()
			<-s.done
		}
	}
	os.RemoveAll(s.dir)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > 10 {
		lines = lines[len(lines)-10:]
	}
	return strings.Join(lines, "\n")
}
