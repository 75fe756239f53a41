package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// File names in a key directory.
const (
	caCertFile = "ca.crt"
	caKeyFile  = "ca.key"
)

// CAPaths returns where Save writes the CA's certificate and key in dir.
func CAPaths(dir string) (cert, key string) {
	return filepath.Join(dir, caCertFile), filepath.Join(dir, caKeyFile)
}

// Paths returns where WriteKeyPair writes entity's certificate and key in
// dir: dir/ENTITY.crt and dir/ENTITY.key. It does not check entity.
func Paths(dir, entity string) (cert, key string) {
	return filepath.Join(dir, entity+".crt"), filepath.Join(dir, entity+".key")
}

// Save writes the CA to dir/ca.crt (mode 0644) and dir/ca.key (mode
// 0600), creating dir (mode 0700) if needed. It never replaces a file: if
// either exists it returns an error wrapping ErrExists and writes
// nothing. Each file appears whole or not at all.
func (ca *CA) Save(dir string) error {
	certPath, keyPath := CAPaths(dir)
	for _, p := range []string{certPath, keyPath} {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("%w: %s is there; a cluster has one CA: use LoadCA, or remove the old cluster's keys first", ErrExists, p)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("pki: %w", err)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(ca.key)
	if err != nil {
		return fmt.Errorf("pki: encoding the CA key: %w", err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	if err := writeFile(keyPath, keyPEM, 0o600, false); err != nil {
		return err
	}
	if err := writeFile(certPath, ca.certPEM, 0o644, false); err != nil {
		os.Remove(keyPath) // the key was ours: we checked it was absent
		return err
	}
	return nil
}

// LoadCA reads the cluster CA that Save wrote to dir. Only the bootstrap
// mon's key directory has ca.key; other hosts need only ca.crt (see
// ServerConfig and ClientConfig). It refuses an etcd CA (ErrBadFile).
func LoadCA(dir string) (*CA, error) { return loadCA(dir, false) }

// LoadEtcdCA reads the etcd CA that Save wrote to dir, as LoadCA; it
// refuses the cluster CA (ErrBadFile).
func LoadEtcdCA(dir string) (*CA, error) { return loadCA(dir, true) }

func loadCA(dir string, etcd bool) (*CA, error) {
	certPath, keyPath := CAPaths(dir)
	certPEM, err := readFile(certPath, "CA certificate")
	if err != nil {
		return nil, err
	}
	cert, err := parseCert(certPath, "CA certificate", certPEM)
	if err != nil {
		return nil, err
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("%w: %s is not a CA certificate (it names %q); %s", ErrBadFile, certPath, cert.Subject.CommonName, hint)
	}
	if isEtcdCA(cert) != etcd {
		want, got := "the etcd CA", "the cluster CA"
		if !etcd {
			want, got = got, want
		}
		return nil, fmt.Errorf("%w: %s holds %s (%q), not %s; %s", ErrBadFile, certPath, got, cert.Subject.CommonName, want, hint)
	}
	keyPEM, err := readFile(keyPath, "CA key")
	if err != nil {
		return nil, err
	}
	key, err := parseKey(keyPath, keyPEM)
	if err != nil {
		return nil, err
	}
	ec, ok := key.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: %s is not an ECDSA key; %s", ErrBadFile, keyPath, hint)
	}
	if err := matchKey(cert, certPath, key, keyPath); err != nil {
		return nil, err
	}
	return &CA{cert: cert, certPEM: certPEM, key: ec}, nil
}

// WriteKeyPair writes entity's certificate and key, as Issue returned
// them, to dir/ENTITY.crt (mode 0644) and dir/ENTITY.key (mode 0600),
// creating dir (mode 0700) if needed and replacing older files (the key
// first, then the certificate; each atomically). It checks that entity
// is a name ValidEntity or ValidEtcdName accepts, that the certificate
// names it and that it matches the key.
func WriteKeyPair(dir, entity string, certPEM, keyPEM []byte) error {
	if err := ValidEntity(entity); err != nil && ValidEtcdName(entity) != nil {
		return err
	}
	cert, err := parseCert("the certificate", "certificate", certPEM)
	if err != nil {
		return err
	}
	if cn := cert.Subject.CommonName; cn != entity {
		return fmt.Errorf("%w: the certificate is for %q, not %s", ErrInvalid, cn, entity)
	}
	key, err := parseKey("the key", keyPEM)
	if err != nil {
		return err
	}
	if err := matchKey(cert, "the certificate", key, "the key"); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	certPath, keyPath := Paths(dir, entity)
	if err := writeFile(keyPath, keyPEM, 0o600, true); err != nil {
		return err
	}
	return writeFile(certPath, certPEM, 0o644, true)
}

// ReadCert reads the first certificate of a PEM file. Errors wrap
// ErrMissing or ErrBadFile and name the file.
func ReadCert(path string) (*x509.Certificate, error) {
	b, err := readFile(path, "certificate")
	if err != nil {
		return nil, err
	}
	return parseCert(path, "certificate", b)
}

// readFile reads a key or certificate file; what says which, for errors.
func readFile(path, what string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return b, nil
	}
	why := err
	var pe *fs.PathError
	if errors.As(err, &pe) {
		why = pe.Err
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s %s: %w; %s", ErrMissing, what, path, why, hint)
	}
	return nil, fmt.Errorf("%w: cannot read %s %s: %w", ErrBadFile, what, path, why)
}

// parseCert parses the first certificate of a PEM file.
func parseCert(path, what string, data []byte) (*x509.Certificate, error) {
	block := firstBlock(data, "CERTIFICATE")
	if block == nil {
		return nil, fmt.Errorf("%w: %s %s holds no PEM CERTIFICATE block; %s", ErrBadFile, what, path, hint)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %s %s: %v; %s", ErrBadFile, what, path, err, hint)
	}
	return cert, nil
}

// parseKey parses a PEM private key: PKCS #8, or SEC 1 for ECDSA.
func parseKey(path string, data []byte) (crypto.Signer, error) {
	var block *pem.Block
	for rest := data; ; {
		block, rest = pem.Decode(rest)
		if block == nil || block.Type == "PRIVATE KEY" || block.Type == "EC PRIVATE KEY" {
			break
		}
	}
	if block == nil {
		return nil, fmt.Errorf("%w: key %s holds no PEM PRIVATE KEY block; %s", ErrBadFile, path, hint)
	}
	var key any
	var err error
	if block.Type == "EC PRIVATE KEY" {
		key, err = x509.ParseECPrivateKey(block.Bytes)
	} else {
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: key %s: %v; %s", ErrBadFile, path, err, hint)
	}
	s, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: key %s: unsupported key type %T", ErrBadFile, path, key)
	}
	return s, nil
}

