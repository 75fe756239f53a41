package osd

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"

	"github.com/loligo/loligo/clustermap"
	"github.com/loligo/loligo/internal/pki"
	"github.com/loligo/loligo/internal/transport"
	"github.com/loligo/loligo/osd/ec"
	"github.com/loligo/loligo/osd/store"
	pb "github.com/loligo/loligo/proto/loligopb"
)

// Sentinel errors.
var (
	ErrConfig      = errors.New("osd: bad configuration")
	ErrUnavailable = errors.New("osd: unavailable")
)

// OSD is one object storage daemon.
type OSD struct {
	cfg   Config
	log   *slog.Logger
	store *store.Store

	lis     net.Listener
	srv     *grpc.Server
	peerTLS *tls.Config
	mons    []*monConn
	monCur  atomic.Int32

	// The newest map, and a channel closed when a newer one arrives.
	mapMu   sync.Mutex
	curMap  *clustermap.Map
	mapWake chan struct{}
	booted  chan struct{} // closed once the map shows this OSD up at its address
	// incarnation is drawn at random when the OSD starts: the monitor
	// tells a restart from a repeated boot by it.
	incarnation uint64

	pgMu sync.Mutex
	pgs  map[store.PGID]*pg

	// ecCodes caches erasure codes by (k, m, stripe unit).
	ecMu    sync.Mutex
	ecCodes map[[3]int]*ec.Code

	peerMu sync.Mutex
	peers  map[string]*peerConn // by address

	hb heartbeats

	throttle *throttle
	// tun holds the settings the Config RPC changes.
	tunMu sync.Mutex
	tun   tunables
	// statsKick asks the reporter for an early report.
	statsKick chan struct{}
	// The file system under the store, as spaceTick last measured it,
	// and whether it is past the failsafe ratio.
	fsTotal, fsAvail atomic.Uint64
	fullLocal        atomic.Bool

	ctx    context.Context // canceled at shutdown; background work uses it
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine the OSD starts
}

type monConn struct {
	addr string
	cc   *grpc.ClientConn
	cl   pb.MonClient
}

type peerConn struct {
	addr string
	cc   *grpc.ClientConn
	cl   pb.OSDClient
}

// ChecksumKey derives the per-cluster HighwayHash key from the fsid:
// every OSD of a cluster computes the same key, so checksums travel with
// the data between OSDs. It is an integrity check, not a secret.
func ChecksumKey(fsid string) [32]byte {
	return sha256.Sum256([]byte("loligo chunk checksum key\x00" + fsid))
}

// New opens the OSD's store and listens; Run boots it.
func New(cfg Config) (*OSD, error) {
	cfg.setDefaults()
	if cfg.DataDir == "" || cfg.FSID == "" || cfg.UUID == "" || len(cfg.MonHosts) == 0 {
		return nil, fmt.Errorf("%w: an OSD needs a data directory, the fsid, its uuid and the monitors", ErrConfig)
	}
	if err := checkMarker(cfg); err != nil {
		return nil, err
	}
	srvTLS, err := pki.ServerConfig(cfg.CertFile, cfg.KeyFile, cfg.CAFile)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	cliTLS, err := pki.ClientConfig(cfg.CertFile, cfg.KeyFile, cfg.CAFile)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	so := cfg.Store
	so.Dir = filepath.Join(cfg.DataDir, "store")
	so.ChecksumKey = ChecksumKey(cfg.FSID)
	so.Logger = cfg.Logger.With("osd", cfg.ID, "part", "store")
	st, err := store.Open(so)
	if err != nil {
		return nil, fmt.Errorf("osd.%d: opening the store in %s: %w", cfg.ID, so.Dir, err)
	}
	lis, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("%w: osd.%d: listen on %s: %v", ErrConfig, cfg.ID, cfg.Addr, err)
	}
	o := &OSD{
		cfg: cfg, log: cfg.Logger.With("osd", cfg.ID), store: st, lis: lis, peerTLS: cliTLS,
		mapWake: make(chan struct{}), booted: make(chan struct{}), incarnation: newIncarnation(),
		pgs: map[store.PGID]*pg{}, peers: map[string]*peerConn{},
		throttle:  newThrottle(cfg.Clock, cfg.RecoveryMaxActive, cfg.RecoveryMaxBytes),
		statsKick: make(chan struct{}, 1),
		tun:       tunables{scrubInterval: cfg.ScrubInterval, deepScrubInterval: cfg.DeepScrubInterval},
	}
	o.hb.init()
	for _, h := range cfg.MonHosts {
		cc, err := transport.Dial(h, cliTLS, cfg.MonDialOptions...)
		if err != nil {
			o.closeConns()
			lis.Close()
			st.Close()
			return nil, fmt.Errorf("%w: %v", ErrConfig, err)
		}
		o.mons = append(o.mons, &monConn{addr: h, cc: cc, cl: pb.NewMonClient(cc)})
	}
	o.srv = transport.NewServer(srvTLS)
	pb.RegisterOSDServer(o.srv, &service{o: o})
	return o, nil
}

