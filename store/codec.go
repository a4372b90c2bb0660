package store

import (
	"encoding/json"
	"fmt"

	"mailsrv/store/kv"
)

// Bucket names as bytes, made once: a []byte passed through the kv
// interface escapes, so converting a name at each lookup would allocate.
var (
	bucketNames = func() map[string][]byte {
		m := make(map[string][]byte, len(allBuckets))
		for _, n := range allBuckets {
			m[n] = []byte(n)
		}
		return m
	}()
	bktRecords = []byte("m") // in msgs/<folder id>: uid → JSON Message
	bktFlags   = []byte("f") // in msgs/<folder id>: uid → flags
)

func bucket(tx kv.Tx, name string) kv.Bucket {
	if b, ok := bucketNames[name]; ok {
		return tx.Bucket(b)
	}
	return tx.Bucket([]byte(name))
}

func getJSON(b kv.Bucket, key []byte, v any) (bool, error) {
	raw := b.Get(key)
	if raw == nil {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return true, fmt.Errorf("decode %s: %w", key, err)
	}
	return true, nil
}

func putJSON(b kv.Bucket, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, raw)
}
