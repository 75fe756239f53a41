package mon

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.etcd.io/etcd/server/v3/embed"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/loligo/loligo/internal/clock"
	"github.com/loligo/loligo/internal/pki"
	"github.com/loligo/loligo/internal/transport"
	pb "github.com/loligo/loligo/proto/loligopb"
)

// Mon is one monitor. Create it with New and run it with Run.
type Mon struct {
	cfg Config
	log *slog.Logger
	clk clock.Clock

	lis       net.Listener
	clientTLS *tls.Config // to other monitors (forwarding)

	ready  chan struct{} // closed when serving
	st     *store
	view   *view
	leader atomic.Pointer[leading]
	// leaderInfo is "name addr" of the current leader, as observed.
	leaderInfo atomic.Pointer[string]

	peersMu sync.Mutex
	peers   map[string]*grpc.ClientConn // leader address -> connection
}

// New checks the configuration and binds the gRPC listener, so Addr is
// known before Run.
func New(cfg Config) (*Mon, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := c.checkEtcdTrust(); err != nil {
		return nil, err
	}
	clientTLS, err := pki.ClientConfig(c.CertFile, c.KeyFile, c.CAFile)
	if err != nil {
		return nil, err
	}
	lis, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return nil, fmt.Errorf("mon: listening on %s: %w", c.Addr, err)
	}
	mo := &Mon{cfg: c, log: c.Logger.With("mon", c.Name), clk: c.Clock, lis: lis, clientTLS: clientTLS,
		ready: make(chan struct{}), view: newView(c.IncWindow), peers: map[string]*grpc.ClientConn{}}
	return mo, nil
}

// Addr is the address the monitor serves gRPC on.
func (mo *Mon) Addr() string { return mo.lis.Addr().String() }

// Ready is closed once the monitor serves requests and holds a map.
func (mo *Mon) Ready() <-chan struct{} { return mo.ready }

// IsLeader reports whether this monitor leads now.
func (mo *Mon) IsLeader() bool { return mo.leader.Load() != nil }

// Run starts etcd (embedded) or connects to it, serves gRPC, and takes
// part in the leader election until ctx ends. It then stops everything it
// started and returns nil, or the error that stopped it.
func (mo *Mon) Run(ctx context.Context) error {
	defer mo.lis.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	endpoints := mo.cfg.EtcdEndpoints
	if len(endpoints) == 0 {
		sctx, scancel := context.WithTimeout(ctx, 2*time.Minute)
		e, err := startEmbedded(sctx, &mo.cfg, mo.log)
		scancel()
		if err != nil {
			return err
		}
		defer closeEtcd(e)
		endpoints = []string{mo.cfg.EtcdClientURL}
	}
	cli, err := dialEtcd(&mo.cfg, endpoints)
	if err != nil {
		return err
	}
	defer cli.Close()
	mo.st = newStore(cli, mo.cfg.FSID, mo.cfg.IncWindow)

	rctx, rcancel := context.WithTimeout(ctx, mo.cfg.RequestTimeout)
	info, _ := proto.Marshal(&pb.MonInfo{Name: mo.cfg.Name, Addr: mo.Addr()})
	_, err = cli.Put(rctx, mo.st.monKey(mo.cfg.Name), string(info))
	rcancel()
	if err != nil {
		if len(mo.cfg.EtcdEndpoints) > 0 {
			return fmt.Errorf("mon: registering in etcd %v: %w (is etcd up, trusting only the etcd CA %s, and serving a certificate the etcd CA issued?)",
				endpoints, err, mo.cfg.EtcdCAFile)
		}
		return fmt.Errorf("mon: registering in etcd %v: %w", endpoints, err)
	}
	if mo.cfg.Bootstrap {
		rctx, rcancel := context.WithTimeout(ctx, mo.cfg.RequestTimeout)
		err := mo.createFirst(rctx)
		rcancel()
		if err != nil {
			return err
		}
	}

	serverTLS, err := pki.ServerConfig(mo.cfg.CertFile, mo.cfg.KeyFile, mo.cfg.CAFile)
	if err != nil {
		return err
	}
	srv := transport.NewServer(serverTLS)
	pb.RegisterMonServer(srv, &service{mo: mo})

	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { mo.view.watch(ctx, mo.st, mo.log) })
	wg.Go(func() { mo.observeLeader(ctx) })
	wg.Go(func() {
		if err := srv.Serve(mo.lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			mo.log.Error("gRPC server stopped", "err", err)
			cancel()
		}
	})
	defer func() {
		// Streams (subscriptions) never end by themselves: give calls a
		// moment, then cut what is left.
		done := make(chan struct{})
		go func() { srv.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			srv.Stop()
			<-done
		}
		mo.closePeers()
	}()
	wg.Go(func() {
		mo.view.waitFor(ctx, 1)
		if ctx.Err() == nil {
			close(mo.ready)
		}
	})

	// Campaign in one session after another: a lost session (an etcd
	// partition, a long pause) ends the leadership, not the monitor.
	for ctx.Err() == nil {
		err := mo.session(ctx, cli)
		if ctx.Err() != nil {
			break
		}
		mo.log.Warn("leadership or session ended; campaigning again", "err", err)
		sleepCtx(ctx, 500*time.Millisecond)
	}
	return nil
}

