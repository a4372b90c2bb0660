package store

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestTmpOpenCost(t *testing.T) {
	st, err := Open(t.TempDir(), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var mk, op time.Duration
	for i := 0; i < 2000; i++ {
		id := st.newBlobID()
		p := st.blobPath(id)
		t0 := time.Now()
		os.MkdirAll(filepath.Dir(p), 0o700)
		t1 := time.Now()
		f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		t2 := time.Now()
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		mk += t1.Sub(t0)
		op += t2.Sub(t1)
	}
	t.Logf("mkdirall %v open %v per op", mk/2000, op/2000)
	// Same thing in a plain temp dir
	d := t.TempDir()
	var op2 time.Duration
	for i := 0; i < 2000; i++ {
		id := st.newBlobID()
		p := filepath.Join(d, id[len(id)-2:], id)
		os.MkdirAll(filepath.Dir(p), 0o700)
		t1 := time.Now()
		f, _ := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		op2 += time.Since(t1)
		f.Close()
	}
	t.Logf("plain dir open %v", op2/2000)
}
