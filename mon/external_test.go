package mon_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/loligo/loligo/internal/config"
	"github.com/loligo/loligo/internal/pki"
	"github.com/loligo/loligo/internal/testcluster"
	"github.com/loligo/loligo/internal/transport"
	"github.com/loligo/loligo/mon"
	pb "github.com/loligo/loligo/proto/loligopb"
)

// TestExternalEtcd runs a monitor on Debian's etcd-server, started here
// on loopback as deploy/README.md says: it trusts only the cluster's etcd
// CA (made at bootstrap, DIR/keys/etcd) and serves a certificate from it
// (loligo cert --etcd --name etcd.NAME); the monitor uses its etcd
// certificate. The cluster CA's certificates of an OSD, the admin and a
// client are refused, and the map survives the monitor's restart there.
// CI installs etcd-server and sets LOLIGO_REQUIRE_ETCD=1, so the test
// cannot be skipped there.
func TestExternalEtcd(t *testing.T) {
	bin, err := exec.LookPath("etcd")
	if err != nil {
		if os.Getenv("LOLIGO_REQUIRE_ETCD") != "" {
			t.Fatal("etcd not found, and LOLIGO_REQUIRE_ETCD is set: apt-get install etcd-server")
		}
		t.Skip("etcd not installed (apt-get install etcd-server)")
	}
	dir := t.TempDir()
	monDir := filepath.Join(dir, "mon.a")
	monAddr := fmt.Sprintf("127.0.0.1:%d", testcluster.FreePort(t))
	conf, err := mon.Bootstrap(monDir, []mon.MonSpec{{Name: "a", Addr: monAddr}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// The external etcd's certificate, from the etcd CA.
	keys := filepath.Join(dir, "etcd-keys")
	srvCert, srvKey, err := mon.IssueEtcdCert(monDir, "etcd.ext", nil, keys, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ek := mon.EtcdKeyPaths(monDir, "a")
	caFile := ek.CA
	cport, pport := testcluster.FreePort(t), testcluster.FreePort(t)
	curl := fmt.Sprintf("https://127.0.0.1:%d", cport)
	purl := fmt.Sprintf("https://127.0.0.1:%d", pport)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin,
		"--name", "ext", "--data-dir", filepath.Join(dir, "etcd-data"),
		"--listen-client-urls", curl, "--advertise-client-urls", curl,
		"--listen-peer-urls", purl, "--initial-advertise-peer-urls", purl,
		"--initial-cluster", "ext="+purl,
		"--cert-file", srvCert, "--key-file", srvKey, "--trusted-ca-file", caFile, "--client-cert-auth",
		"--peer-cert-file", srvCert, "--peer-key-file", srvKey, "--peer-trusted-ca-file", caFile, "--peer-client-cert-auth",
		"--logger", "zap", "--log-level", "error")
	var logs bytes.Buffer
	cmd.Stderr = &logs
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("etcd's log:\n%s", logs.String())
		}
	})
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })

	monKeys, err := conf.Keys("mon.a")
	if err != nil {
		t.Fatal(err)
	}
	cfg := mon.Config{Name: "a", FSID: conf.FSID, Addr: monAddr, CAFile: conf.CA, CertFile: monKeys.Cert, KeyFile: monKeys.Key,
		EtcdEndpoints: []string{curl}, EtcdCAFile: ek.CA, EtcdCertFile: ek.Cert, EtcdKeyFile: ek.Key, Bootstrap: true}

	run := func() (stop func()) {
		m, err := mon.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		rctx, rcancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- m.Run(rctx) }()
		select {
		case <-m.Ready():
		case err := <-done:
			rcancel()
			t.Fatalf("monitor on external etcd stopped: %v", err)
		case <-time.After(time.Minute):
			rcancel()
			t.Fatal("monitor on external etcd not ready after a minute")
		}
		return func() { rcancel(); <-done }
	}
	admin := adminClient(t, conf, monAddr)

	stop := run()
	if _, err := retry(t, 30*time.Second, func(ctx context.Context) (*pb.CommandReply, error) {
		return admin.Command(ctx, poolCreate("on-external", 8))
	}); err != nil {
		t.Fatal(err)
	}
	// Only the monitor gets in.
	checkIntruders(t, monDir, curl, conf.FSID, etcdClient(t, curl, etcdCreds(t, ek)))
	assertRefused(t, "osd.0 on the peer URL", purl, clusterCreds(t, monDir, "osd.0"))
	stop()
	// A monitor killed mid-leadership leaves its campaign and liveness
	// key held by its session's lease. Plant such leftovers, with a lease
	// of an hour: the restarted monitor must revoke them and lead, not
	// wait for the lease to run out.
	plantDeadSession(t, curl, ek.Cert, ek.Key, ek.CA, conf.FSID, "a", monAddr)
	// Restarted (no longer bootstrapping), the monitor finds the map.
	cfg.Bootstrap = false
	stop = run()
	defer stop()
	m := getMap(t, admin, 0)
	if _, err := m.PoolByName("on-external"); err != nil || m.Epoch != 2 {
		t.Fatalf("after restart: epoch %d, pool: %v", m.Epoch, err)
	}
	// A change needs the leader.
	if rep, err := retry(t, 30*time.Second, func(ctx context.Context) (*pb.CommandReply, error) {
		return admin.Command(ctx, flagCmd("noout", true))
	}); err != nil || rep.GetEpoch() != 3 {
		t.Fatalf("first change after the restart: epoch %d, err %v (want epoch 3)", rep.GetEpoch(), err)
	}
}

// plantDeadSession leaves in etcd what monitor name at addr leaves when
// it is killed while leading: a campaign and a liveness key under a
// lease (here of an hour) nobody revokes.
func plantDeadSession(t *testing.T, endpoint, cert, key, ca, fsid, name, addr string) {
	t.Helper()
	tlsConf, err := pki.ClientConfig(cert, key, ca)
	if err != nil {
		t.Fatal(err)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, TLS: tlsConf, DialTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sess, err := concurrency.NewSession(cli, concurrency.WithTTL(3600), concurrency.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Orphan() // the lease outlives this client, as a killed monitor's does
	prefix := "/loligo/" + fsid + "/"
	if err := concurrency.NewElection(sess, prefix+"election").Campaign(ctx, name+" "+addr); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(ctx, prefix+"alive/"+name, addr, clientv3.WithLease(sess.Lease())); err != nil {
		t.Fatal(err)
	}
}

func adminClient(t *testing.T, conf *config.Config, addr string) pb.MonClient {
	t.Helper()
	keys, err := conf.Keys("client.admin")
	if err != nil {
		t.Fatal(err)
	}
	tlsConf, err := pki.ClientConfig(keys.Cert, keys.Key, conf.CA)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := transport.Dial(addr, tlsConf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return pb.NewMonClient(cc)
}
