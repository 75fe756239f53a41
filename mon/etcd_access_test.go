package mon_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/loligo/loligo/internal/pki"
	"github.com/loligo/loligo/internal/testcluster"
	"github.com/loligo/loligo/mon"
)

// intruders are the cluster CA's entities that must not reach etcd: an
// OSD, the admin and any other client.
var intruders = []string{"osd.0", "client.admin", "client.foo"}

// clusterCreds returns a TLS client config presenting entity's
// certificate from the cluster CA in bootstrap directory dir. It does not
// check etcd's server certificate: an intruder need not, and the test is
// about what etcd accepts.
func clusterCreds(t *testing.T, dir, entity string) *tls.Config {
	t.Helper()
	out := filepath.Join(t.TempDir(), "intruder")
	cert, key, err := mon.IssueCert(dir, entity, nil, out, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	conf, err := pki.ClientConfig(cert, key, filepath.Join(mon.KeysDir(dir), "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	conf.InsecureSkipVerify = true
	conf.MinVersion = tls.VersionTLS12
	return conf
}

// etcdCreds returns a TLS client config with a certificate from the etcd
// CA (a monitor's or a break-glass one) that checks etcd's certificate
// against the etcd CA.
func etcdCreds(t *testing.T, ek mon.EtcdKeys) *tls.Config {
	t.Helper()
	conf, err := pki.ClientConfig(ek.Cert, ek.Key, ek.CA)
	if err != nil {
		t.Fatal(err)
	}
	return conf
}

// httpVersion does a TLS handshake with the etcd URL u and asks it for
// GET /version over HTTP/1.1 (which etcd serves on its client and its
// peer URLs). It returns the response's status line, or the error that
// ended the exchange: a server that refuses the client's certificate
// sends a TLS alert once it has checked it, which the client reads as
// "remote error: tls: ...".
func httpVersion(t *testing.T, u string, conf *tls.Config) (string, error) {
	t.Helper()
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	d := &net.Dialer{Timeout: 10 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", pu.Host, conf)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	// A bound against a test hanging on a silent server, never reached
	// when etcd answers or refuses.
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := conn.Write([]byte("GET /version HTTP/1.1\r\nHost: " + pu.Host + "\r\nConnection: close\r\n\r\n")); err != nil {
		return "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	return resp.Status, nil
}

// assertRefused checks that etcd at u refuses the TLS handshake of conf's
// certificate: the exchange ends with a TLS alert from the server, and no
// HTTP answer comes.
func assertRefused(t *testing.T, what, u string, conf *tls.Config) {
	t.Helper()
	status, err := httpVersion(t, u, conf)
	if err == nil {
		t.Errorf("%s: etcd at %s answered GET /version (%s): it accepted the certificate", what, u, status)
		return
	}
	if !strings.Contains(err.Error(), "remote error: tls:") {
		t.Errorf("%s: etcd at %s: %v, want a TLS alert refusing the certificate", what, u, err)
	}
}

// assertAccepted checks that etcd at u answers GET /version to conf's
// certificate.
func assertAccepted(t *testing.T, what, u string, conf *tls.Config) {
	t.Helper()
	if status, err := httpVersion(t, u, conf); err != nil || !strings.HasPrefix(status, "200") {
		t.Errorf("%s: etcd at %s: status %q, %v; want 200", what, u, status, err)
	}
}

// etcdClient connects to etcd at endpoint with conf.
func etcdClient(t *testing.T, endpoint string, conf *tls.Config) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, TLS: conf, DialTimeout: 10 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// countKeys counts the keys under prefix.
func countKeys(cli *clientv3.Client, prefix string) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := cli.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return 0, err
	}
	return rep.Count, nil
}

// checkIntruders tries etcd at endpoint with each intruder's cluster
// certificate: the TLS handshake is refused, an etcd client reads
// nothing under /loligo/ and writes nothing there (which the monitor's
// own etcd client, own, then confirms). fsid names the cluster's prefix.
func checkIntruders(t *testing.T, dir, endpoint, fsid string, own *clientv3.Client) {
	t.Helper()
	prefix := "/loligo/" + fsid + "/"
	var wg sync.WaitGroup
	for _, entity := range intruders {
		conf := clusterCreds(t, dir, entity)
		assertRefused(t, entity+" on the client URL", endpoint, conf)
		// The etcd client waits for a connection etcd keeps refusing,
		// until the call's deadline: try them all at once.
		cli := etcdClient(t, endpoint, conf)
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if rep, err := cli.Get(ctx, prefix, clientv3.WithPrefix()); err == nil {
				t.Errorf("%s read %d keys under %s", entity, len(rep.Kvs), prefix)
			}
		})
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if _, err := cli.Put(ctx, prefix+"intruder/"+entity, "x"); err == nil {
				t.Errorf("%s wrote to etcd", entity)
			}
		})
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := own.Get(ctx, prefix+"intruder/", clientv3.WithPrefix())
	if err != nil {
		t.Fatalf("the monitor's own etcd client: %v", err)
	}
	for _, kv := range rep.Kvs {
		t.Errorf("etcd holds %s, written with a cluster certificate", kv.Key)
	}
	// The monitor's certificate reads the map.
	if n, err := countKeys(own, prefix); err != nil || n == 0 {
		t.Errorf("the monitor's etcd certificate: %d keys under %s, %v", n, prefix, err)
	}
}

