package pki

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestValidEtcdName(t *testing.T) {
	for _, s := range []string{"mon.a", "etcd.e1", "breakglass.ops", "mon." + strings.Repeat("x", 64)} {
		if err := ValidEtcdName(s); err != nil {
			t.Errorf("ValidEtcdName(%q) = %v", s, err)
		}
	}
	for _, s := range []string{"", "mon", "mon.", "osd.0", "client.admin", "client.foo", "mds.a", "rgw.a",
		"etcd.", "breakglass", "mon.a b", "mon." + strings.Repeat("x", 65), "Etcd.e1"} {
		if err := ValidEtcdName(s); !errors.Is(err, ErrBadEntity) {
			t.Errorf("ValidEtcdName(%q) = %v, want ErrBadEntity", s, err)
		}
	}
}

// The etcd CA and the cluster CA certify disjoint sets of names, and
// neither one's certificates pass a handshake with a peer trusting only
// the other.
func TestEtcdCA(t *testing.T) {
	etcd, err := NewEtcdCA(t0)
	if err != nil {
		t.Fatal(err)
	}
	cluster := newCA(t, t0)
	if !etcd.IsEtcd() || cluster.IsEtcd() {
		t.Fatalf("IsEtcd: etcd CA %v, cluster CA %v", etcd.IsEtcd(), cluster.IsEtcd())
	}
	if c := etcd.Certificate(); c.Subject.CommonName != EtcdCAName || !c.IsCA || !c.MaxPathLenZero {
		t.Errorf("etcd CA: CN %q IsCA %v", c.Subject.CommonName, c.IsCA)
	}
	for _, name := range []string{"osd.0", "client.admin", "client.foo", "mds.a"} {
		if _, _, err := etcd.Issue(name, nil, t0, time.Hour); !errors.Is(err, ErrBadEntity) {
			t.Errorf("etcd CA issued %s: %v", name, err)
		}
	}
	for _, name := range []string{"etcd.e1", "breakglass.ops"} {
		if _, _, err := cluster.Issue(name, nil, t0, time.Hour); !errors.Is(err, ErrBadEntity) {
			t.Errorf("cluster CA issued %s: %v", name, err)
		}
	}

	// A key directory for each; the etcd one holds mon.a, mon.b and
	// etcd.e1 (which Entity, a cluster name check, would refuse).
	ed, cd := t.TempDir(), t.TempDir()
	if err := etcd.Save(ed); err != nil {
		t.Fatal(err)
	}
	if err := cluster.Save(cd); err != nil {
		t.Fatal(err)
	}
	for _, x := range []struct {
		ca   *CA
		dir  string
		name string
	}{{etcd, ed, "mon.a"}, {etcd, ed, "mon.b"}, {etcd, ed, "etcd.e1"}, {cluster, cd, "mon.a"}, {cluster, cd, "osd.0"}} {
		c, k, err := x.ca.Issue(x.name, nil, time.Now(), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if err := WriteKeyPair(x.dir, x.name, c, k); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := LoadCA(ed); !errors.Is(err, ErrBadFile) || !strings.Contains(err.Error(), "not the cluster CA") {
		t.Errorf("LoadCA of the etcd CA = %v, want ErrBadFile", err)
	}
	if _, err := LoadEtcdCA(cd); !errors.Is(err, ErrBadFile) || !strings.Contains(err.Error(), "not the etcd CA") {
		t.Errorf("LoadEtcdCA of the cluster CA = %v, want ErrBadFile", err)
	}
	if got, err := LoadEtcdCA(ed); err != nil || !got.IsEtcd() {
		t.Errorf("LoadEtcdCA = %v", err)
	}

	etcdCA, _ := CAPaths(ed)
	clusterCA, _ := CAPaths(cd)
	srvCert, srvKey := Paths(ed, "mon.b")
	scfg, err := ServerConfig(srvCert, srvKey, etcdCA)
	if err != nil {
		t.Fatal(err)
	}
	monCert, monKey := Paths(ed, "mon.a")
	ccfg, err := ClientConfig(monCert, monKey, etcdCA)
	if err != nil {
		t.Fatal(err)
	}
	if s, c := handshake(t, scfg, ccfg, "127.0.0.1"); s.err != nil || c.err != nil || s.entity != "mon.a" || c.entity != "mon.b" {
		t.Errorf("the etcd CA's mon.a: server %+v, client %+v", s, c)
	}
	// osd.0 of the cluster CA, even trusting the etcd server's CA.
	osdCert, osdKey := Paths(cd, "osd.0")
	both := filepath.Join(t.TempDir(), "both.crt")
	b1, _ := os.ReadFile(etcdCA)
	b2, _ := os.ReadFile(clusterCA)
	if err := os.WriteFile(both, append(b1, b2...), 0o644); err != nil {
		t.Fatal(err)
	}
	ccfg, err = ClientConfig(osdCert, osdKey, both)
	if err != nil {
		t.Fatal(err)
	}
	if s, c := handshake(t, scfg, ccfg, "127.0.0.1"); s.err == nil || c.err == nil {
		t.Errorf("an etcd-CA server accepted the cluster CA's osd.0: server %+v, client %+v", s, c)
	}

	// SharesCA and IssuedBy.
	for _, x := range []struct {
		a, b string
		want bool
	}{{etcdCA, clusterCA, false}, {clusterCA, clusterCA, true}, {both, clusterCA, true}, {etcdCA, both, true}} {
		if got, err := SharesCA(x.a, x.b); err != nil || got != x.want {
			t.Errorf("SharesCA(%s, %s) = %v, %v; want %v", x.a, x.b, got, err, x.want)
		}
	}
	for _, x := range []struct {
		cert, ca string
		want     bool
	}{{monCert, etcdCA, true}, {monCert, clusterCA, false}, {osdCert, clusterCA, true}, {osdCert, both, true}, {osdCert, etcdCA, false}} {
		if got, err := IssuedBy(x.cert, x.ca); err != nil || got != x.want {
			t.Errorf("IssuedBy(%s, %s) = %v, %v; want %v", x.cert, x.ca, got, err, x.want)
		}
	}
	if _, err := IssuedBy(filepath.Join(ed, "nope.crt"), etcdCA); !errors.Is(err, ErrMissing) {
		t.Errorf("IssuedBy of a missing file = %v, want ErrMissing", err)
	}
	if _, err := SharesCA(monCert, etcdCA); !errors.Is(err, ErrBadFile) {
		t.Errorf("SharesCA of a leaf = %v, want ErrBadFile", err)
	}
}
