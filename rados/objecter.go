package rados

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/status"

	"github.com/loligo/loligo/clustermap"
	"github.com/loligo/loligo/internal/transport"
	pb "github.com/loligo/loligo/proto/loligopb"
)

// objecter is the part of a Conn that talks to OSDs: it follows the
// cluster map, places objects, and sends (and resends) requests to PG
// primaries.
type objecter struct {
	opTimeout time.Duration
	tlsConf   *tls.Config
	dialOpts  []grpc.DialOption
	// client names this connection's requests (entity/nonce); tid
	// numbers them.
	client string
	tid    atomic.Uint64

	// state is the newest map; replaced (never changed) by the follower.
	state atomic.Pointer[mapState]

	omu       sync.Mutex
	closed    bool
	closedCh  chan struct{}
	subCancel context.CancelFunc
	subDone   chan struct{}
	subErr    error // the follower's last failure, for error messages
	osds      map[string]*osdConn
}

// mapState is one map the connection held; next is closed when a newer
// one replaces it, so waiters need no polling.
type mapState struct {
	m    *clustermap.Map // nil before the first map
	raw  *pb.OSDMap
	next chan struct{}
}

func (s *mapState) epoch() uint64 {
	if s.m == nil {
		return 0
	}
	return s.m.Epoch
}

type osdConn struct {
	cc *grpc.ClientConn
	cl pb.OSDClient
}

var errClosed = &Error{Kind: ErrUnavailable, Msg: "the connection is closed", Step: -1}

func (c *Conn) initObjecter(opts Options, tlsConf *tls.Config) {
	c.opTimeout = opts.OpTimeout
	if c.opTimeout <= 0 {
		c.opTimeout = 10 * time.Second
	}
	c.tlsConf = tlsConf
	c.dialOpts = opts.dialOptions
	c.client = fmt.Sprintf("%s/%016x", c.entity, rand.Uint64())
	c.closedCh = make(chan struct{})
	c.osds = map[string]*osdConn{}
	c.state.Store(&mapState{next: make(chan struct{})})
}

func (c *Conn) closeObjecter() {
	c.omu.Lock()
	if c.closed {
		c.omu.Unlock()
		return
	}
	c.closed = true
	close(c.closedCh)
	cancel, done := c.subCancel, c.subDone
	osds := c.osds
	c.osds = nil
	c.omu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	for _, o := range osds {
		o.cc.Close()
	}
}

// CurrentMap returns the newest map the connection holds: the connection
// follows the map once OpenPool or ClusterStats started it; nil before.
func (c *Conn) CurrentMap() *clustermap.Map { return c.state.Load().m }

func (c *Conn) newReqID() *pb.ReqID {
	return &pb.ReqID{Client: c.client, Tid: c.tid.Add(1)}
}

// withDeadline gives ctx the connection's default deadline if it has none.
func (c *Conn) withDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, c.timeout)
}

// ensureMap starts following the map if nothing did yet and waits for
// the first map.
func (c *Conn) ensureMap(ctx context.Context) (*clustermap.Map, error) {
	select {
	case <-c.closedCh:
		return nil, errClosed
	default:
	}
	if m := c.CurrentMap(); m != nil {
		return m, nil
	}
	c.omu.Lock()
	if c.closed {
		c.omu.Unlock()
		return nil, errClosed
	}
	if c.subDone == nil {
		sctx, cancel := context.WithCancel(context.Background())
		c.subCancel, c.subDone = cancel, make(chan struct{})
		go c.follow(sctx, c.subDone)
	}
	c.omu.Unlock()
	if m := c.CurrentMap(); m != nil {
		return m, nil
	}
	ctx, cancel := c.withDeadline(ctx)
	defer cancel()
	if err := c.waitEpoch(ctx, 1, -1); err != nil {
		if err == errClosed {
			return nil, err
		}
		c.omu.Lock()
		why := c.subErr
		c.omu.Unlock()
		msg := fmt.Sprintf("no cluster map from the monitors (%s) in time", c.monList())
		if why != nil {
			msg += ": " + convert(why).Error()
		}
		return nil, &Error{Kind: ErrUnavailable, Msg: msg, Step: -1}
	}
	return c.CurrentMap(), nil
}

// waitEpoch waits until the connection holds a map of epoch e or newer,
// or limit passes (limit < 0: no limit). It returns nil in both cases
// (the caller looks at the map again), and an error when ctx ends or the
// connection is closed.
func (c *Conn) waitEpoch(ctx context.Context, e uint64, limit time.Duration) error {
	var timeout <-chan time.Time
	if limit >= 0 {
		t := time.NewTimer(limit)
		defer t.Stop()
		timeout = t.C
	}
	for {
		st := c.state.Load()
		if st.m != nil && st.m.Epoch >= e {
			return nil
		}
		select {
		case <-st.next:
		case <-timeout:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-c.closedCh:
			return errClosed
		}
	}
}

