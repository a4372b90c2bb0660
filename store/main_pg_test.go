package store_test

import (
	"os"
	"testing"

	"mailsrv/internal/pgtest"
)

// TestMain stops the PostgreSQL test cluster (internal/pgtest) that the
// tests on the shared engine start.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
