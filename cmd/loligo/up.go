package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/loligo/loligo/clustermap"
	"github.com/loligo/loligo/internal/config"
	"github.com/loligo/loligo/internal/pki"
	"github.com/loligo/loligo/internal/transport"
	"github.com/loligo/loligo/mon"
	"github.com/loligo/loligo/osd"
	pb "github.com/loligo/loligo/proto/loligopb"
)

// upPool is the pool `loligo up` makes on a new cluster.
const (
	upPool  = "data"
	upPGNum = 32
)

func upCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("loligo up", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "the cluster's directory (required); made on the first run, resumed after")
	osds := fs.Int("osds", 3, "number of OSDs")
	portBase := fs.Int("port-base", 6789, "the monitor serves on this port, its etcd on the next two, OSD i on base+10+i")
	logLevel := fs.String("log-level", "warn", "debug, info, warn or error")
	debugAddr := fs.String("debug-addr", "", "serve Go's pprof profiles on this HTTP address (e.g. 127.0.0.1:6060)")
	procs := fs.Bool("procs", false, "run the monitor and each OSD as a child process of this one (pid files in DIR/run, logs in DIR/log) and restart them when they die")
	restartDelay := fs.Duration("restart-delay", 10*time.Second, "with --procs: wait this long before restarting a daemon that died (0: never restart)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		return fmt.Errorf("%w: loligo up needs --dir DIR", errUsage)
	}
	delaySet := false
	fs.Visit(func(f *flag.Flag) { delaySet = delaySet || f.Name == "restart-delay" })
	if delaySet && !*procs {
		return fmt.Errorf("%w: --restart-delay needs --procs", errUsage)
	}
	if *restartDelay < 0 {
		return fmt.Errorf("%w: --restart-delay must not be negative", errUsage)
	}
	if *debugAddr != "" {
		stop, err := serveDebug(*debugAddr)
		if err != nil {
			return err
		}
		defer stop()
	}
	if *osds < 1 || *osds > 64 {
		return fmt.Errorf("%w: --osds takes 1 to 64", errUsage)
	}
	log, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	root, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	baseSet := false
	fs.Visit(func(f *flag.Flag) { baseSet = baseSet || f.Name == "port-base" })
	u := &upCluster{root: root, log: log, nOSD: *osds, base: *portBase, baseSet: baseSet}
	if *procs {
		bin, err := os.Executable()
		if err != nil {
			return fmt.Errorf("finding this program to start its daemons: %w", err)
		}
		s := &supervisor{u: u, bin: bin, logLevel: *logLevel, delay: *restartDelay}
		return s.run(ctx, stdout)
	}
	return u.run(ctx, stdout)
}

type upCluster struct {
	root string
	log  *slog.Logger
	nOSD int
	base int
	// baseSet: --port-base was given; a resumed cluster made with other
	// ports is then refused, not quietly resumed on its own.
	baseSet bool

	conf *config.Config
	mon  *mon.Mon
	osds []*osd.OSD
	// The OSDs stop before the monitor, so they can tell it they stop.
	monWG, osdWG sync.WaitGroup
	errs         chan error
}

func (u *upCluster) monDir() string { return filepath.Join(u.root, "mon.a") }

// prepare makes the cluster's directory and, on the first run, its
// monitor's (fsid, CA, certificates), and writes DIR/loligo.conf. It
// returns whether the cluster is new and the monitor's address; a
// resumed cluster keeps the ports it was made with.
func (u *upCluster) prepare() (fresh bool, monAddr string, err error) {
	if err := os.MkdirAll(u.root, 0o755); err != nil {
		return false, "", err
	}
	fresh = !fileExists(mon.ConfPath(u.monDir()))
	monAddr = fmt.Sprintf("127.0.0.1:%d", u.base)
	if !fresh && u.baseSet {
		old, err := config.Load(mon.ConfPath(u.monDir()))
		if err != nil {
			return false, "", err
		}
		if len(old.MonHosts) > 0 && old.MonHosts[0] != monAddr {
			return false, "", fmt.Errorf("%w: %s holds a cluster whose monitor serves on %s; a cluster's ports cannot move (its etcd member and OSDs are bound to them): run without --port-base to resume it there, or use another --dir for a cluster on --port-base %d",
				errUsage, u.root, old.MonHosts[0], u.base)
		}
	}
	conf, err := mon.Bootstrap(u.monDir(), []mon.MonSpec{{Name: "a", Addr: monAddr, Hosts: []string{"127.0.0.1", "localhost"}}}, time.Now())
	if err != nil {
		return false, "", err
	}
	u.conf = conf
	if len(conf.MonHosts) > 0 && conf.MonHosts[0] != monAddr {
		monAddr = conf.MonHosts[0] // a resumed cluster keeps its ports
		fmt.Sscanf(monAddr, "127.0.0.1:%d", &u.base)
	}
	// The config users and tools read: the monitor's, at the top.
	if err := conf.WriteFile(u.confPath()); err != nil {
		return false, "", err
	}
	return fresh, monAddr, nil
}

