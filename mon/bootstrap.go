package mon

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/loligo/loligo/internal/config"
	"github.com/loligo/loligo/internal/pki"
)

// MonSpec names one of a new cluster's first monitors.
type MonSpec struct {
	// Name is the monitor's name ("a"); its entity is mon.<Name>.
	Name string
	// Addr is its gRPC address, HOST:PORT; it goes into mon_host.
	Addr string
	// Hosts are more names or IPs its certificate must be valid for (the
	// hosts of its etcd URLs, when they differ from Addr's).
	Hosts []string
}

// certValidity is how long the certificates made at bootstrap last.
const certValidity = 10 * 365 * 24 * time.Hour

// KeysDir is where a data directory keeps the CA and certificates.
func KeysDir(dir string) string { return filepath.Join(dir, "keys") }

// ConfPath is the config file a bootstrap writes into a data directory.
func ConfPath(dir string) string { return filepath.Join(dir, "loligo.conf") }

// Bootstrap prepares the data directory of a new cluster's first
// monitor: a new fsid, the cluster CA (DIR/keys/ca.crt and ca.key), a
// certificate for each monitor in mons and for client.admin, and
// DIR/loligo.conf naming them. Copy DIR/keys/mon.NAME.* and loligo.conf
// to the other monitors' directories. A directory that already has a
// loligo.conf is left as it is and its config returned, so bootstrapping
// twice is harmless.
func Bootstrap(dir string, mons []MonSpec, now time.Time) (*config.Config, error) {
	path := ConfPath(dir)
	if _, err := os.Stat(path); err == nil {
		return config.Load(path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if len(mons) == 0 {
		return nil, fmt.Errorf("%w: bootstrap needs at least one monitor", ErrInvalid)
	}
	if err := os.MkdirAll(KeysDir(dir), 0o700); err != nil {
		return nil, fmt.Errorf("mon: bootstrap: %w", err)
	}
	ca, err := pki.LoadCA(KeysDir(dir))
	if err != nil {
		// A half-finished bootstrap may have left a CA; reuse it, else
		// make one.
		if ca, err = pki.NewCA(now); err != nil {
			return nil, err
		}
		if err := ca.Save(KeysDir(dir)); err != nil {
			return nil, err
		}
	}
	conf := &config.Config{FSID: newUUID(), CA: filepath.Join("keys", "ca.crt"), Entities: map[string]config.EntityKeys{}}
	issue := func(entity string, hosts []string) error {
		cert, key, err := ca.Issue(entity, hosts, now, certValidity)
		if err != nil {
			return err
		}
		if err := pki.WriteKeyPair(KeysDir(dir), entity, cert, key); err != nil {
			return err
		}
		conf.Entities[entity] = config.EntityKeys{
			Cert: filepath.Join("keys", entity+".crt"), Key: filepath.Join("keys", entity+".key")}
		return nil
	}
	for _, m := range mons {
		host, _, err := net.SplitHostPort(m.Addr)
		if err != nil {
			return nil, fmt.Errorf("%w: mon.%s address %q: want HOST:PORT", ErrInvalid, m.Name, m.Addr)
		}
		if err := issue("mon."+m.Name, append([]string{host}, m.Hosts...)); err != nil {
			return nil, err
		}
		conf.MonHosts = append(conf.MonHosts, m.Addr)
	}
	if err := issue("client.admin", nil); err != nil {
		return nil, err
	}
	if err := conf.WriteFile(path); err != nil {
		return nil, err
	}
	return config.Load(path)
}

// IssueCert makes a certificate for entity with the CA in DIR/keys (the
// bootstrap monitor's directory) and writes it to outDir.
func IssueCert(dir, entity string, hosts []string, outDir string, now time.Time) (cert, key string, err error) {
	ca, err := pki.LoadCA(KeysDir(dir))
	if err != nil {
		return "", "", err
	}
	c, k, err := ca.Issue(entity, hosts, now, certValidity)
	if err != nil {
		return "", "", err
	}
	if err := os.MkdirAll(outDir, 0o700); err != nil {
		return "", "", err
	}
	if err := pki.WriteKeyPair(outDir, entity, c, k); err != nil {
		return "", "", err
	}
	cert, key = pki.Paths(outDir, entity)
	return cert, key, nil
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
