package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func newCA(t *testing.T, now time.Time) *CA {
	t.Helper()
	ca, err := NewCA(now)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func parsePEMCert(t *testing.T, b []byte) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("no CERTIFICATE block in %q", b)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNewCA(t *testing.T) {
	ca := newCA(t, t0)
	c := parsePEMCert(t, ca.CertPEM())
	if c.Subject.CommonName != "loligo-ca" || !c.IsCA || !c.BasicConstraintsValid || c.MaxPathLen != 0 || !c.MaxPathLenZero {
		t.Errorf("CA certificate: CN %q IsCA %v MaxPathLen %d", c.Subject.CommonName, c.IsCA, c.MaxPathLen)
	}
	if c.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Error("CA cannot sign certificates")
	}
	if !c.NotBefore.Equal(t0.Add(-Backdate)) || !c.NotAfter.Equal(t0.Add(CAValidity)) {
		t.Errorf("validity %v to %v", c.NotBefore, c.NotAfter)
	}
	if c.NotAfter.Sub(t0) < 10*365*24*time.Hour {
		t.Errorf("CA valid for %v, want 10 years", c.NotAfter.Sub(t0))
	}
	pub, ok := c.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		t.Errorf("CA key %T, want ECDSA P-256", c.PublicKey)
	}
	if c.SerialNumber.Sign() <= 0 || c.SerialNumber.BitLen() > 128 {
		t.Errorf("serial %v", c.SerialNumber)
	}
	if err := c.CheckSignatureFrom(c); err != nil {
		t.Errorf("not self-signed: %v", err)
	}
	if other := newCA(t, t0); other.Certificate().SerialNumber.Cmp(c.SerialNumber) == 0 {
		t.Error("two CAs have the same serial")
	}
}