// publish makes m the connection's map and wakes the waiters.
func (c *Conn) publish(m *clustermap.Map, raw *pb.OSDMap) {
	old := c.state.Swap(&mapState{m: m, raw: raw, next: make(chan struct{})})
	close(old.next)
}

// errResubscribe means the stream cannot be continued: the next
// subscription must start from the held epoch (or from scratch).
var errResubscribe = errors.New("map stream out of step")

// follow keeps the connection's map current: it subscribes to a monitor
// and applies what it sends; when the stream fails it subscribes again,
// moving on to the next monitor, with backoff. It runs until ctx ends.
func (c *Conn) follow(ctx context.Context, done chan struct{}) {
	defer close(done)
	const minWait, maxWait = 100 * time.Millisecond, 5 * time.Second
	wait := minWait
	full := false
	for {
		mon, progress, err := c.followOnce(ctx, full)
		if ctx.Err() != nil {
			return
		}
		full = false
		var bad *badMapError
		if errors.As(err, &bad) {
			full = true // start over from a full map
		}
		c.omu.Lock()
		c.subErr = err
		c.omu.Unlock()
		if progress {
			wait = minWait
		}
		if !errors.Is(err, errResubscribe) {
			c.mu.Lock()
			if c.mons[c.cur] == mon {
				c.cur = (c.cur + 1) % len(c.mons)
			}
			c.mu.Unlock()
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
		wait = min(2*wait, maxWait)
	}
}

type badMapError struct{ err error }

func (e *badMapError) Error() string {
	return "the monitor sent a map that does not validate: " + e.err.Error()
}
func (e *badMapError) Unwrap() error { return errResubscribe }

// followOnce runs one subscription until it fails. progress says whether
// it applied anything.
func (c *Conn) followOnce(ctx context.Context, full bool) (mon *monConn, progress bool, err error) {
	c.mu.Lock()
	mon = c.mons[c.cur]
	c.mu.Unlock()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	from := c.state.Load().epoch()
	if full {
		from = 0
	}
	stream, err := mon.cl.Subscribe(sctx, &pb.SubscribeRequest{FromEpoch: from})
	if err != nil {
		return mon, false, err
	}
	for {
		upd, err := stream.Recv()
		if err != nil {
			return mon, progress, fmt.Errorf("map subscription to %s: %w", mon.addr, err)
		}
		if err := c.apply(upd); err != nil {
			return mon, progress, err
		}
		progress = true
	}
}

// apply applies one update of the subscription.
func (c *Conn) apply(upd *pb.MapUpdate) error {
	cur := c.state.Load()
	switch u := upd.GetUpdate().(type) {
	case *pb.MapUpdate_Full:
		if u.Full.GetEpoch() <= cur.epoch() {
			return nil
		}
		m, err := clustermap.FromProto(u.Full)
		if err != nil {
			return &badMapError{err}
		}
		c.publish(m, u.Full)
	case *pb.MapUpdate_Incremental:
		inc := u.Incremental
		if cur.m != nil && inc.GetEpoch() <= cur.m.Epoch {
			return nil
		}
		if cur.m == nil || inc.GetEpoch() != cur.m.Epoch+1 || inc.GetFsid() != cur.m.FSID {
			return fmt.Errorf("%w: incremental to epoch %d on epoch %d", errResubscribe, inc.GetEpoch(), cur.epoch())
		}
		raw := clustermap.ApplyProto(cur.raw, inc)
		m, err := clustermap.FromProto(raw)
		if err != nil {
			return &badMapError{err}
		}
		c.publish(m, raw)
	}
	return nil
}

// osdClient returns the (cached) client of the OSD at addr.
func (c *Conn) osdClient(addr string) (pb.OSDClient, error) {
	c.omu.Lock()
	defer c.omu.Unlock()
	if c.closed {
		return nil, errClosed
	}
	if o := c.osds[addr]; o != nil {
		return o.cl, nil
	}
	opts := []grpc.DialOption{
		// An OSD that restarts should be reached again within about a
		// second, not after gRPC's default backoff of up to two minutes.
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 2, Jitter: 0.2, MaxDelay: time.Second},
			MinConnectTimeout: 5 * time.Second,
		}),
		// Connections to OSDs that went away stop reconnecting.
		grpc.WithIdleTimeout(time.Minute),
	}
	cc, err := transport.Dial(addr, c.tlsConf, append(opts, c.dialOpts...)...)
	if err != nil {
		return nil, &Error{Kind: ErrInvalid, Msg: err.Error(), Step: -1}
	}
	o := &osdConn{cc: cc, cl: pb.NewOSDClient(cc)}
	c.osds[addr] = o
	return o.cl, nil
}

