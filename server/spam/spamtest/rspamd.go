package spamtest

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// GTUBE-style test patterns rspamd 3.x knows (the first is the classic
// GTUBE; the others need enable_test_patterns, which StartRspamd sets).
const (
	GTUBEReject    = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
	GTUBEAddHeader = "YJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
)

// rspamdStartTimeout is how long rspamd may take to load its rules. A
// fresh data directory costs it a while on a busy machine.
const rspamdStartTimeout = 6 * time.Minute

// StartRspamd runs Debian's /usr/bin/rspamd in the foreground with a
// private configuration (the packaged rules, a normal worker on a free
// loopback port, no controller, network checks off, DNS pointed at a dead
// port) and private directories under t.TempDir(), and stops it by PID
// when the test ends. It returns the base URL ("http://127.0.0.1:port").
// The test is skipped, saying why, when rspamd is not installed.
func StartRspamd(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("rspamd")
	if err != nil {
		t.Skip("rspamd is not installed (apt-get install rspamd; .ci/run installs it)")
	}
	dir := t.TempDir()
	for _, d := range []string{"db", "run", "log", "local.d"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	port := freePort(t)
	main := fmt.Sprintf(`.include "$CONFDIR/common.conf"
options {
  pidfile = "$RUNDIR/rspamd.pid";
  .include "$CONFDIR/options.inc"
  .include(try=true; priority=1,duplicate=merge) "$LOCAL_CONFDIR/local.d/options.inc"
}
logging { type = "file"; filename = "$LOGDIR/rspamd.log"; level = "warning"; }
worker "normal" {
  bind_socket = "127.0.0.1:%d";
  .include "$CONFDIR/worker-normal.inc"
  count = 1;
}
`, port)
	files := map[string]string{
		"main.conf": main,
		"local.d/options.inc": `enable_test_patterns = true;
disable_hyperscan = true;
dns { nameserver = ["127.0.0.1:9"]; timeout = 0.2s; retransmits = 1; }
`,
	}
	// Modules that need the network or redis only slow a test down.
	for _, m := range []string{"fuzzy_check", "rbl", "surbl", "emails", "dkim_signing", "arc", "asn",
		"phishing", "neural", "ratelimit", "greylist", "replies", "dmarc", "spf", "dkim",
		"url_redirector", "reputation", "history_redis", "mx_check"} {
		files["local.d/"+m+".conf"] = "enabled = false;\n"
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(bin, "-f", "-i", "-c", filepath.Join(dir, "main.conf"),
		"--var", "CONFDIR=/etc/rspamd", "--var", "LOCAL_CONFDIR="+dir,
		"--var", "DBDIR="+filepath.Join(dir, "db"), "--var", "RUNDIR="+filepath.Join(dir, "run"),
		"--var", "LOGDIR="+filepath.Join(dir, "log"))
	cmd.Dir = dir
	out, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group, so stopping it stops its workers too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start rspamd: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		out.Close()
	})
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(rspamdStartTimeout)
	start := time.Now()
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "log", "rspamd.log"))
			so, _ := os.ReadFile(filepath.Join(dir, "stdout"))
			t.Fatalf("rspamd exited (%v):\n%s\n%s", err, so, tail(log))
		default:
		}
		resp, err := http.Get(url + "/ping")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Logf("rspamd ready on %s after %s", url, time.Since(start).Round(time.Millisecond))
				return url
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("rspamd did not answer /ping within %s", rspamdStartTimeout)
	return ""
}

func tail(b []byte) []byte {
	if len(b) > 4000 {
		return b[len(b)-4000:]
	}
	return b
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