// Addr is the address the OSD serves on.
func (o *OSD) Addr() string { return o.lis.Addr().String() }

// ID is the OSD's id.
func (o *OSD) ID() int32 { return o.cfg.ID }

// Store is the OSD's object store (for tests and tools in-process).
func (o *OSD) Store() *store.Store { return o.store }

// Booted is closed once the OSD is up in the map at its address.
func (o *OSD) Booted() <-chan struct{} { return o.booted }

// Run serves until ctx is done, then marks the OSD down, stops, and
// closes the store. It returns nil after a clean stop.
func (o *OSD) Run(ctx context.Context) error {
	o.ctx, o.cancel = context.WithCancel(context.Background())
	serveErr := make(chan error, 1)
	o.wg.Add(1)
	go func() {
		defer o.wg.Done()
		serveErr <- o.srv.Serve(o.lis)
	}()
	o.goBackground(o.subscribeLoop)
	o.spaceTick(ctx)
	if err := o.boot(ctx); err != nil {
		o.shutdown(false, "")
		return err
	}
	o.goEvery(time.Second, o.spaceTick)
	o.goEvery(o.cfg.BeaconInterval, o.beacon)
	o.goEvery(o.cfg.HeartbeatInterval, o.heartbeat)
	o.goBackground(o.reportStats)
	o.goEvery(time.Second, o.scrubTick)
	if o.cfg.TrimInterval > 0 {
		// Freed memory goes back to the operating system now and then.
		o.goEvery(o.cfg.TrimInterval, func(context.Context) { debug.FreeOSMemory() })
	}
	var err error
	reason := ""
	select {
	case <-ctx.Done():
	case err = <-serveErr:
		err = fmt.Errorf("osd.%d: serving: %w", o.cfg.ID, err)
		reason = err.Error()
	case <-o.store.Failed():
		reason, err = o.storeFailed()
		err = fmt.Errorf("osd.%d: %w", o.cfg.ID, err)
	}
	o.shutdown(true, reason)
	return err
}

// goEvery runs f once per period until shutdown, in a goroutine the OSD
// waits for.
func (o *OSD) goEvery(period time.Duration, f func(ctx context.Context)) {
	o.goBackground(func(ctx context.Context) {
		t := o.cfg.Clock.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C():
				f(ctx)
			}
		}
	})
}

// pgList is a snapshot of the PGs this OSD knows.
func (o *OSD) pgList() []*pg {
	o.pgMu.Lock()
	defer o.pgMu.Unlock()
	pgs := make([]*pg, 0, len(o.pgs))
	for _, p := range o.pgs {
		pgs = append(pgs, p)
	}
	return pgs
}

func (o *OSD) goBackground(f func(ctx context.Context)) {
	o.wg.Add(1)
	go func() {
		defer o.wg.Done()
		f(o.ctx)
	}()
}

// shutdown tells the monitor (when booted), stops serving, waits for
// every goroutine and closes the store.
func (o *OSD) shutdown(markDown bool, reason string) {
	if markDown {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := monCall(ctx, o, func(ctx context.Context, c pb.MonClient) (*pb.OSDShutdownReply, error) {
			return c.OSDShutdown(ctx, &pb.OSDShutdownRequest{Id: o.cfg.ID, Uuid: o.cfg.UUID, Reason: reason, Incarnation: o.incarnation})
		})
		cancel()
		if err != nil {
			o.log.Warn("could not tell the monitor this OSD stops; peers will notice", "err", err)
		}
	}
	o.cancel()
	stopped := make(chan struct{})
	go func() { o.srv.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		o.srv.Stop()
		<-stopped
	}
	o.wg.Wait()
	o.closeConns()
	if err := o.store.Close(); err != nil {
		o.log.Error("closing the store", "err", err)
	}
}

func (o *OSD) closeConns() {
	for _, m := range o.mons {
		m.cc.Close()
	}
	o.peerMu.Lock()
	for _, p := range o.peers {
		p.cc.Close()
	}
	o.peers = map[string]*peerConn{}
	o.peerMu.Unlock()
}

