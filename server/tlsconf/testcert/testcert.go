// Package testcert makes throwaway TLS certificates for tests: one call
// gives a server tls.Config for the named hosts (and 127.0.0.1) and the
// certificate in PEM, which a test can hand to a client that must trust it
// (mbsync, python with verification, a go client with RootCAs). Tests of
// several packages need this; keeping it here avoids a copy in each.
//
// The certificate is its own CA (so it can be trusted as a root), valid
// for an hour around now, and never written to disk by this package.
package testcert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"testing"
	"time"
)

// New returns a server TLS config with a fresh self-signed certificate for
// hosts (the first is also the common name) and 127.0.0.1, and that
// certificate in PEM.
func New(t testing.TB, hosts ...string) (*tls.Config, []byte) {
	t.Helper()
	if len(hosts) == 0 {
		hosts = []string{"localhost"}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: hosts[0]},
		DNSNames:              hosts,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	return cfg, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
