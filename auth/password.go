package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters for new hashes.
//
// m=19 MiB, t=2 is OWASP's baseline for argon2id; p=2 spreads one hash over
// the two cores of a small VPS, which halves the wall time without changing
// the memory-hardness per guess. Measured at ~40 ms per verify on 2 cores
// (the ~50 ms budget of a login; m=64 MiB, t=3 took ~300 ms there). Memory is
// the real cost under load: N concurrent logins hold N×19 MiB, and the
// Throttle is what keeps N small for an attacker.
//
// Verification reads the parameters from the stored hash, so these can be
// raised later; NeedsRehash tells a caller to re-hash on the next login.
const (
	argonMemoryKiB = 19 * 1024
	argonTime      = 2
	argonThreads   = 2
	argonSaltLen   = 16
	argonKeyLen    = 32
)

// Bounds on parameters accepted from a stored hash, so a corrupted or
// hostile hash string cannot make Verify allocate gigabytes or spin.
const (
	maxMemoryKiB = 256 * 1024
	maxTime      = 16
	maxKeyLen    = 64
)

var b64 = base64.RawStdEncoding // PHC strings use unpadded standard base64

// HashPassword returns an argon2id hash of pw in PHC string form:
// $argon2id$v=19$m=19456,t=2,p=2$<salt>$<hash>.
func HashPassword(pw string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("auth: reading random salt: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemoryKiB, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, argonMemoryKiB, argonTime, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// phc is a parsed argon2id PHC string.
type phc struct {
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

var errMalformed = errors.New("auth: malformed argon2id hash")

func parsePHC(s string) (*phc, error) {
	parts := strings.Split(s, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return nil, errMalformed
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return nil, errMalformed
	}
	var h phc
	var m, t, p uint64
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || n != 3 ||
		fmt.Sprintf("m=%d,t=%d,p=%d", m, t, p) != parts[3] {
		return nil, errMalformed
	}
	if m < 8*p || m > maxMemoryKiB || t < 1 || t > maxTime || p < 1 || p > 255 {
		return nil, errMalformed
	}
	h.memory, h.time, h.threads = uint32(m), uint32(t), uint8(p)
	var err error
	if h.salt, err = b64.DecodeString(parts[4]); err != nil || len(h.salt) < 8 {
		return nil, errMalformed
	}
	if h.key, err = b64.DecodeString(parts[5]); err != nil || len(h.key) < 16 || len(h.key) > maxKeyLen {
		return nil, errMalformed
	}
	return &h, nil
}

// VerifyPassword reports whether pw matches hash. A malformed hash never
// matches (and never panics). The comparison is constant-time.
func VerifyPassword(hash, pw string) bool {
	h, err := parsePHC(hash)
	if err != nil {
		return false
	}
	key := argon2.IDKey([]byte(pw), h.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(key, h.key) == 1
}

// NeedsRehash reports whether hash was made with other parameters than new
// hashes get (or is malformed), so the caller should store a fresh
// HashPassword of the password it just verified.
func NeedsRehash(hash string) bool {
	h, err := parsePHC(hash)
	return err != nil || h.memory != argonMemoryKiB || h.time != argonTime ||
		h.threads != argonThreads || len(h.key) != argonKeyLen
}

// DummyVerify spends the time of one VerifyPassword. Call it when the login
// name does not exist, so response time does not reveal which accounts do.
func DummyVerify(pw string) {
	var salt [argonSaltLen]byte
	argon2.IDKey([]byte(pw), salt[:], argonTime, argonMemoryKiB, argonThreads, argonKeyLen)
}

// passwordAlphabet leaves out look-alikes (0/O/o, 1/l/I) because generated
// passwords are read off a terminal and typed into phones.
const passwordAlphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// GeneratePassword returns a random 20-character password from an
// unambiguous alphabet of 56 symbols (about 116 bits).
func GeneratePassword() string {
	const n = 20
	out := make([]byte, 0, n)
	var buf [32]byte
	// Rejection sampling keeps every symbol equally likely: bytes at or
	// above the largest multiple of len(alphabet) are discarded.
	limit := byte(256 - 256%len(passwordAlphabet))
	for len(out) < n {
		// crypto/rand.Read never fails on supported platforms (Go ≥ 1.24
		// crashes the program instead of returning an error).
		_, _ = rand.Read(buf[:])
		for _, b := range buf {
			if b < limit && len(out) < n {
				out = append(out, passwordAlphabet[int(b)%len(passwordAlphabet)])
			}
		}
	}
	return string(out)
}
