package msgauth

import (
	"bufio"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/emersion/go-msgauth/dkim"
)

// Key algorithms accepted by GenerateKey and reported by Signer.Algorithm.
const (
	AlgEd25519 = "ed25519"
	AlgRSA     = "rsa"
)

// rsaBits is the RSA key size: 2048 is what every verifier accepts and
// what fits (split into 255-byte strings) in one TXT record.
const rsaBits = 2048

// KeyPair is a freshly generated DKIM key.
type KeyPair struct {
	Algorithm string // AlgEd25519 or AlgRSA
	// PrivateKeyPEM is the private key as a PKCS#8 "PRIVATE KEY" PEM block,
	// the form NewSigner reads back.
	PrivateKeyPEM []byte
	// PublicKey is the base64 p= value for the DNS record: raw 32 bytes for
	// ed25519 (RFC 8463), SubjectPublicKeyInfo DER for RSA.
	PublicKey string
}

// GenerateKey creates a DKIM key; algo is "ed25519" or "rsa" (2048 bits).
func GenerateKey(algo string) (KeyPair, error) {
	var priv crypto.Signer
	switch algo {
	case AlgEd25519:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return KeyPair{}, fmt.Errorf("msgauth: generating ed25519 key: %w", err)
		}
		priv = k
	case AlgRSA:
		k, err := rsa.GenerateKey(rand.Reader, rsaBits)
		if err != nil {
			return KeyPair{}, fmt.Errorf("msgauth: generating RSA key: %w", err)
		}
		priv = k
	default:
		return KeyPair{}, fmt.Errorf("msgauth: unknown DKIM key algorithm %q (want %q or %q)", algo, AlgEd25519, AlgRSA)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return KeyPair{}, fmt.Errorf("msgauth: encoding private key: %w", err)
	}
	pub, err := publicKeyString(priv.Public())
	if err != nil {
		return KeyPair{}, err
	}
	return KeyPair{
		Algorithm:     algo,
		PrivateKeyPEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		PublicKey:     pub,
	}, nil
}

// DNSRecord returns the TXT record value to publish at
// <selector>._domainkey.<domain>, e.g. "v=DKIM1; k=ed25519; p=...".
// An RSA record is longer than 255 bytes; whoever writes the zone must
// split it into several character-strings of one TXT record.
func DNSRecord(pub, algo string) string {
	return "v=DKIM1; k=" + algo + "; p=" + pub
}

func publicKeyString(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		return base64.StdEncoding.EncodeToString(k), nil
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			return "", fmt.Errorf("msgauth: encoding RSA public key: %w", err)
		}
		return base64.StdEncoding.EncodeToString(der), nil
	}
	return "", fmt.Errorf("msgauth: unsupported DKIM key type %T", pub)
}

// Signer DKIM-signs messages for one domain with one key. It is safe for
// concurrent use (it is immutable after NewSigner).
type Signer struct {
	domain, selector string
	key              crypto.Signer
	algo             string
	pub              string
}

