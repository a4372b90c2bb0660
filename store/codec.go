package store

import (
	"encoding/json"
	"fmt"

	"mailsrv/store/kv"
)

func bucket(tx kv.Tx, name string) kv.Bucket { return tx.Bucket([]byte(name)) }

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