func TestIssue(t *testing.T) {
	ca := newCA(t, t0)
	certPEM, keyPEM, err := ca.Issue("osd.3", []string{"10.0.0.7", "node7.example.com", "[fd00::7]", "localhost"}, t0, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c := parsePEMCert(t, certPEM)
	if c.Subject.CommonName != "osd.3" || c.IsCA {
		t.Errorf("CN %q IsCA %v", c.Subject.CommonName, c.IsCA)
	}
	if err := c.CheckSignatureFrom(ca.Certificate()); err != nil {
		t.Errorf("not signed by the CA: %v", err)
	}
	if !slices.Equal(c.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}) {
		t.Errorf("ExtKeyUsage %v, want server and client auth", c.ExtKeyUsage)
	}
	if c.KeyUsage != x509.KeyUsageDigitalSignature|x509.KeyUsageKeyEncipherment {
		t.Errorf("KeyUsage %v", c.KeyUsage)
	}
	if !c.NotBefore.Equal(t0.Add(-Backdate)) || !c.NotAfter.Equal(t0.Add(24*time.Hour)) {
		t.Errorf("validity %v to %v", c.NotBefore, c.NotAfter)
	}
	var ips []string
	for _, ip := range c.IPAddresses {
		ips = append(ips, ip.String())
	}
	if want := []string{"10.0.0.7", "fd00::7", "127.0.0.1", "::1"}; !slices.Equal(ips, want) {
		t.Errorf("IP names %v, want %v", ips, want)
	}
	if want := []string{"node7.example.com", "localhost"}; !slices.Equal(c.DNSNames, want) {
		t.Errorf("DNS names %v, want %v", c.DNSNames, want)
	}
	for _, h := range []string{"10.0.0.7", "fd00::7", "127.0.0.1", "::1", "localhost", "node7.example.com"} {
		if err := c.VerifyHostname(h); err != nil {
			t.Errorf("VerifyHostname(%s): %v", h, err)
		}
	}
	if err := c.VerifyHostname("10.0.0.8"); err == nil {
		t.Error("certificate valid for a host it does not name")
	}
	block, _ := pem.Decode(keyPEM)
	if block == nil || block.Type != "PRIVATE KEY" {
		t.Fatalf("key PEM type: %v", block)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if k, ok := key.(*ecdsa.PrivateKey); !ok || k.Curve != elliptic.P256() || !k.PublicKey.Equal(c.PublicKey) {
		t.Errorf("key %T does not match the certificate or is not P-256", key)
	}
}

func TestIssueCappedByCA(t *testing.T) {
	ca := newCA(t, t0)
	certPEM, _, err := ca.Issue("mon.a", nil, t0, 20*365*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if c := parsePEMCert(t, certPEM); !c.NotAfter.Equal(ca.Certificate().NotAfter) {
		t.Errorf("leaf expires %v, after the CA (%v)", c.NotAfter, ca.Certificate().NotAfter)
	}
}

func TestIssueRefuses(t *testing.T) {
	ca := newCA(t, t0)
	tests := []struct {
		name     string
		entity   string
		hosts    []string
		now      time.Time
		validity time.Duration
		kind     error
	}{
		{"bad entity", "osd.x", nil, t0, time.Hour, ErrBadEntity},
		{"zero validity", "osd.1", nil, t0, 0, ErrInvalid},
		{"negative validity", "osd.1", nil, t0, -time.Hour, ErrInvalid},
		{"empty host", "osd.1", []string{""}, t0, time.Hour, ErrInvalid},
		{"host with space", "osd.1", []string{"a b"}, t0, time.Hour, ErrInvalid},
		{"host with port", "osd.1", []string{"10.0.0.1:6789"}, t0, time.Hour, ErrInvalid},
		{"CA expired", "osd.1", nil, t0.Add(CAValidity), time.Hour, ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, k, err := ca.Issue(tc.entity, tc.hosts, tc.now, tc.validity)
			if !errors.Is(err, tc.kind) {
				t.Errorf("Issue error = %v, want %v", err, tc.kind)
			}
			if c != nil || k != nil {
				t.Error("Issue returned PEM with an error")
			}
		})
	}
}

func TestSaveLoadCA(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	ca := newCA(t, t0)
	if err := ca.Save(dir); err != nil {
		t.Fatal(err)
	}
	certPath, keyPath := CAPaths(dir)
	for p, mode := range map[string]os.FileMode{certPath: 0o644, keyPath: 0o600, dir: 0o700 | fs.ModeDir} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != mode {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode(), mode)
		}
	}
	got, err := LoadCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Certificate().Equal(ca.Certificate()) || !got.key.Equal(ca.key) {
		t.Error("LoadCA returned another CA")
	}
	// The loaded CA issues certificates the saved one verifies.
	certPEM, _, err := got.Issue("client.admin", nil, t0, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := parsePEMCert(t, certPEM).CheckSignatureFrom(ca.Certificate()); err != nil {
		t.Error(err)
	}

	// Never overwritten, even by the same CA or when only one file is there.
	err = newCA(t, t0).Save(dir)
	if !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), certPath) {
		t.Errorf("second Save = %v, want ErrExists naming %s", err, certPath)
	}
	if again, _ := LoadCA(dir); again == nil || !again.Certificate().Equal(ca.Certificate()) {
		t.Error("the CA changed after a refused Save")
	}
	if err := os.Remove(certPath); err != nil {
		t.Fatal(err)
	}
	if err := newCA(t, t0).Save(dir); !errors.Is(err, ErrExists) {
		t.Errorf("Save over a lone ca.key = %v, want ErrExists", err)
	}
	if _, err := os.Stat(certPath); !errors.Is(err, fs.ErrNotExist) {
		t.Error("a refused Save wrote ca.crt")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("%d files in the key directory, want 1 (temporary files left?)", len(entries))
	}
}

