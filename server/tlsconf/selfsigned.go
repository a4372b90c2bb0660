package tlsconf

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

const (
	selfSignedCert = "selfsigned.crt"
	selfSignedKey  = "selfsigned.key"
	// selfSignedValidity is long on purpose: the point of keeping the
	// certificate is that a client told to trust it keeps working.
	selfSignedValidity = 10 * 365 * 24 * time.Hour
	// selfSignedRenewWithin regenerates a kept certificate this close to expiry.
	selfSignedRenewWithin = 30 * 24 * time.Hour
)

// loadOrCreateSelfSigned returns the certificate kept in dir if it exists,
// parses, covers host and is not about to expire; otherwise it generates a
// new one and writes it there (key mode 0600).
func loadOrCreateSelfSigned(dir, host string, log *slog.Logger) (*tls.Certificate, error) {
	certPath, keyPath := filepath.Join(dir, selfSignedCert), filepath.Join(dir, selfSignedKey)
	c, err := tls.LoadX509KeyPair(certPath, keyPath)
	switch {
	case err == nil:
		why := ""
		if c.Leaf == nil {
			why = "unparsable"
		} else if c.Leaf.VerifyHostname(host) != nil {
			why = "does not cover hostname " + host
		} else if time.Until(c.Leaf.NotAfter) < selfSignedRenewWithin {
			why = "expires soon"
		}
		if why == "" {
			log.Info("using kept self-signed certificate", "file", certPath)
			return &c, nil
		}
		log.Warn("regenerating self-signed certificate", "file", certPath, "reason", why)
	case errors.Is(err, fs.ErrNotExist):
		// First start: generate below.
	default:
		// Corrupt or half-written files: say so, then replace them rather
		// than refusing to start a server whose TLS is self-signed anyway.
		log.Warn("kept self-signed certificate unusable; regenerating", "file", certPath, "err", err)
	}

	certPEM, keyPEM, err := GenerateSelfSigned(host, time.Now())
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("tlsconf: creating %s: %w", dir, err)
	}
	if err := writeFileAtomic(keyPath, keyPEM, 0o600); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(certPath, certPEM, 0o644); err != nil {
		return nil, err
	}
	c, err = tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("tlsconf: generated certificate does not load: %w", err)
	}
	log.Info("generated self-signed certificate", "file", certPath, "hostname", host)
	return &c, nil
}

// GenerateSelfSigned makes an ECDSA P-256 certificate for host, localhost,
// 127.0.0.1 and ::1, returning PEM cert and PEM PKCS#8 key.
func GenerateSelfSigned(host string, now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("tlsconf: generating key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, nil, fmt.Errorf("tlsconf: generating serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: host, Organization: []string{"mailsrv self-signed"}},
		NotBefore:    now.Add(-time.Hour), // tolerate small clock skew on clients
		NotAfter:     now.Add(selfSignedValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		// IsCA lets a user import the certificate as a trust anchor in
		// clients that only accept CA certificates there.
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	tmpl.KeyUsage |= x509.KeyUsageCertSign
	if ip := net.ParseIP(host); ip != nil {
		tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
	} else {
		tmpl.DNSNames = append(tmpl.DNSNames, host)
	}
	if host != "localhost" {
		tmpl.DNSNames = append(tmpl.DNSNames, "localhost")
	}
	for _, ip := range []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback} {
		if !ip.Equal(net.ParseIP(host)) {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("tlsconf: creating certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("tlsconf: encoding key: %w", err)
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	return certPEM, keyPEM, nil
}

// writeFileAtomic writes via a temp file and rename so a crash never leaves
// a truncated certificate or key behind. The temp file is created with perm
// from the start, so the key is never readable by others, not even briefly.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	// A leftover temp file would keep its old (possibly wider) mode.
	_ = os.Remove(tmp)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return fmt.Errorf("tlsconf: writing %s: %w", path, err)
	}
	_, werr := f.Write(data)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("tlsconf: writing %s: %w", path, err)
	}
	// O_CREATE's perm is masked by umask; make the mode exact.
	if err := os.Chmod(tmp, perm); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("tlsconf: chmod %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("tlsconf: writing %s: %w", path, err)
	}
	return nil
}
