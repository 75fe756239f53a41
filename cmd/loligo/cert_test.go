package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loligo/loligo/internal/pki"
	"github.com/loligo/loligo/mon"
)

// loligo cert --etcd issues from the etcd CA, and only to the names it
// certifies; without --etcd, the cluster CA refuses those names.
func TestCertEtcd(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "mon.a")
	if _, err := mon.Bootstrap(dir, []mon.MonSpec{{Name: "a", Addr: "127.0.0.1:6789"}}, time.Now()); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	etcdCA := mon.EtcdKeyPaths(dir, "a").CA
	clusterCA, _ := pki.CAPaths(mon.KeysDir(dir))
	for _, name := range []string{"mon.d", "etcd.e1", "breakglass.alice"} {
		var stderr bytes.Buffer
		if err := certCmd([]string{"--etcd", "--dir", dir, "--name", name, "--out", out, "--hosts", "10.0.0.4"}, &stderr); err != nil {
			t.Fatalf("cert --etcd %s: %v", name, err)
		}
		if !strings.Contains(stderr.String(), etcdCA) {
			t.Errorf("cert --etcd %s does not name the etcd CA:\n%s", name, stderr.String())
		}
		if strings.HasPrefix(name, "breakglass.") != strings.Contains(stderr.String(), "past every check") {
			t.Errorf("cert --etcd %s: break-glass warning wrong:\n%s", name, stderr.String())
		}
		cert, _ := pki.Paths(out, name)
		if ok, err := pki.IssuedBy(cert, etcdCA); err != nil || !ok {
			t.Errorf("%s not issued by the etcd CA: %v", cert, err)
		}
		if ok, _ := pki.IssuedBy(cert, clusterCA); ok {
			t.Errorf("%s issued by the cluster CA", cert)
		}
	}
	for _, args := range [][]string{
		{"--etcd", "--name", "osd.0"},
		{"--etcd", "--name", "client.admin"},
		{"--name", "etcd.e1"},
		{"--name", "breakglass.alice"},
	} {
		var stderr bytes.Buffer
		err := certCmd(append(args, "--dir", dir, "--out", t.TempDir()), &stderr)
		if err == nil || !strings.Contains(err.Error(), "bad entity") {
			t.Errorf("cert %v = %v, want a refused name", args, err)
		}
	}
}
