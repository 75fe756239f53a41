package testcluster

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loligo/loligo/internal/clock"
	"github.com/loligo/loligo/internal/config"
	"github.com/loligo/loligo/internal/pki"
	"github.com/loligo/loligo/internal/transport"
	"github.com/loligo/loligo/mon"
	"github.com/loligo/loligo/osd"
	pb "github.com/loligo/loligo/proto/loligopb"
)

// Options shape a test cluster; zero values are the monitor's defaults.
type Options struct {
	Clock           clock.Clock
	BeaconGrace     time.Duration
	DownOutInterval time.Duration
	TickInterval    time.Duration
	SessionTTL      time.Duration
	IncWindow       uint64
	ConfirmPercent  int
	Limits          mon.Limits
	MaxMapSize      int
	// OSDs is the number of OSDs Start creates; Pool, when set, is a
	// replicated pool it creates with PGNum PGs (default 16) and size
	// min(3, OSDs).
	OSDs  int
	Pool  string
	PGNum uint32
	// OSD settings (zero: the OSD's defaults); OSD, when set, may change
	// OSD i's config before it first starts.
	HeartbeatInterval, HeartbeatGrace, BeaconInterval, PeerTimeout time.Duration
	OSD                                                            func(i int, cfg *osd.Config)
	// RealRatios keeps the map's default fullness ratios (0.85, 0.90,
	// 0.95). Otherwise Start raises them to 0.99, 0.995 and 0.999: the
	// OSDs of a test share the host's disk, and a host disk past 85% in
	// use would turn every test into a test of a full cluster.
	RealRatios bool
	// PrepareOSDDir, when set, is called with OSD i's data directory
	// before the OSD is created there (a test mounts a small file system
	// on it, say).
	PrepareOSDDir func(i int, dir string)
	// Logger receives the daemons' logs (default: discard; set
	// LOLIGO_TEST_LOG=1 to log to stderr).
	Logger *slog.Logger
}

// Cluster is a running test cluster.
type Cluster struct {
	t testing.TB
	// Dir is the bootstrap monitor's directory; ConfPath its loligo.conf
	// (client.admin's keys), Conf the parsed config.
	Dir      string
	ConfPath string
	Conf     *config.Config
	Mons     []*Mon
	OSDs     []*OSD
	opt      Options
}

// Mon is one monitor of a test cluster.
type Mon struct {
	Name   string
	Config mon.Config
	M      *mon.Mon
	cancel context.CancelFunc
	done   chan error
}

// Running reports whether the monitor runs.
func (m *Mon) Running() bool { return m.cancel != nil }

// handedOut holds the ports FreePort returned in this test process: the
// kernel may give a port it just freed to the next bind to port 0, and
// two of a cluster's addresses must never be the same port (an etcd
// member's client and peer URLs were).
var handedOut struct {
	sync.Mutex
	ports map[int]bool
}

// FreePort returns a loopback port that was free a moment ago and that
// it has not returned before in this process.
func FreePort(t testing.TB) int {
	t.Helper()
	handedOut.Lock()
	defer handedOut.Unlock()
	if handedOut.ports == nil {
		handedOut.ports = map[int]bool{}
	}
	for try := 0; try < 100; try++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !handedOut.ports[port] {
			handedOut.ports[port] = true
			return port
		}
	}
	t.Fatal("no loopback port that was not handed out before, in 100 tries")
	return 0
}

