package store

import (
	"fmt"
	"strings"

	"golang.org/x/net/idna"
)

// NormalizeAddress validates addr and returns its canonical form: the
// domain lower-cased and converted to its IDNA A-label, the local part
// lower-cased. Lower-casing the local part is a decision: RFC 5321 allows
// case-sensitive local parts, but every mainstream server treats them as
// case-insensitive and users expect Alice@ and alice@ to be one person.
func NormalizeAddress(addr string) (string, error) {
	addr = strings.TrimSpace(addr)
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 {
		return "", fmt.Errorf("%w %q: want local@domain", ErrInvalidAddress, addr)
	}
	local, domain := addr[:at], addr[at+1:]
	if len(local) > 64 {
		return "", fmt.Errorf("%w %q: local part longer than 64 characters", ErrInvalidAddress, addr)
	}
	for _, r := range local {
		if r <= ' ' || r == 0x7f || strings.ContainsRune(`"(),:;<>@[\]`, r) {
			return "", fmt.Errorf("%w %q: character %q not allowed in the local part", ErrInvalidAddress, addr, r)
		}
	}
	if strings.HasPrefix(local, ".") || strings.HasSuffix(local, ".") || strings.Contains(local, "..") {
		return "", fmt.Errorf("%w %q: misplaced dot in the local part", ErrInvalidAddress, addr)
	}
	d, err := NormalizeDomain(domain)
	if err != nil {
		return "", fmt.Errorf("%w %q: %v", ErrInvalidAddress, addr, err)
	}
	return strings.ToLower(local) + "@" + d, nil
}

// NormalizeDomain returns the lower-case A-label form of a domain name.
func NormalizeDomain(domain string) (string, error) {
	domain = strings.TrimSuffix(strings.TrimSpace(domain), ".")
	if domain == "" {
		return "", fmt.Errorf("empty domain")
	}
	a, err := idna.Lookup.ToASCII(strings.ToLower(domain))
	if err != nil {
		return "", fmt.Errorf("invalid domain %q: %v", domain, err)
	}
	if !strings.Contains(a, ".") {
		return "", fmt.Errorf("invalid domain %q: need at least two labels", domain)
	}
	return a, nil
}

// DomainOf returns the part after the last '@'.
func DomainOf(addr string) string {
	return addr[strings.LastIndexByte(addr, '@')+1:]
}
