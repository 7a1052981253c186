package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// selfSignedValidity is how long a generated certificate is valid; it is
// regenerated on start when it has less than a month left.
const selfSignedValidity = 397 * 24 * time.Hour

// Certificate is the server's certificate and what to tell the operator about it.
type Certificate struct {
	TLS         tls.Certificate
	Fingerprint string // SHA-256 of the leaf, colon-separated hex
	SelfSigned  bool
	Created     bool // generated on this start
	Path        string
}

// ReadLeaf reads the certificate Valv serves (certFile, or the
// self-signed one under dataDir/tls) without ever making one: for reports
// and checks made outside the server. selfSigned is true for the latter.
func ReadLeaf(certFile, dataDir string) (leaf *x509.Certificate, selfSigned bool, err error) {
	path := certFile
	if path == "" {
		path, selfSigned = filepath.Join(dataDir, "tls", "self-signed.crt"), true
	}
	raw, err := os.ReadFile(filepath.Clean(path))
	if err != nil {
		return nil, selfSigned, fmt.Errorf("read TLS certificate %s: %w", path, err)
	}
	block, _ := pem.Decode(raw)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, selfSigned, fmt.Errorf("TLS certificate %s holds no PEM certificate", path)
	}
	leaf, err = x509.ParseCertificate(block.Bytes)
	return leaf, selfSigned, err
}

// LoadCertificate loads certFile/keyFile, or when both are empty loads or
// creates a self-signed certificate under dataDir/tls.
func LoadCertificate(certFile, keyFile, dataDir string, hosts []string, now time.Time) (Certificate, error) {
	if certFile != "" {
		c, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return Certificate{}, fmt.Errorf("load TLS certificate %s: %w", certFile, err)
		}
		return Certificate{TLS: c, Fingerprint: fingerprint(c.Certificate[0]), Path: certFile}, nil
	}
	dir := filepath.Join(dataDir, "tls")
	cp, kp := filepath.Join(dir, "self-signed.crt"), filepath.Join(dir, "self-signed.key")
	if c, err := tls.LoadX509KeyPair(cp, kp); err == nil {
		leaf, perr := x509.ParseCertificate(c.Certificate[0])
		if perr == nil && leaf.NotAfter.Sub(now) > 30*24*time.Hour && coversHosts(leaf, hosts) {
			return Certificate{TLS: c, Fingerprint: fingerprint(c.Certificate[0]), SelfSigned: true, Path: cp}, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		// A damaged pair is replaced, not trusted.
		_ = err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Certificate{}, fmt.Errorf("create TLS directory: %w", err)
	}
	certPEM, keyPEM, err := selfSigned(hosts, now)
	if err != nil {
		return Certificate{}, err
	}
	if err := writeFileAtomic(kp, keyPEM, 0o600); err != nil {
		return Certificate{}, fmt.Errorf("write TLS key: %w", err)
	}
	if err := writeFileAtomic(cp, certPEM, 0o644); err != nil {
		return Certificate{}, fmt.Errorf("write TLS certificate: %w", err)
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return Certificate{}, err
	}
	return Certificate{TLS: c, Fingerprint: fingerprint(c.Certificate[0]), SelfSigned: true, Created: true, Path: cp}, nil
}

func coversHosts(leaf *x509.Certificate, hosts []string) bool {
	for _, h := range hosts {
		if leaf.VerifyHostname(h) != nil {
			return false
		}
	}
	return true
}

func selfSigned(hosts []string, now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "Valv self-signed", Organization: []string{"Valv"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(selfSignedValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), nil
}

func fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	parts := make([]string, 0, len(sum))
	for i := 0; i < len(h); i += 2 {
		parts = append(parts, h[i:i+2])
	}
	return strings.Join(parts, ":")
}

// TLSConfig is the server's TLS configuration: TLS 1.2 or 1.3 only, and in
// 1.2 only forward-secret AEAD suites (ENC-5).
// HSTS is the Strict-Transport-Security header every response carries:
// browsers use only HTTPS for two years.
const HSTS = "max-age=63072000; includeSubDomains"

func TLSConfig(cert tls.Certificate, minVersion string) *tls.Config {
	v := uint16(tls.VersionTLS12)
	if minVersion == "1.3" {
		v = tls.VersionTLS13
	}
	return &tls.Config{
		MinVersion:   v,
		Certificates: []tls.Certificate{cert},
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
	}
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
