package pki

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
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
	caPEM, err := readFile(caFile, "CA certificate")
	if err != nil {
		return none, nil, err
	}
	pool := x509.NewCertPool()
	cas, issued := 0, false
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
			return none, nil, fmt.Errorf("%w: CA certificate %s: %v; %s", ErrBadFile, caFile, err, hint)
		}
		if !ca.IsCA {
			return none, nil, fmt.Errorf("%w: %s holds %q, which is not a CA certificate (pass ca.crt); %s", ErrBadFile, caFile, ca.Subject.CommonName, hint)
		}
		pool.AddCert(ca)
		cas++
		if leaf.CheckSignatureFrom(ca) == nil {
			issued = true
		}
	}
	if cas == 0 {
		return none, nil, fmt.Errorf("%w: CA certificate %s holds no PEM CERTIFICATE block; %s", ErrBadFile, caFile, hint)
	}
	if !issued {
		return none, nil, fmt.Errorf("%w: %s (%s) was not issued by the CA in %s: they come from different clusters; %s",
			ErrBadFile, certFile, leaf.Subject.CommonName, caFile, hint)
	}
	return pair, pool, nil
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
