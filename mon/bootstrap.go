package mon

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
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

// EtcdKeysDir is where a data directory keeps the etcd CA and the
// monitors' certificates from it: DIR/keys/etcd.
func EtcdKeysDir(dir string) string { return filepath.Join(KeysDir(dir), "etcd") }

// EtcdKeys are the files that secure a monitor's etcd connections: the
// etcd CA's certificate and the monitor's certificate and key from it.
type EtcdKeys struct{ CA, Cert, Key string }

// EtcdKeyPaths returns where a data directory keeps monitor name's etcd
// files: DIR/keys/etcd/ca.crt, mon.NAME.crt and mon.NAME.key.
func EtcdKeyPaths(dir, name string) EtcdKeys {
	ca, _ := pki.CAPaths(EtcdKeysDir(dir))
	cert, key := pki.Paths(EtcdKeysDir(dir), "mon."+name)
	return EtcdKeys{CA: ca, Cert: cert, Key: key}
}

// ConfPath is the config file a bootstrap writes into a data directory.
func ConfPath(dir string) string { return filepath.Join(dir, "loligo.conf") }

// Bootstrap prepares the data directory of a new cluster's first
// monitor: a new fsid, the cluster CA (DIR/keys/ca.crt and ca.key), a
// certificate for each monitor in mons and for client.admin, the etcd CA
// (DIR/keys/etcd/ca.crt and ca.key) with an etcd certificate for each
// monitor (DIR/keys/etcd/mon.NAME.crt and .key), and DIR/loligo.conf
// naming the cluster ones. Copy loligo.conf, keys/ca.crt, keys/mon.NAME.*,
// keys/etcd/ca.crt and keys/etcd/mon.NAME.* to the other monitors'
// directories. A directory that already has a loligo.conf is left as it
// is and its config returned, so bootstrapping twice is harmless (a
// directory made before the etcd CA gets it from PrepareEtcdKeys).
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
	etcdCA, err := loadOrMakeEtcdCA(dir, now)
	if err != nil {
		return nil, err
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
		hosts := append([]string{host}, m.Hosts...)
		if err := issue("mon."+m.Name, hosts); err != nil {
			return nil, err
		}
		if err := issueTo(etcdCA, "mon."+m.Name, hosts, EtcdKeysDir(dir), now); err != nil {
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
	if err := issueTo(ca, entity, hosts, outDir, now); err != nil {
		return "", "", err
	}
	cert, key = pki.Paths(outDir, entity)
	return cert, key, nil
}

// IssueEtcdCert makes a certificate for name (mon.NAME, etcd.NAME or
// breakglass.NAME: pki.ValidEtcdName) with the etcd CA in DIR/keys/etcd
// (the bootstrap monitor's directory) and writes it to outDir. The etcd
// CA's certificate, which etcd and the monitors trust, is
// EtcdKeyPaths(dir, ...).CA.
func IssueEtcdCert(dir, name string, hosts []string, outDir string, now time.Time) (cert, key string, err error) {
	ca, err := pki.LoadEtcdCA(EtcdKeysDir(dir))
	if errors.Is(err, pki.ErrMissing) {
		return "", "", fmt.Errorf("mon: no etcd CA in %s (%w): pass the bootstrap monitor's directory; "+
			"one made before the etcd CA gets it when its monitor starts", EtcdKeysDir(dir), err)
	}
	if err != nil {
		return "", "", err
	}
	if err := issueTo(ca, name, hosts, outDir, now); err != nil {
		return "", "", err
	}
	cert, key = pki.Paths(outDir, name)
	return cert, key, nil
}

// issueTo makes a certificate for name with ca and writes it to outDir.
func issueTo(ca *pki.CA, name string, hosts []string, outDir string, now time.Time) error {
	c, k, err := ca.Issue(name, hosts, now, certValidity)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(outDir, 0o700); err != nil {
		return fmt.Errorf("mon: %w", err)
	}
	return pki.WriteKeyPair(outDir, name, c, k)
}

// loadOrMakeEtcdCA returns the etcd CA of DIR/keys/etcd, making it if
// neither of its files is there.
func loadOrMakeEtcdCA(dir string, now time.Time) (*pki.CA, error) {
	ca, err := pki.LoadEtcdCA(EtcdKeysDir(dir))
	if err == nil {
		return ca, nil
	}
	if !errors.Is(err, pki.ErrMissing) {
		return nil, err
	}
	if ca, err = pki.NewEtcdCA(now); err != nil {
		return nil, err
	}
	// Save refuses, naming the file, if half of a CA is there.
	if err := ca.Save(EtcdKeysDir(dir)); err != nil {
		return nil, err
	}
	return ca, nil
}

// PrepareEtcdKeys returns monitor name's etcd files in its data
// directory (EtcdKeyPaths), making what is missing when it can: a
// directory made before the etcd CA existed has none, and if it is the
// bootstrap monitor's (it holds the cluster CA's key, keys/ca.key), the
// etcd CA is made there, with an etcd certificate for this monitor
// (valid for hosts) and for every other monitor whose cluster
// certificate is in keys/ (valid for the same hosts as that one), ready
// to be copied to them. made lists the files written.
//
// A directory that cannot make them fails with an error wrapping
// pki.ErrMissing that says which files to copy from the bootstrap
// monitor, and how to make them there.
func PrepareEtcdKeys(dir, name string, hosts []string, now time.Time) (k EtcdKeys, made []string, err error) {
	k = EtcdKeyPaths(dir, name)
	if fileExists(k.CA) && fileExists(k.Cert) && fileExists(k.Key) {
		return k, nil, nil
	}
	_, clusterKey := pki.CAPaths(KeysDir(dir))
	_, etcdKey := pki.CAPaths(EtcdKeysDir(dir))
	if !fileExists(etcdKey) && (fileExists(k.CA) || !fileExists(clusterKey)) {
		missing := k.CA
		for _, f := range []string{k.CA, k.Cert, k.Key} {
			if !fileExists(f) {
				missing = f
				break
			}
		}
		return k, nil, fmt.Errorf("mon: mon.%s has no etcd certificate (%s is missing: %w). Etcd accepts only certificates of the cluster's etcd CA, "+
			"which is in the bootstrap monitor's directory (BOOTSTRAP_DIR below). Copy BOOTSTRAP_DIR/keys/etcd/ca.crt, mon.%s.crt and mon.%s.key into %s "+
			"(the bootstrap monitor makes them for the monitors it was bootstrapped with, or on its first start after an upgrade); "+
			"for a monitor it has none for, make them there first: loligo cert --etcd --dir BOOTSTRAP_DIR --name mon.%s --hosts %s --out BOOTSTRAP_DIR/keys/etcd",
			name, missing, pki.ErrMissing, name, name, EtcdKeysDir(dir), name, strings.Join(hostsOr(hosts), ","))
	}
	fresh := !fileExists(k.CA) && !fileExists(etcdKey)
	ca, err := loadOrMakeEtcdCA(dir, now)
	if err != nil {
		return k, nil, err
	}
	if fresh {
		caCert, caKey := pki.CAPaths(EtcdKeysDir(dir))
		made = append(made, caCert, caKey)
	}
	issue := func(entity string, hosts []string) error {
		if err := issueTo(ca, entity, hosts, EtcdKeysDir(dir), now); err != nil {
			return err
		}
		cert, _ := pki.Paths(EtcdKeysDir(dir), entity)
		made = append(made, cert)
		return nil
	}
	if !fileExists(k.Cert) || !fileExists(k.Key) {
		if err := issue("mon."+name, hosts); err != nil {
			return k, made, err
		}
	}
	if fresh {
		others, err := otherMonHosts(dir, name)
		if err != nil {
			return k, made, err
		}
		for _, o := range others {
			if err := issue(o.entity, o.hosts); err != nil {
				return k, made, err
			}
		}
	}
	return k, made, nil
}

// otherMon is a monitor whose cluster certificate is in a key directory.
type otherMon struct {
	entity string
	hosts  []string
}

// otherMonHosts lists the monitors other than name that have a cluster
// certificate in DIR/keys, each with the hosts that certificate names.
func otherMonHosts(dir, name string) ([]otherMon, error) {
	certs, err := filepath.Glob(filepath.Join(KeysDir(dir), "mon.*.crt"))
	if err != nil {
		return nil, fmt.Errorf("mon: %w", err)
	}
	var out []otherMon
	for _, f := range certs {
		entity := strings.TrimSuffix(filepath.Base(f), ".crt")
		if entity == "mon."+name || pki.ValidEntity(entity) != nil {
			continue
		}
		c, err := pki.ReadCert(f)
		if err != nil {
			return nil, err
		}
		o := otherMon{entity: entity}
		for _, ip := range c.IPAddresses {
			o.hosts = append(o.hosts, ip.String())
		}
		o.hosts = append(o.hosts, c.DNSNames...)
		out = append(out, o)
	}
	return out, nil
}

// hostsOr returns hosts, or 127.0.0.1 if there are none, for a command
// line.
func hostsOr(hosts []string) []string {
	if len(hosts) == 0 {
		return []string{"127.0.0.1"}
	}
	return hosts
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