// session runs one etcd session: the liveness key and a campaign.
func (mo *Mon) session(ctx context.Context, cli *clientv3.Client) error {
	ttl := int(mo.cfg.SessionTTL / time.Second)
	sess, err := concurrency.NewSession(cli, concurrency.WithTTL(max(ttl, 1)), concurrency.WithContext(ctx))
	if err != nil {
		return err
	}
	defer func() {
		// Closing revokes the lease: other monitors see this one go
		// at once instead of after the TTL.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_, _ = cli.Revoke(rctx, sess.Lease())
	}()
	rctx, rcancel := context.WithTimeout(ctx, mo.cfg.RequestTimeout)
	defer rcancel()
	if err := mo.revokeOldSessions(rctx, cli, sess.Lease()); err != nil {
		return err
	}
	if _, err = cli.Put(rctx, mo.st.aliveKey(mo.cfg.Name), mo.Addr(), clientv3.WithLease(sess.Lease())); err != nil {
		return err
	}
	rcancel()
	return mo.lead(ctx, sess)
}

// revokeOldSessions revokes the leases of this monitor's earlier
// sessions that still hold its liveness key or a campaign: a monitor
// killed without closing its session leaves them until their TTL runs
// out, and its restart would wait that long to lead (a lone monitor: the
// whole cluster without a leader). Monitor names are unique, so a key
// under this name held by another lease belongs to a dead incarnation.
func (mo *Mon) revokeOldSessions(ctx context.Context, cli *clientv3.Client, own clientv3.LeaseID) error {
	stale := map[clientv3.LeaseID]bool{}
	alive, err := cli.Get(ctx, mo.st.aliveKey(mo.cfg.Name))
	if err != nil {
		return err
	}
	el, err := cli.Get(ctx, mo.st.electionPrefix()+"/", clientv3.WithPrefix())
	if err != nil {
		return err
	}
	for _, kv := range append(alive.Kvs, el.Kvs...) {
		lease := clientv3.LeaseID(kv.Lease)
		if lease == own || lease == clientv3.NoLease {
			continue
		}
		if string(kv.Key) == mo.st.aliveKey(mo.cfg.Name) || strings.HasPrefix(string(kv.Value), mo.cfg.Name+" ") {
			stale[lease] = true
		}
	}
	for lease := range stale {
		if _, err := cli.Revoke(ctx, lease); err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) {
			return fmt.Errorf("revoking an earlier session of mon.%s: %w", mo.cfg.Name, err)
		}
		mo.log.Info("revoked an earlier session of this monitor", "lease", fmt.Sprintf("%x", int64(lease)))
	}
	return nil
}

// observeLeader keeps leaderInfo current.
func (mo *Mon) observeLeader(ctx context.Context) {
	for ctx.Err() == nil {
		sess, err := concurrency.NewSession(mo.st.cli, concurrency.WithTTL(max(int(mo.cfg.SessionTTL/time.Second), 1)),
			concurrency.WithContext(ctx))
		if err != nil {
			sleepCtx(ctx, 500*time.Millisecond)
			continue
		}
		el := concurrency.NewElection(sess, mo.st.electionPrefix())
		for resp := range el.Observe(ctx) {
			if len(resp.Kvs) > 0 {
				v := string(resp.Kvs[0].Value)
				mo.leaderInfo.Store(&v)
			}
		}
		sess.Orphan()
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		_, _ = mo.st.cli.Revoke(rctx, sess.Lease())
		cancel()
		sleepCtx(ctx, 200*time.Millisecond)
	}
}

// leaderName returns the observed leader's name and address.
func (mo *Mon) leaderName() (name, addr string) {
	p := mo.leaderInfo.Load()
	if p == nil {
		return "", ""
	}
	name, addr, _ = strings.Cut(*p, " ")
	return name, addr
}

func (mo *Mon) peer(addr string) (*grpc.ClientConn, error) {
	mo.peersMu.Lock()
	defer mo.peersMu.Unlock()
	if cc, ok := mo.peers[addr]; ok {
		return cc, nil
	}
	cc, err := transport.Dial(addr, mo.clientTLS)
	if err != nil {
		return nil, err
	}
	mo.peers[addr] = cc
	return cc, nil
}

func (mo *Mon) closePeers() {
	mo.peersMu.Lock()
	defer mo.peersMu.Unlock()
	for a, cc := range mo.peers {
		cc.Close()
		delete(mo.peers, a)
	}
}

func closeEtcd(e *embed.Etcd) {
	e.Close()
	<-e.Server.StopNotify()
}