// NewSigner parses privPEM (PKCS#8 "PRIVATE KEY", or PKCS#1 "RSA PRIVATE
// KEY") and returns a Signer producing signatures with d=domain and
// s=selector.
func NewSigner(domain, selector string, privPEM []byte) (*Signer, error) {
	if domain == "" || selector == "" {
		return nil, errors.New("msgauth: DKIM signer needs a domain and a selector")
	}
	block, _ := pem.Decode(privPEM)
	if block == nil {
		return nil, errors.New("msgauth: DKIM private key is not PEM")
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("msgauth: unsupported PEM block %q for a DKIM key", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("msgauth: parsing DKIM private key: %w", err)
	}
	s := &Signer{domain: strings.ToLower(domain), selector: selector}
	switch k := key.(type) {
	case ed25519.PrivateKey:
		s.key, s.algo = k, AlgEd25519
	case *rsa.PrivateKey:
		if k.N.BitLen() < 1024 {
			return nil, fmt.Errorf("msgauth: RSA DKIM key has %d bits, verifiers require at least 1024", k.N.BitLen())
		}
		s.key, s.algo = k, AlgRSA
	default:
		return nil, fmt.Errorf("msgauth: unsupported DKIM key type %T", key)
	}
	if s.pub, err = publicKeyString(s.key.Public()); err != nil {
		return nil, err
	}
	return s, nil
}

// Domain returns the signing domain (d=).
func (s *Signer) Domain() string { return s.domain }

// Selector returns the selector (s=).
func (s *Signer) Selector() string { return s.selector }

// Algorithm returns AlgEd25519 or AlgRSA.
func (s *Signer) Algorithm() string { return s.algo }

// DNSRecord returns the TXT record value matching this key, for `domain
// records` and `domain verify`.
func (s *Signer) DNSRecord() string { return DNSRecord(s.pub, s.algo) }

// Sign reads the complete message from r once and returns the
// DKIM-Signature header field (name, folded value and final CRLF) to
// prepend to it. Relaxed/relaxed canonicalisation, sha256.
func (s *Signer) Sign(r io.Reader) (string, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	hdr, err := readHeaderBlock(br)
	if err != nil {
		return "", fmt.Errorf("msgauth: reading message header: %w", err)
	}
	keys := headerKeys(parseHeaderFields(hdr))
	if keys == nil {
		return "", errors.New("msgauth: cannot DKIM-sign a message without a From header")
	}
	ds, err := dkim.NewSigner(&dkim.SignOptions{
		Domain:                 s.domain,
		Selector:               s.selector,
		Signer:                 s.key,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed,
		BodyCanonicalization:   dkim.CanonicalizationRelaxed,
		HeaderKeys:             keys,
	})
	if err != nil {
		return "", fmt.Errorf("msgauth: DKIM signer: %w", err)
	}
	if _, err := ds.Write(hdr); err != nil {
		ds.Close()
		return "", fmt.Errorf("msgauth: DKIM signing: %w", err)
	}
	if _, err := io.Copy(ds, br); err != nil {
		// Close still has to run to stop the signer's goroutine.
		ds.Close()
		return "", fmt.Errorf("msgauth: DKIM signing: %w", err)
	}
	if err := ds.Close(); err != nil {
		return "", fmt.Errorf("msgauth: DKIM signing: %w", err)
	}
	return ds.Signature(), nil
}

// headerKeys lists the h= tag: each signed field as often as it occurs,
// From once more (over-signing: a second From added in transit breaks the
// signature instead of changing the author). Fields that are absent are
// not listed, so benign additions such as a list's Reply-To don't break
// it. nil when there is no From.
func headerKeys(fields []headerField) []string {
	signed := [...]string{
		"From", "To", "Cc", "Subject", "Date", "Message-ID", "Reply-To",
		"In-Reply-To", "References", "MIME-Version", "Content-Type",
		"Content-Transfer-Encoding", "Sender",
	}
	count := map[string]int{}
	for _, f := range fields {
		count[strings.ToLower(f.Name)]++
	}
	if count["from"] == 0 {
		return nil
	}
	var keys []string
	for _, name := range signed {
		n := count[strings.ToLower(name)]
		if name == "From" {
			n++
		}
		for range n {
			keys = append(keys, name)
		}
	}
	return keys
}

// Key is one DKIM private key of a domain.
type Key struct {
	Selector      string
	PrivateKeyPEM []byte
}

// SignEach returns the DKIM-Signature fields of one message, one per key
// in order (ed25519 and RSA after `domain add`), each computed over what
// open returns, which is closed after use. No keys give no signature.
func SignEach(domain string, keys []Key, open func() (io.ReadCloser, error)) (string, error) {
	var out strings.Builder
	for _, k := range keys {
		signer, err := NewSigner(domain, k.Selector, k.PrivateKeyPEM)
		if err != nil {
			return "", fmt.Errorf("key %s: %w", k.Selector, err)
		}
		r, err := open()
		if err != nil {
			return "", err
		}
		sig, err := signer.Sign(r)
		r.Close()
		if err != nil {
			return "", err
		}
		out.WriteString(sig)
	}
	return out.String(), nil
}