// StartMons bootstraps a cluster of n monitors (names a, b, c, ...), each
// with its own embedded etcd member, and waits until they all serve a map.
func StartMons(t testing.TB, n int, opt Options) *Cluster {
	t.Helper()
	root := t.TempDir()
	c := &Cluster{t: t, Dir: filepath.Join(root, "mon.a")}
	var specs []mon.MonSpec
	var initial []string
	type ports struct{ grpc, client, peer int }
	ps := make([]ports, n)
	for i := range n {
		ps[i] = ports{FreePort(t), FreePort(t), FreePort(t)}
		name := string(rune('a' + i))
		specs = append(specs, mon.MonSpec{Name: name, Addr: fmt.Sprintf("127.0.0.1:%d", ps[i].grpc)})
		initial = append(initial, fmt.Sprintf("%s=https://127.0.0.1:%d", name, ps[i].peer))
	}
	conf, err := mon.Bootstrap(c.Dir, specs, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c.Conf, c.ConfPath = conf, mon.ConfPath(c.Dir)
	logger := opt.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
		if os.Getenv("LOLIGO_TEST_LOG") != "" {
			logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}
	}
	for i, s := range specs {
		dir := filepath.Join(root, "mon."+s.Name)
		keys, err := conf.Keys("mon." + s.Name)
		if err != nil {
			t.Fatal(err)
		}
		ek := mon.EtcdKeyPaths(c.Dir, s.Name)
		cfg := mon.Config{
			Name: s.Name, FSID: conf.FSID, Addr: s.Addr,
			CAFile: conf.CA, CertFile: keys.Cert, KeyFile: keys.Key,
			EtcdCAFile: ek.CA, EtcdCertFile: ek.Cert, EtcdKeyFile: ek.Key,
			DataDir:         filepath.Join(dir, "etcd"),
			EtcdClientURL:   fmt.Sprintf("https://127.0.0.1:%d", ps[i].client),
			EtcdPeerURL:     fmt.Sprintf("https://127.0.0.1:%d", ps[i].peer),
			InitialCluster:  strings.Join(initial, ","),
			Bootstrap:       i == 0,
			BeaconGrace:     opt.BeaconGrace,
			DownOutInterval: opt.DownOutInterval,
			TickInterval:    opt.TickInterval,
			SessionTTL:      opt.SessionTTL,
			IncWindow:       opt.IncWindow,
			ConfirmPercent:  opt.ConfirmPercent,
			Limits:          opt.Limits,
			MaxMapSize:      opt.MaxMapSize,
			Clock:           opt.Clock,
			Logger:          logger.With("test", t.Name()),
		}
		c.Mons = append(c.Mons, &Mon{Name: s.Name, Config: cfg})
	}
	t.Cleanup(c.StopAll)
	// Members of a new multi-member etcd cluster wait for each other, so
	// start them all before waiting for any.
	for i := range c.Mons {
		c.start(i)
	}
	for i := range c.Mons {
		c.WaitReady(i)
	}
	// Changes need a leader; a test should not have to wait for one.
	if c.Leader(time.Minute) < 0 {
		t.Fatal("no monitor leads after a minute")
	}
	return c
}

func (c *Cluster) start(i int) {
	c.t.Helper()
	m := c.Mons[i]
	mo, err := mon.New(m.Config)
	if err != nil {
		c.t.Fatalf("mon.%s: %v", m.Name, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.M, m.cancel, m.done = mo, cancel, make(chan error, 1)
	go func() { m.done <- mo.Run(ctx) }()
}

// WaitReady waits (up to a minute) until monitor i serves a map.
func (c *Cluster) WaitReady(i int) {
	c.t.Helper()
	m := c.Mons[i]
	select {
	case <-m.M.Ready():
	case err := <-m.done:
		m.cancel = nil
		c.t.Fatalf("mon.%s stopped before it was ready: %v", m.Name, err)
	case <-time.After(time.Minute):
		c.t.Fatalf("mon.%s not ready after a minute", m.Name)
	}
}

// Stop stops monitor i (and its etcd member) and waits for it.
func (c *Cluster) Stop(i int) {
	m := c.Mons[i]
	if m.cancel == nil {
		return
	}
	m.cancel()
	select {
	case err := <-m.done:
		if err != nil {
			c.t.Logf("mon.%s stopped: %v", m.Name, err)
		}
	case <-time.After(time.Minute):
		c.t.Errorf("mon.%s did not stop within a minute", m.Name)
	}
	m.cancel = nil
}

// Restart starts a stopped monitor again on the same directory.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	c.Mons[i].Config.Bootstrap = false
	c.start(i)
	c.WaitReady(i)
}

// StopAll stops every monitor.
func (c *Cluster) StopAll() {
	for i := range c.Mons {
		c.Stop(i)
	}
}

// Leader returns the index of the leading monitor, waiting up to timeout
// for one; -1 if none leads by then.
func (c *Cluster) Leader(timeout time.Duration) int {
	deadline := time.Now().Add(timeout)
	for {
		for i, m := range c.Mons {
			if m.Running() && m.M.IsLeader() {
				return i
			}
		}
		if time.Now().After(deadline) {
			return -1
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// MonHosts are the addresses of the running monitors.
func (c *Cluster) MonHosts() []string {
	var out []string
	for _, m := range c.Mons {
		if m.Running() {
			out = append(out, m.Config.Addr)
		}
	}
	return out
}

// Creds issues a certificate for entity (osd.3, client.admin, ...) from
// the cluster's CA and returns a client TLS config for it.
func (c *Cluster) Creds(entity string) *tls.Config {
	c.t.Helper()
	dir := filepath.Join(c.Dir, "issued")
	cert, key, err := mon.IssueCert(c.Dir, entity, nil, dir, time.Now())
	if err != nil {
		c.t.Fatal(err)
	}
	conf, err := pki.ClientConfig(cert, key, c.Conf.CA)
	if err != nil {
		c.t.Fatal(err)
	}
	return conf
}

// Client returns a monitor client for entity, connected to monitor i.
func (c *Cluster) Client(entity string, i int) pb.MonClient {
	c.t.Helper()
	cc, err := transport.Dial(c.Mons[i].Config.Addr, c.Creds(entity))
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { cc.Close() })
	return pb.NewMonClient(cc)
}