// boot tells the monitor the OSD is up at its address and waits until a
// map says so.
func (o *OSD) boot(ctx context.Context) error {
	for {
		rep, err := monCall(ctx, o, func(ctx context.Context, c pb.MonClient) (*pb.OSDBootReply, error) {
			return c.OSDBoot(ctx, o.bootRequest())
		})
		if err == nil {
			o.log.Info("booted", "epoch", rep.GetEpoch(), "addr", o.Addr())
			break
		}
		if !transport.Retryable(err) {
			return fmt.Errorf("osd.%d: boot: %w", o.cfg.ID, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("osd.%d: boot: %w", o.cfg.ID, ctx.Err())
		case <-time.After(time.Second):
		}
	}
	select {
	case <-o.booted:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("osd.%d: waiting for a map that shows it up: %w", o.cfg.ID, ctx.Err())
	}
}

// peer returns a client for the OSD at addr.
func (o *OSD) peer(addr string) (pb.OSDClient, error) {
	o.peerMu.Lock()
	defer o.peerMu.Unlock()
	if p, ok := o.peers[addr]; ok {
		return p.cl, nil
	}
	cc, err := transport.Dial(addr, o.peerTLS, o.cfg.PeerDialOptions...)
	if err != nil {
		return nil, err
	}
	p := &peerConn{addr: addr, cc: cc, cl: pb.NewOSDClient(cc)}
	o.peers[addr] = p
	return p.cl, nil
}

// peerOf returns a client for OSD id as the map m places it.
func (o *OSD) peerOf(m *clustermap.Map, id int32) (pb.OSDClient, error) {
	st, ok := m.OSDs[id]
	if !ok || !st.Up || st.Addr == "" {
		return nil, fmt.Errorf("%w: osd.%d is not up in epoch %d", ErrUnavailable, id, m.Epoch)
	}
	return o.peer(st.Addr)
}

// PGStates reports the Ceph-style state of every PG this OSD knows
// ("active+clean", "peering", "replica", "stray", ...), for tests.
func (o *OSD) PGStates() map[store.PGID]string {
	pgs := o.pgList()
	out := make(map[store.PGID]string, len(pgs))
	for _, p := range pgs {
		out[p.id] = p.stat().GetState()
	}
	return out
}

// PGSince reports, for every PG this OSD knows, since when (Unix ns) it
// is in its current state, for tests that check a PG settled.
func (o *OSD) PGSince() map[store.PGID]int64 {
	pgs := o.pgList()
	out := make(map[store.PGID]int64, len(pgs))
	for _, p := range pgs {
		p.mu.Lock()
		out[p.id] = p.since.UnixNano()
		p.mu.Unlock()
	}
	return out
}

// AllActive reports whether, in map m, every PG of every replicated pool
// is active and serving on its acting primary, which must be one of osds
// (the OSDs of an in-process cluster: loligo up, tests).
func AllActive(m *clustermap.Map, osds []*OSD) bool {
	return everyPG(m, osds, func(p *pg) bool { return p.view().serving() })
}

// AllClean is AllActive for active+clean: every member in step, nothing
// to recover or backfill, acting equal to up.
func AllClean(m *clustermap.Map, osds []*OSD) bool {
	return everyPG(m, osds, func(p *pg) bool { return p.stat().GetState() == "active+clean" })
}

// everyPG reports whether ok holds for every PG of every replicated pool
// of m on its acting primary among osds.
func everyPG(m *clustermap.Map, osds []*OSD, ok func(*pg) bool) bool {
	byID := map[int32]*OSD{}
	for _, o := range osds {
		byID[o.ID()] = o
	}
	for _, pid := range m.PoolIDs() {
		p, err := m.Pool(pid)
		if err != nil || p.Type != clustermap.PoolReplicated {
			continue
		}
		for ps := range p.PGNum {
			pl, err := m.Place(clustermap.PGID{Pool: pid, Seed: ps})
			if err != nil {
				return false
			}
			o := byID[pl.ActingPrimary]
			if o == nil {
				return false
			}
			if pg := o.getPG(store.PGID{Pool: pid, PS: ps}, false); pg == nil || !ok(pg) {
				return false
			}
		}
	}
	return true
}

// newIncarnation draws a random non-zero number.
func newIncarnation() uint64 {
	for {
		if n := rand.Uint64(); n != 0 {
			return n
		}
	}
}
