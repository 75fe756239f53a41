package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"strings"
	"time"
)

const (
	// CAName is the common name of the cluster CA.
	CAName = "loligo-ca"
	// EtcdCAName is the common name of the etcd CA, which certifies only
	// who may reach the etcd that holds the cluster map (ValidEtcdName).
	EtcdCAName = "loligo-etcd-ca"
	// CAValidity is how long a new CA is good for.
	CAValidity = 10 * 365 * 24 * time.Hour
	// Backdate is how long before now a new certificate's validity
	// starts, so that hosts whose clocks lag accept it at once.
	Backdate = time.Hour
)

// defaultHosts are in every leaf certificate, so that a daemon is
// reachable by its loopback names.
var defaultHosts = []string{"127.0.0.1", "::1", "localhost"}

// CA is a certificate authority, the cluster CA or the etcd CA: its
// certificate and private key. It is safe for concurrent use (Issue does
// not modify it).
type CA struct {
	cert    *x509.Certificate
	certPEM []byte
	key     *ecdsa.PrivateKey
}

// NewCA makes a self-signed cluster CA: an ECDSA P-256 key and a
// certificate named CAName, with a random 128-bit serial, valid from
// now-Backdate to now+CAValidity, that may sign leaf certificates only
// (path length 0).
func NewCA(now time.Time) (*CA, error) { return makeCA(CAName, now) }

// NewEtcdCA makes a self-signed etcd CA, as NewCA but named EtcdCAName.
// It issues certificates only to the names ValidEtcdName accepts, and
// none of them is accepted by a daemon that trusts the cluster CA, nor
// any of the cluster CA's by an etcd that trusts only this one.
func NewEtcdCA(now time.Time) (*CA, error) { return makeCA(EtcdCAName, now) }

func makeCA(name string, now time.Time) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("pki: generating the CA key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             now.Add(-Backdate),
		NotAfter:              now.Add(CAValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("pki: creating the CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("pki: parsing the new CA certificate: %w", err)
	}
	return &CA{cert: cert, certPEM: encodeCert(der), key: key}, nil
}

// Certificate returns the CA's certificate. The caller must not modify
// it.
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }

// CertPEM returns the CA certificate in PEM, as Save writes it to ca.crt.
func (ca *CA) CertPEM() []byte { return append([]byte(nil), ca.certPEM...) }

// IsEtcd reports whether ca is an etcd CA (NewEtcdCA), not the cluster
// CA.
func (ca *CA) IsEtcd() bool { return isEtcdCA(ca.cert) }

func isEtcdCA(c *x509.Certificate) bool { return c.Subject.CommonName == EtcdCAName }

// validName checks a name ca may issue a certificate to.
func (ca *CA) validName(name string) error {
	if ca.IsEtcd() {
		return ValidEtcdName(name)
	}
	return ValidEntity(name)
}

// Issue makes a key and certificate for entity (a name ValidEntity
// accepts; for an etcd CA, one ValidEtcdName accepts): an ECDSA P-256
// key, and a certificate with common name entity, a random 128-bit
// serial, valid from now-Backdate to now+validity (cut to the CA's own
// expiry), for both server and client authentication. Its names are
// hosts (an IP address, bare or in brackets, as an IP name, anything else
// as a DNS name) and always 127.0.0.1, ::1 and localhost. It returns both
// in PEM; the key as PKCS #8.
//
// Errors wrap ErrBadEntity, or ErrInvalid for a non-positive validity, a
// bad host name, or a CA that has expired by now.
func (ca *CA) Issue(entity string, hosts []string, now time.Time, validity time.Duration) (certPEM, keyPEM []byte, err error) {
	if err := ca.validName(entity); err != nil {
		return nil, nil, err
	}
	if validity <= 0 {
		return nil, nil, fmt.Errorf("%w: validity %v for %s is not positive", ErrInvalid, validity, entity)
	}
	notAfter := now.Add(validity)
	if notAfter.After(ca.cert.NotAfter) {
		notAfter = ca.cert.NotAfter
	}
	if !now.Before(ca.cert.NotAfter) {
		return nil, nil, fmt.Errorf("%w: the CA expired at %v; make a new cluster CA", ErrInvalid, ca.cert.NotAfter.UTC())
	}
	var ips []net.IP
	var dns []string
	seen := map[string]bool{}
	for _, h := range append(append([]string(nil), hosts...), defaultHosts...) {
		h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
		if ip := net.ParseIP(h); ip != nil {
			if !seen[ip.String()] {
				seen[ip.String()] = true
				ips = append(ips, ip)
			}
			continue
		}
		if !validDNSName(h) {
			return nil, nil, fmt.Errorf("%w: host %q for %s is neither an IP address nor a DNS name", ErrInvalid, h, entity)
		}
		if !seen[strings.ToLower(h)] {
			seen[strings.ToLower(h)] = true
			dns = append(dns, h)
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: generating a key for %s: %w", entity, err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: entity},
		NotBefore:             now.Add(-Backdate),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IPAddresses:           ips,
		DNSNames:              dns,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: issuing a certificate for %s: %w", entity, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: encoding the key of %s: %w", entity, err)
	}
	return encodeCert(der), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}

// newSerial returns a random serial number of up to 128 bits, never 0.
func newSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 128)
	for {
		n, err := rand.Int(rand.Reader, limit)
		if err != nil {
			return nil, fmt.Errorf("pki: generating a serial number: %w", err)
		}
		if n.Sign() > 0 {
			return n, nil
		}
	}
}

func encodeCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// validDNSName reports whether h is a host name of letters, digits, '-'
// and '_' labels.
func validDNSName(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 || !idChars(label) {
			return false
		}
	}
	return true
}
