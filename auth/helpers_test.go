package auth

import (
	"fmt"
	"testing"

	"golang.org/x/crypto/argon2"
)

// hashWith builds a PHC string with explicit parameters, as another tool
// (or an older mailsrv) would have stored it.
func hashWith(t *testing.T, pw string, m, tm uint32, p uint8) string {
	t.Helper()
	salt := []byte("0123456789abcdef")
	key := argon2.IDKey([]byte(pw), salt, tm, m, p, 32)
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", m, tm, p, b64.EncodeToString(salt), b64.EncodeToString(key))
}
