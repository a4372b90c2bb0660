package testkit

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// Python runs the script testdata/<name> of the calling package's
// directory (where go test runs) with python3 and args, and returns what
// it printed (stdout and stderr). It skips t, saying so, when python3 is
// not installed; .ci/run installs it, so in CI it never skips.
func Python(t testing.TB, name string, args ...string) (string, error) {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed (apt-get install python3; .ci/run installs it): skipping the real-client test")
	}
	out, err := exec.Command(py, append([]string{filepath.Join("testdata", name)}, args...)...).CombinedOutput()
	return string(out), err
}
