package pki

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"time"
)

// ServerConfig returns the TLS settings of a daemon's listener: TLS 1.3 at
// least, presenting the certificate in certFile with the key in keyFile,
// and requiring every client to present a certificate that the CA in
// caFile issued (check the client's name with Entity). Errors name the
// file that is missing or bad and say what to do.
func ServerConfig(certFile, keyFile, caFile string) (*tls.Config, error) {
	cert, pool, err := loadTLS(certFile, keyFile, caFile)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
	}, nil
}

// ClientConfig returns the TLS settings to dial a daemon: TLS 1.3 at
// least, presenting the certificate in certFile with the key in keyFile,
// and accepting only a server certificate that the CA in caFile issued
// and that names the host dialed. ServerName is left empty: tls.Dial and
// gRPC set it from the address, and a caller dialing by a name the
// certificate lacks sets it. Errors name the file that is missing or bad
// and say what to do.
func ClientConfig(certFile, keyFile, caFile string) (*tls.Config, error) {
	cert, pool, err := loadTLS(certFile, keyFile, caFile)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
	}, nil
}

// loadTLS reads an entity's key pair and the CA, and checks that they
// belong together.
func loadTLS(certFile, keyFile, caFile string) (tls.Certificate, *x509.CertPool, error) {
	var none tls.Certificate
	certPEM, err := readFile(certFile, "certificate")
	if err != nil {
		return none, nil, err
	}
	leaf, err := parseCert(certFile, "certificate", certPEM)
	if err != nil {
		return none, nil, err
	}
	keyPEM, err := readFile(keyFile, "key")
	if err != nil {
		return none, nil, err
	}
	key, err := parseKey(keyFile, keyPEM)
	if err != nil {
		return none, nil, err
	}
	if err := matchKey(leaf, certFile, key, keyFile); err != nil {
		return none, nil, err
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return none, nil, fmt.Errorf("%w: %s and %s: %v; %s", ErrBadFile, certFile, keyFile, err, hint)
	}
	cas, err := readCAs(caFile)
	if err != nil {
		return none, nil, err
	}
	pool := x509.NewCertPool()
	issued := false
	for _, ca := range cas {
		pool.AddCert(ca)
		if leaf.CheckSignatureFrom(ca) == nil {
			issued = true
		}
	}
	if !issued {
		return none, nil, fmt.Errorf("%w: %s (%s) was not issued by the CA in %s: they come from different clusters; %s",
			ErrBadFile, certFile, leaf.Subject.CommonName, caFile, hint)
	}
	return pair, pool, nil
}

// readCAs reads the CA certificates of a PEM file: one or more, each a
// CA.
func readCAs(caFile string) ([]*x509.Certificate, error) {
	caPEM, err := readFile(caFile, "CA certificate")
	if err != nil {
		return nil, err
	}
	var cas []*x509.Certificate
	for rest := caPEM; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		ca, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: CA certificate %s: %v; %s", ErrBadFile, caFile, err, hint)
		}
		if !ca.IsCA {
			return nil, fmt.Errorf("%w: %s holds %q, which is not a CA certificate (pass ca.crt); %s", ErrBadFile, caFile, ca.Subject.CommonName, hint)
		}
		cas = append(cas, ca)
	}
	if len(cas) == 0 {
		return nil, fmt.Errorf("%w: CA certificate %s holds no PEM CERTIFICATE block; %s", ErrBadFile, caFile, hint)
	}
	return cas, nil
}

// SharesCA reports whether the CA files a and b hold a certificate in
// common (the same CA), so that whoever trusts one trusts what the
// other's CA issued. Errors are as ServerConfig's.
func SharesCA(a, b string) (bool, error) {
	as, err := readCAs(a)
	if err != nil {
		return false, err
	}
	bs, err := readCAs(b)
	if err != nil {
		return false, err
	}
	for _, x := range as {
		for _, y := range bs {
			if x.Equal(y) {
				return true, nil
			}
		}
	}
	return false, nil
}

// IssuedBy reports whether the certificate in certFile was signed by a
// CA in caFile. Errors are as ServerConfig's.
func IssuedBy(certFile, caFile string) (bool, error) {
	certPEM, err := readFile(certFile, "certificate")
	if err != nil {
		return false, err
	}
	leaf, err := parseCert(certFile, "certificate", certPEM)
	if err != nil {
		return false, err
	}
	cas, err := readCAs(caFile)
	if err != nil {
		return false, err
	}
	for _, ca := range cas {
		if leaf.CheckSignatureFrom(ca) == nil {
			return true, nil
		}
	}
	return false, nil
}

// Entity returns the entity name of the peer of a connection: the common
// name of the leaf of the first chain the TLS stack verified, checked with
// ValidEntity. It fails with ErrUnverified if the handshake is not done or
// verified no peer certificate (a server not using ServerConfig, or a
// client that skipped verification).
func Entity(cs tls.ConnectionState) (string, error) {
	if !cs.HandshakeComplete || len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
		return "", fmt.Errorf("%w: no verified certificate on the connection", ErrUnverified)
	}
	cn := cs.VerifiedChains[0][0].Subject.CommonName
	if err := ValidEntity(cn); err != nil {
		return "", fmt.Errorf("pki: the peer's certificate: %w", err)
	}
	return cn, nil
}

// CheckValid reports, with ErrExpired, a certificate in certFile (an
// entity's, or a CA's) that is not valid at now: a peer refuses it, and
// with TLS 1.3 the client sees only a closed connection, so a client
// checks its own first and says what is wrong.
func CheckValid(certFile string, now time.Time) error {
	certPEM, err := readFile(certFile, "certificate")
	if err != nil {
		return err
	}
	for rest := certPEM; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return fmt.Errorf("%w: %s: %v; %s", ErrBadFile, certFile, err, hint)
		}
		switch {
		case now.After(c.NotAfter):
			return fmt.Errorf("%w: %s (%s) expired at %s: issue a new one with `loligo cert` on the bootstrap monitor's directory",
				ErrExpired, certFile, c.Subject.CommonName, c.NotAfter.UTC().Format(time.RFC3339))
		case now.Before(c.NotBefore):
			return fmt.Errorf("%w: %s (%s) is not valid before %s: check this machine's clock",
				ErrExpired, certFile, c.Subject.CommonName, c.NotBefore.UTC().Format(time.RFC3339))
		}
	}
}