func TestLoadCAErrors(t *testing.T) {
	caA, caB := newCA(t, t0), newCA(t, t0)
	leafPEM, leafKey, err := caA.Issue("osd.1", nil, t0, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	keyOf := func(ca *CA) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(ca.key)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	tests := []struct {
		name     string
		cert     []byte // nil: no file
		key      []byte
		kind     error
		badFile  string // ca.crt or ca.key
		wantText string
	}{
		{"no files", nil, nil, ErrMissing, "ca.crt", hint},
		{"no key", caA.CertPEM(), nil, ErrMissing, "ca.key", hint},
		{"cert not PEM", []byte("hello"), keyOf(caA), ErrBadFile, "ca.crt", "no PEM CERTIFICATE"},
		{"cert is a key", keyOf(caA), keyOf(caA), ErrBadFile, "ca.crt", "no PEM CERTIFICATE"},
		{"key is a cert", caA.CertPEM(), caA.CertPEM(), ErrBadFile, "ca.key", "no PEM PRIVATE KEY"},
		{"key of another CA", caA.CertPEM(), keyOf(caB), ErrBadFile, "ca.key", "do not belong together"},
		{"a leaf, not a CA", leafPEM, leafKey, ErrBadFile, "ca.crt", "not a CA"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			certPath, keyPath := CAPaths(dir)
			if tc.cert != nil {
				if err := os.WriteFile(certPath, tc.cert, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if tc.key != nil {
				if err := os.WriteFile(keyPath, tc.key, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			_, err := LoadCA(dir)
			if !errors.Is(err, tc.kind) {
				t.Fatalf("LoadCA = %v, want %v", err, tc.kind)
			}
			if tc.kind == ErrMissing && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%v does not wrap fs.ErrNotExist", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, filepath.Join(dir, tc.badFile)) || !strings.Contains(msg, tc.wantText) {
				t.Errorf("error %q should name %s and say %q", msg, tc.badFile, tc.wantText)
			}
		})
	}
}

func TestWriteKeyPair(t *testing.T) {
	ca := newCA(t, t0)
	dir := filepath.Join(t.TempDir(), "keys")
	c1, k1, err := ca.Issue("osd.3", nil, t0, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteKeyPair(dir, "osd.3", c1, k1); err != nil {
		t.Fatal(err)
	}
	certPath, keyPath := Paths(dir, "osd.3")
	if certPath != filepath.Join(dir, "osd.3.crt") || keyPath != filepath.Join(dir, "osd.3.key") {
		t.Errorf("Paths = %s, %s", certPath, keyPath)
	}
	for p, want := range map[string]struct {
		data []byte
		mode os.FileMode
	}{certPath: {c1, 0o644}, keyPath: {k1, 0o600}} {
		got, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := os.Stat(p)
		if string(got) != string(want.data) || fi.Mode() != want.mode {
			t.Errorf("%s: mode %v (want %v), content equal %v", p, fi.Mode(), want.mode, string(got) == string(want.data))
		}
	}
	// Renewal replaces both.
	c2, k2, err := ca.Issue("osd.3", nil, t0.Add(time.Hour), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteKeyPair(dir, "osd.3", c2, k2); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(keyPath); string(got) != string(k2) {
		t.Error("renewal did not replace the key")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("%d files, want 2 (temporary files left?)", len(entries))
	}

	tests := []struct {
		name      string
		entity    string
		cert, key []byte
		kind      error
		shouldSay string
	}{
		{"bad entity", "osd.x", c1, k1, ErrBadEntity, "osd.x"},
		{"another entity's cert", "osd.4", c1, k1, ErrInvalid, `is for "osd.3", not osd.4`},
		{"mismatched key", "osd.3", c1, k2, ErrBadFile, "do not belong together"},
		{"not PEM", "osd.3", []byte("x"), k1, ErrBadFile, "no PEM CERTIFICATE"},
		{"key not PEM", "osd.3", c1, []byte("x"), ErrBadFile, "no PEM PRIVATE KEY"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := t.TempDir()
			err := WriteKeyPair(d, tc.entity, tc.cert, tc.key)
			if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.shouldSay) {
				t.Fatalf("WriteKeyPair = %v, want %v saying %q", err, tc.kind, tc.shouldSay)
			}
			if entries, _ := os.ReadDir(d); len(entries) != 0 {
				t.Errorf("a refused WriteKeyPair wrote %d files", len(entries))
			}
		})
	}
}

// The names Issue gives a daemon are what net.SplitHostPort makes of its
// listen addresses.
func TestIssueIPForms(t *testing.T) {
	ca := newCA(t, t0)
	host, _, _ := net.SplitHostPort("[2001:db8::1]:6789")
	certPEM, _, err := ca.Issue("mon.a", []string{host, "2001:db8::1"}, t0, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if c := parsePEMCert(t, certPEM); len(c.IPAddresses) != 3 {
		t.Errorf("IP names %v: the same address twice, or missing", c.IPAddresses)
	}
}
