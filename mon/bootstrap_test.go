package mon_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/loligo/loligo/internal/pki"
	"github.com/loligo/loligo/mon"
)

// hostsOf returns the IP and DNS names of the certificate in file.
func hostsOf(t *testing.T, file string) []string {
	t.Helper()
	c, err := pki.ReadCert(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ip := range c.IPAddresses {
		out = append(out, ip.String())
	}
	return append(out, c.DNSNames...)
}

// checkEtcdCert checks that monitor name's etcd certificate in dir is
// the etcd CA's, for mon.NAME, valid for the same hosts as its cluster
// certificate.
func checkEtcdCert(t *testing.T, dir, name string) {
	t.Helper()
	ek := mon.EtcdKeyPaths(dir, name)
	if ok, err := pki.IssuedBy(ek.Cert, ek.CA); err != nil || !ok {
		t.Errorf("%s not issued by the etcd CA %s: %v", ek.Cert, ek.CA, err)
	}
	clusterCA := filepath.Join(mon.KeysDir(dir), "ca.crt")
	if ok, err := pki.IssuedBy(ek.Cert, clusterCA); err != nil || ok {
		t.Errorf("%s issued by the cluster CA (%v)", ek.Cert, err)
	}
	if c, err := pki.ReadCert(ek.Cert); err != nil || c.Subject.CommonName != "mon."+name {
		t.Errorf("%s: %v, want CN mon.%s", ek.Cert, err, name)
	}
	clusterCert, _ := pki.Paths(mon.KeysDir(dir), "mon."+name)
	if got, want := hostsOf(t, ek.Cert), hostsOf(t, clusterCert); !slices.Equal(got, want) {
		t.Errorf("mon.%s's etcd certificate names %v, its cluster certificate %v", name, got, want)
	}
}

// Bootstrap makes the etcd CA and an etcd certificate for every first
// monitor, for the same hosts as its cluster certificate.
func TestBootstrapEtcdKeys(t *testing.T) {
	dir := t.TempDir()
	specs := []mon.MonSpec{{Name: "a", Addr: "127.0.0.1:6789"}, {Name: "b", Addr: "10.0.0.2:6789", Hosts: []string{"mon-b.example"}}}
	if _, err := mon.Bootstrap(dir, specs, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := pki.LoadEtcdCA(mon.EtcdKeysDir(dir)); err != nil {
		t.Fatal(err)
	}
	for _, s := range specs {
		checkEtcdCert(t, dir, s.Name)
	}
	if h := hostsOf(t, mon.EtcdKeyPaths(dir, "b").Cert); !slices.Contains(h, "10.0.0.2") || !slices.Contains(h, "mon-b.example") {
		t.Errorf("mon.b's etcd certificate names %v", h)
	}
	// Nothing to make on a new layout.
	k, made, err := mon.PrepareEtcdKeys(dir, "a", nil, time.Now())
	if err != nil || len(made) != 0 || k != mon.EtcdKeyPaths(dir, "a") {
		t.Errorf("PrepareEtcdKeys on a bootstrapped directory = %+v, made %v, %v", k, made, err)
	}
	for _, f := range []string{"ca.key", "mon.a.key", "mon.b.key"} {
		if fi, err := os.Stat(filepath.Join(mon.EtcdKeysDir(dir), f)); err != nil || fi.Mode() != 0o600 {
			t.Errorf("%s: %v, mode %v", f, err, fi.Mode())
		}
	}
}

// A bootstrap monitor's directory made before the etcd CA gets one, with
// etcd certificates for itself and every monitor it has a cluster
// certificate for; another monitor's is told exactly what to copy.
func TestPrepareEtcdKeysOldLayout(t *testing.T) {
	root := t.TempDir()
	boot := filepath.Join(root, "mon.a")
	specs := []mon.MonSpec{{Name: "a", Addr: "127.0.0.1:6789"}, {Name: "b", Addr: "127.0.0.1:6799"}, {Name: "c", Addr: "10.0.0.3:6809"}}
	if _, err := mon.Bootstrap(boot, specs, time.Now()); err != nil {
		t.Fatal(err)
	}
	// The layout of a directory from before the etcd CA.
	if err := os.RemoveAll(mon.EtcdKeysDir(boot)); err != nil {
		t.Fatal(err)
	}
	// mon.b's directory, as the README's instructions made it then.
	other := filepath.Join(root, "mon.b")
	if err := os.MkdirAll(mon.KeysDir(other), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"ca.crt", "mon.b.crt", "mon.b.key"} {
		b, err := os.ReadFile(filepath.Join(mon.KeysDir(boot), f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(mon.KeysDir(other), f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	_, _, err := mon.PrepareEtcdKeys(other, "b", []string{"127.0.0.1"}, time.Now())
	if !errors.Is(err, pki.ErrMissing) {
		t.Fatalf("PrepareEtcdKeys without any CA key = %v, want ErrMissing", err)
	}
	for _, want := range []string{"mon.b.crt", mon.EtcdKeysDir(other), "BOOTSTRAP_DIR/keys/etcd/ca.crt",
		"loligo cert --etcd --dir BOOTSTRAP_DIR --name mon.b --hosts 127.0.0.1 --out BOOTSTRAP_DIR/keys/etcd"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not say %q:\n%v", want, err)
		}
	}
	if _, err := os.Stat(mon.EtcdKeysDir(other)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a monitor without a CA key made %s (%v)", mon.EtcdKeysDir(other), err)
	}

	k, made, err := mon.PrepareEtcdKeys(boot, "a", []string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if k != mon.EtcdKeyPaths(boot, "a") {
		t.Errorf("PrepareEtcdKeys = %+v, want %+v", k, mon.EtcdKeyPaths(boot, "a"))
	}
	if len(made) != 5 { // ca.crt, ca.key, and mon.a, mon.b, mon.c's certificates
		t.Errorf("made %v, want the etcd CA and 3 certificates", made)
	}
	for _, s := range specs {
		checkEtcdCert(t, boot, s.Name)
	}
	// Copied as the error said, mon.b's directory is complete.
	if err := os.MkdirAll(mon.EtcdKeysDir(other), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"ca.crt", "mon.b.crt", "mon.b.key"} {
		b, err := os.ReadFile(filepath.Join(mon.EtcdKeysDir(boot), f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(mon.EtcdKeysDir(other), f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, made, err := mon.PrepareEtcdKeys(other, "b", nil, time.Now()); err != nil || len(made) != 0 {
		t.Errorf("mon.b after the copy: made %v, %v", made, err)
	}
	// Only the etcd CA's certificate copied, no certificate: still told.
	if err := os.Remove(filepath.Join(mon.EtcdKeysDir(other), "mon.b.crt")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := mon.PrepareEtcdKeys(other, "b", nil, time.Now()); !errors.Is(err, pki.ErrMissing) || !strings.Contains(err.Error(), "mon.b.crt is missing") {
		t.Errorf("mon.b without its etcd certificate = %v", err)
	}
	// A monitor the bootstrap directory has no certificate for gets one
	// from the etcd CA that is there now.
	k, made, err = mon.PrepareEtcdKeys(boot, "d", nil, time.Now())
	if err != nil || len(made) != 1 || made[0] != k.Cert {
		t.Errorf("mon.d on the bootstrap directory: made %v, %v", made, err)
	}

	// loligo cert --etcd's function: the etcd CA only.
	out := t.TempDir()
	if _, _, err := mon.IssueEtcdCert(boot, "osd.0", nil, out, time.Now()); !errors.Is(err, pki.ErrBadEntity) {
		t.Errorf("IssueEtcdCert(osd.0) = %v, want ErrBadEntity", err)
	}
	if _, _, err := mon.IssueEtcdCert(other, "mon.b", nil, out, time.Now()); !errors.Is(err, pki.ErrMissing) {
		t.Errorf("IssueEtcdCert without the etcd CA's key = %v, want ErrMissing", err)
	}
	if _, _, err := mon.IssueCert(boot, "etcd.e1", nil, out, time.Now()); !errors.Is(err, pki.ErrBadEntity) {
		t.Errorf("IssueCert(etcd.e1) from the cluster CA = %v, want ErrBadEntity", err)
	}
}