func (u *upCluster) run(ctx context.Context, stdout io.Writer) error {
	fresh, monAddr, err := u.prepare()
	if err != nil {
		return err
	}
	u.errs = make(chan error, 1+u.nOSD)
	monCtx, stopMon := context.WithCancel(context.Background())
	osdCtx, stopOSDs := context.WithCancel(context.Background())
	defer func() {
		stopOSDs()
		u.osdWG.Wait()
		stopMon()
		u.monWG.Wait()
	}()
	if err := u.startMon(monCtx, monAddr); err != nil {
		return err
	}
	if err := u.startOSDs(ctx, osdCtx); err != nil {
		return err
	}
	if err := u.ensurePool(ctx); err != nil {
		return err
	}
	u.waitActive(ctx, time.Minute)
	u.banner(stdout, fresh, "")
	select {
	case <-ctx.Done():
		fmt.Fprintln(stdout, "stopping...")
	case err := <-u.errs:
		return fmt.Errorf("a daemon stopped: %w", err)
	}
	return nil
}

func (u *upCluster) confPath() string { return filepath.Join(u.root, "loligo.conf") }

func (u *upCluster) startMon(ctx context.Context, addr string) error {
	keys, err := u.conf.Keys("mon.a")
	if err != nil {
		return err
	}
	// A directory made before the etcd CA gets it now.
	ek, made, err := mon.PrepareEtcdKeys(u.monDir(), "a", []string{"127.0.0.1", "localhost"}, time.Now())
	if err != nil {
		return err
	}
	if len(made) > 0 {
		u.log.Warn("made the etcd CA and certificates: only they reach etcd now", "files", made)
	}
	m, err := mon.New(mon.Config{
		Name: "a", FSID: u.conf.FSID, Addr: addr,
		CAFile: u.conf.CA, CertFile: keys.Cert, KeyFile: keys.Key,
		EtcdCAFile: ek.CA, EtcdCertFile: ek.Cert, EtcdKeyFile: ek.Key,
		DataDir:       filepath.Join(u.monDir(), "etcd"),
		EtcdClientURL: fmt.Sprintf("https://127.0.0.1:%d", u.base+1),
		EtcdPeerURL:   fmt.Sprintf("https://127.0.0.1:%d", u.base+2),
		Bootstrap:     true,
		Logger:        u.log.With("mon", "a"),
	})
	if err != nil {
		return err
	}
	u.mon = m
	u.monWG.Add(1)
	go func() {
		defer u.monWG.Done()
		if err := m.Run(ctx); err != nil && ctx.Err() == nil {
			u.errs <- fmt.Errorf("mon.a: %w", err)
		}
	}()
	select {
	case <-m.Ready():
	case err := <-u.errs:
		return err
	case <-time.After(time.Minute):
		return errors.New("the monitor did not start within a minute")
	}
	for i := 0; !m.IsLeader(); i++ {
		if i > 3000 {
			return errors.New("the monitor did not become leader within a minute")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// adminMon returns a monitor client as client.admin.
func (u *upCluster) adminMon() (pb.MonClient, func(), error) {
	keys, err := u.conf.Keys("client.admin")
	if err != nil {
		return nil, nil, err
	}
	tlsConf, err := pki.ClientConfig(keys.Cert, keys.Key, u.conf.CA)
	if err != nil {
		return nil, nil, err
	}
	cc, err := transport.Dial(u.conf.MonHosts[0], tlsConf)
	if err != nil {
		return nil, nil, err
	}
	return pb.NewMonClient(cc), func() { cc.Close() }, nil
}

func (u *upCluster) startOSDs(ctx, runCtx context.Context) error {
	var cfgs []osd.Config
	for i := range u.nOSD {
		data := filepath.Join(u.root, fmt.Sprintf("osd.%d", i))
		// A directory made on an earlier run is returned as it is.
		if _, err := createOSD(ctx, u.conf, data, u.monDir(), fmt.Sprintf("host%d", i)); err != nil {
			return fmt.Errorf("osd %d: %w", i, err)
		}
		cfg, err := osdConfig(u.conf, data, -1, fmt.Sprintf("127.0.0.1:%d", u.base+10+i))
		if err != nil {
			return err
		}
		cfg.Logger = u.log // the OSD names itself in its records
		cfgs = append(cfgs, cfg)
	}
	// Each OSD runs under osd.Serve, which starts it again (a new
	// incarnation) after its disk filled up, once space is freed.
	first := make([]chan *osd.OSD, len(cfgs))
	for i, cfg := range cfgs {
		first[i] = make(chan *osd.OSD, 1)
		u.osdWG.Add(1)
		go func() {
			defer u.osdWG.Done()
			started := false
			err := osd.Serve(runCtx, cfg, func(o *osd.OSD) {
				if !started {
					started = true
					first[i] <- o
				}
			})
			if err != nil && runCtx.Err() == nil {
				u.errs <- fmt.Errorf("osd.%d: %w", cfg.ID, err)
			}
		}()
	}
	for i, cfg := range cfgs {
		select {
		case o := <-first[i]:
			u.osds = append(u.osds, o)
			select {
			case <-o.Booted():
			case err := <-u.errs:
				return err
			case <-time.After(time.Minute):
				return fmt.Errorf("osd.%d did not boot within a minute", o.ID())
			}
		case err := <-u.errs:
			return err
		case <-time.After(time.Minute):
			return fmt.Errorf("osd.%d did not start within a minute", cfg.ID)
		}
	}
	return nil
}

// ensurePool makes the default pool on a cluster that has none.
func (u *upCluster) ensurePool(ctx context.Context) error {
	mc, closeMC, err := u.adminMon()
	if err != nil {
		return err
	}
	defer closeMC()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	rep, err := mc.GetMap(cctx, &pb.GetMapRequest{})
	if err != nil {
		return err
	}
	for _, p := range rep.GetMap().GetPools() {
		if p.GetName() == upPool {
			return nil
		}
	}
	size := uint32(min(3, u.nOSD))
	minSize := uint32(1)
	if size == 3 {
		minSize = 2
	}
	_, err = mc.Command(cctx, &pb.CommandRequest{Yes: true, Cmd: &pb.CommandRequest_PoolCreate{PoolCreate: &pb.PoolCreate{
		Name: upPool, PgNum: upPGNum, Type: pb.PoolType_POOL_TYPE_REPLICATED, Size: size, MinSize: minSize}}})
	if err != nil {
		return fmt.Errorf("creating pool %s: %w", upPool, err)
	}
	return nil
}

// waitActive waits until the OSDs serve every PG, so the banner means
// the cluster takes writes.
func (u *upCluster) waitActive(ctx context.Context, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if u.allActive() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	u.log.Warn("some PGs are not active yet; ops wait for them")
}

func (u *upCluster) allActive() bool {
	var m *clustermap.Map
	for _, o := range u.osds {
		if om := o.Map(); om != nil && (m == nil || om.Epoch > m.Epoch) {
			m = om
		}
	}
	return m != nil && osd.AllActive(m, u.osds)
}

// banner tells the user the cluster is ready and how to use it; extra
// lines go after the pool's.
func (u *upCluster) banner(w io.Writer, fresh bool, extra string) {
	what := "resumed"
	if fresh {
		what = "created"
	}
	fmt.Fprintf(w, `Loligo cluster %s in %s
  fsid %s
  monitor   %s
  OSDs      %d (ports %d-%d), one per CRUSH host
  pool      %q, replicated
%s
Use it from another terminal:
  export LOLIGO_CONF=%s
  .bin/radosctl status
  .bin/radosctl put %s hello README.md && .bin/radosctl get %s hello -
  .bin/radosctl bench %s 10 write

Ctrl-C stops the cluster; run the same command again to resume it with its data.
`, what, u.root, u.conf.FSID, u.conf.MonHosts[0], u.nOSD, u.base+10, u.base+10+u.nOSD-1, upPool, extra,
		u.confPath(), upPool, upPool, upPool)
}