// firstBlock returns the first PEM block of type typ in data, or nil.
func firstBlock(data []byte, typ string) *pem.Block {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil || block.Type == typ {
			return block
		}
	}
}

// matchKey checks that key is the private key of cert.
func matchKey(cert *x509.Certificate, certPath string, key crypto.Signer, keyPath string) error {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	pub, ok := key.Public().(equaler)
	if !ok || !pub.Equal(cert.PublicKey) {
		return fmt.Errorf("%w: %s and %s do not belong together (the key is not the certificate's); %s", ErrBadFile, certPath, keyPath, hint)
	}
	return nil
}

// writeFile writes data to path atomically: a temporary file in the same
// directory, synced, then renamed over path (replace) or linked to path,
// which fails if path exists (!replace).
func writeFile(path string, data []byte, mode os.FileMode, replace bool) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
		}
		os.Remove(tmp.Name()) // after a rename there is nothing left to remove
		if err != nil && !errors.Is(err, ErrExists) {
			err = fmt.Errorf("pki: writing %s: %w", path, err)
		}
	}()
	if err = tmp.Chmod(mode); err != nil {
		return err
	}
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if replace {
		err = os.Rename(tmp.Name(), path)
	} else if err = os.Link(tmp.Name(), path); errors.Is(err, fs.ErrExist) {
		err = fmt.Errorf("%w: %s appeared while writing; not replacing it", ErrExists, path)
	}
	if err != nil {
		return err
	}
	if d, derr := os.Open(dir); derr == nil {
		// Make the new name durable; not every file system can sync a
		// directory, and the file is in place either way.
		d.Sync()
		d.Close()
	}
	return nil
}