// TestEmbeddedEtcdOnlyMonitors: the embedded etcd member refuses the
// cluster CA's certificates of an OSD, the admin and a client on its
// client URL (no handshake, nothing read, nothing written) and an OSD's
// on its peer URL, and accepts the monitors' etcd certificates and a
// break-glass one from the etcd CA.
func TestEmbeddedEtcdOnlyMonitors(t *testing.T) {
	c := testcluster.StartMons(t, 1, testcluster.Options{})
	cfg := c.Mons[0].Config
	ek := mon.EtcdKeys{CA: cfg.EtcdCAFile, Cert: cfg.EtcdCertFile, Key: cfg.EtcdKeyFile}
	own := etcdClient(t, cfg.EtcdClientURL, etcdCreds(t, ek))
	assertAccepted(t, "mon.a's etcd certificate on the client URL", cfg.EtcdClientURL, etcdCreds(t, ek))
	assertAccepted(t, "mon.a's etcd certificate on the peer URL", cfg.EtcdPeerURL, etcdCreds(t, ek))

	checkIntruders(t, c.Dir, cfg.EtcdClientURL, c.Conf.FSID, own)
	assertRefused(t, "osd.0 on the peer URL", cfg.EtcdPeerURL, clusterCreds(t, c.Dir, "osd.0"))
	assertRefused(t, "client.admin on the peer URL", cfg.EtcdPeerURL, clusterCreds(t, c.Dir, "client.admin"))

	// An explicit break-glass certificate from the etcd CA gets in.
	out := t.TempDir()
	cert, key, err := mon.IssueEtcdCert(c.Dir, "breakglass.ops", nil, out, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	bg := etcdClient(t, cfg.EtcdClientURL, etcdCreds(t, mon.EtcdKeys{CA: ek.CA, Cert: cert, Key: key}))
	if n, err := countKeys(bg, "/loligo/"+c.Conf.FSID+"/"); err != nil || n == 0 {
		t.Errorf("break-glass certificate: %d keys, %v", n, err)
	}
}

// TestMonRefusesClusterCAForEtcd: a monitor configured to trust the
// cluster CA for etcd, or to present a cluster certificate to it, does
// not start: such an etcd lets every OSD and client in.
func TestMonRefusesClusterCAForEtcd(t *testing.T) {
	c := testcluster.StartMons(t, 1, testcluster.Options{})
	c.StopAll()
	good := c.Mons[0].Config
	for _, tc := range []struct {
		name string
		edit func(cfg *mon.Config)
	}{
		{"etcd CA is the cluster CA", func(cfg *mon.Config) { cfg.EtcdCAFile = cfg.CAFile }},
		{"etcd certificate from the cluster CA", func(cfg *mon.Config) { cfg.EtcdCertFile, cfg.EtcdKeyFile = cfg.CertFile, cfg.KeyFile }},
		{"both", func(cfg *mon.Config) {
			cfg.EtcdCAFile, cfg.EtcdCertFile, cfg.EtcdKeyFile = cfg.CAFile, cfg.CertFile, cfg.KeyFile
		}},
		{"external etcd, both", func(cfg *mon.Config) {
			cfg.EtcdEndpoints = []string{cfg.EtcdClientURL}
			cfg.EtcdCAFile, cfg.EtcdCertFile, cfg.EtcdKeyFile = cfg.CAFile, cfg.CertFile, cfg.KeyFile
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			tc.edit(&cfg)
			m, err := mon.New(cfg)
			if err == nil {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				m.Run(ctx)
				t.Fatal("New accepted an etcd that trusts the cluster CA")
			}
			if !errors.Is(err, mon.ErrInvalid) || !strings.Contains(err.Error(), "cluster CA") {
				t.Errorf("New = %v, want ErrInvalid naming the cluster CA", err)
			}
		})
	}
	cfg := good
	cfg.EtcdCAFile = ""
	if _, err := mon.New(cfg); !errors.Is(err, mon.ErrInvalid) || !strings.Contains(err.Error(), "EtcdCAFile") {
		t.Errorf("New without EtcdCAFile = %v, want ErrInvalid", err)
	}
}