// pgCall is one request to a PG's primary.
type pgCall struct {
	// what names the request in errors ("data/obj").
	what string
	// write: held while the cluster pauses writes (else while it pauses
	// reads).
	write bool
	// locate returns the PG in map m.
	locate func(m *clustermap.Map) (clustermap.PGID, error)
	// send makes one attempt and returns the OSD's result and, with
	// RETRY, the epoch it needs.
	send func(ctx context.Context, cl pb.OSDClient, epoch uint64, pg clustermap.PGID) (pb.Result, uint64, error)
}

// callPrimary sends a request to its PG's acting primary, as the map
// says, and resends it (the caller keeps the same ReqID in it) until an
// OSD gives an answer other than RETRY or the deadline passes: after
// RETRY once the map reaches the epoch asked for; after a failed or
// timed-out attempt once a newer map came or a backoff passed; when the
// PG has no primary, or the cluster is paused, once the map changes.
func (c *Conn) callPrimary(ctx context.Context, pc pgCall) error {
	ctx, cancel := c.withDeadline(ctx)
	defer cancel()
	if _, err := c.ensureMap(ctx); err != nil {
		return err
	}
	start := time.Now()
	backoff := 50 * time.Millisecond
	tries := 0
	last := "nothing sent yet"
	for {
		m := c.CurrentMap()
		pg, err := pc.locate(m)
		if err != nil {
			return err
		}
		want, limit := m.Epoch+1, time.Duration(-1) // by default: the next map
		pl, err := m.Place(pg)
		switch {
		case err != nil:
			return &Error{Kind: ErrNotFound, Msg: fmt.Sprintf("%s: %v", pc.what, err), Step: -1}
		case pc.write && m.Flags&clustermap.FlagPauseWrite != 0:
			last = fmt.Sprintf("writes are paused (pausewr) in epoch %d", m.Epoch)
		case !pc.write && m.Flags&clustermap.FlagPauseRead != 0:
			last = fmt.Sprintf("reads are paused (pauserd) in epoch %d", m.Epoch)
		case pl.ActingPrimary == clustermap.NoPrimary:
			last = fmt.Sprintf("pg %s has no primary in epoch %d", pg, m.Epoch)
		case m.OSDs[pl.ActingPrimary] == nil || m.OSDs[pl.ActingPrimary].Addr == "":
			last = fmt.Sprintf("pg %s: its primary osd.%d has no address in epoch %d", pg, pl.ActingPrimary, m.Epoch)
		default:
			osd := pl.ActingPrimary
			addr := m.OSDs[osd].Addr
			cl, err := c.osdClient(addr)
			if err != nil {
				return err
			}
			actx, acancel := context.WithTimeout(ctx, c.opTimeout)
			res, retryEpoch, err := pc.send(actx, cl, m.Epoch, pg)
			acancel()
			tries++
			switch {
			case err == nil && res != pb.Result_RETRY:
				return nil
			case err == nil:
				last = fmt.Sprintf("pg %s: osd.%d (%s) answered RETRY in epoch %d (it needs epoch %d)", pg, osd, addr, m.Epoch, retryEpoch)
				if retryEpoch <= m.Epoch {
					// Not a newer map but time: the PG is not active yet.
					limit = backoff
				} else {
					want = retryEpoch
				}
			case osdRetryable(err, ctx.Err() != nil):
				last = fmt.Sprintf("pg %s: osd.%d (%s) in epoch %d: %s", pg, osd, addr, m.Epoch, status.Convert(err).Message())
				limit = backoff // a newer map, or the same OSD again
			case ctx.Err() != nil:
				last = fmt.Sprintf("pg %s: osd.%d (%s) in epoch %d: %s", pg, osd, addr, m.Epoch, status.Convert(err).Message())
			default:
				return convertOSD(err, fmt.Sprintf("%s: osd.%d (%s)", pc.what, osd, addr))
			}
		}
		if err := c.waitEpoch(ctx, want, limit); err != nil {
			if err == errClosed {
				return err
			}
			return &Error{Kind: ErrUnavailable, Step: -1,
				Msg: fmt.Sprintf("%s: no answer after %d tries in %v (%v); last: %s", pc.what, tries, time.Since(start).Round(time.Millisecond), err, last)}
		}
		backoff = min(2*backoff, time.Second)
	}
}
