package rados

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/loligo/loligo/clustermap"
	"github.com/loligo/loligo/internal/config"
	"github.com/loligo/loligo/internal/pki"
	"github.com/loligo/loligo/internal/transport"
	pb "github.com/loligo/loligo/proto/loligopb"
)

// Sentinel errors; every error from a call wraps one of them.
var (
	ErrNotFound    = errors.New("not found")
	ErrExists      = errors.New("already exists")
	ErrInvalid     = errors.New("invalid argument")
	ErrBusy        = errors.New("precondition failed")
	ErrDenied      = errors.New("permission denied")
	ErrUnavailable = errors.New("unavailable")
	ErrConfig      = errors.New("bad configuration")
)

// Error is a failed call: the server's (or transport's) message and the
// kind of failure.
type Error struct {
	Kind error
	Msg  string
	// Step is the index of the step of a compound operation that
	// failed; -1 when the failure is not a step's.
	Step int
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.Kind }

// Options says how to connect.
type Options struct {
	// ConfPath is the loligo.conf to read (required).
	ConfPath string
	// Entity is who to connect as (default client.admin); the config
	// must hold its certificate and key.
	Entity string
	// MonHosts, when set, replace the config's mon_host.
	MonHosts []string
	// Timeout bounds each call that has no earlier deadline (default
	// 30s); failed monitors and OSDs are retried within it.
	Timeout time.Duration
	// OpTimeout bounds one attempt of an object operation on one OSD
	// (default 10s); an OSD that does not answer in time is tried again
	// (or its successor, once the map changes).
	OpTimeout time.Duration

	// dialOptions are added to the OSD connections' (tests).
	dialOptions []grpc.DialOption
}

// Conn is a connection to a cluster's monitors. It is safe for
// concurrent use.
type Conn struct {
	conf    *config.Config
	entity  string
	timeout time.Duration

	mu   sync.Mutex
	mons []*monConn
	cur  int // the monitor tried first

	objecter
}

type monConn struct {
	addr string
	cc   *grpc.ClientConn
	cl   pb.MonClient
}

// Connect reads the config and prepares connections to the monitors. It
// checks that one answers before it returns.
func Connect(ctx context.Context, opts Options) (*Conn, error) {
	conf, err := config.Load(opts.ConfPath)
	if err != nil {
		return nil, &Error{Kind: ErrConfig, Msg: err.Error(), Step: -1}
	}
	entity := opts.Entity
	if entity == "" {
		entity = "client.admin"
	}
	keys, err := conf.Keys(entity)
	if err != nil {
		return nil, &Error{Kind: ErrConfig, Msg: fmt.Sprintf("%v (the config %s has no certificate for %s)", err, opts.ConfPath, entity), Step: -1}
	}
	if conf.CA == "" {
		return nil, &Error{Kind: ErrConfig, Msg: fmt.Sprintf("the config %s names no ca", opts.ConfPath), Step: -1}
	}
	tlsConf, err := pki.ClientConfig(keys.Cert, keys.Key, conf.CA)
	if err != nil {
		return nil, &Error{Kind: ErrConfig, Msg: err.Error(), Step: -1}
	}
	for _, f := range []string{keys.Cert, conf.CA} {
		if err := pki.CheckValid(f, time.Now()); err != nil {
			return nil, &Error{Kind: ErrConfig, Msg: err.Error(), Step: -1}
		}
	}
	hosts := conf.MonHosts
	if len(opts.MonHosts) > 0 {
		hosts = opts.MonHosts
	}
	if len(hosts) == 0 {
		return nil, &Error{Kind: ErrConfig, Msg: "no monitor addresses: set mon_host in the config or pass --mon HOST:PORT", Step: -1}
	}
	c := &Conn{conf: conf, entity: entity, timeout: opts.Timeout}
	if c.timeout <= 0 {
		c.timeout = 30 * time.Second
	}
	c.initObjecter(opts, tlsConf)
	for _, h := range hosts {
		cc, err := transport.Dial(h, tlsConf)
		if err != nil {
			c.Close()
			return nil, &Error{Kind: ErrConfig, Msg: err.Error(), Step: -1}
		}
		c.mons = append(c.mons, &monConn{addr: h, cc: cc, cl: pb.NewMonClient(cc)})
	}
	c.cur = rand.IntN(len(c.mons))
	if err := c.firstContact(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// refusedGrace is how long Connect keeps trying monitors that refuse
// connections (one may be restarting) before it says so.
const refusedGrace = 3 * time.Second

// firstContact asks the monitors for the status, each in turn, until
// one answers. A failure that waiting will not cure ends it at once, and
// says what failed: a name that does not resolve, a TLS handshake that
// fails; connections refused by every monitor end it after
// refusedGrace. Anything else (a monitor that does not answer yet) is
// retried until the deadline, as any call.
func (c *Conn) firstContact(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	start := time.Now()
	for {
		var why []string
		hard := 0
		for _, m := range c.mons {
			actx, cancel := context.WithTimeout(ctx, max(c.timeout/3, 2*time.Second))
			_, err := m.cl.Status(actx, &pb.StatusRequest{})
			cancel()
			if err == nil {
				return nil
			}
			if !transport.Retryable(err) {
				return convert(err)
			}
			kind, what := dialFailure(err)
			why = append(why, m.addr+": "+what)
			switch {
			case kind == dialFatal:
				return &Error{Kind: ErrUnavailable, Msg: fmt.Sprintf("cannot reach the monitors: %s", strings.Join(why, "; ")), Step: -1}
			case kind == dialRefused:
				hard++
			}
		}
		if hard == len(c.mons) && time.Since(start) >= refusedGrace {
			return &Error{Kind: ErrUnavailable, Msg: fmt.Sprintf("no monitor is running at the configured addresses: %s (start one: loligo mon --dir DIR, or check mon_host in the config)",
				strings.Join(why, "; ")), Step: -1}
		}
		select {
		case <-ctx.Done():
			return &Error{Kind: ErrUnavailable, Msg: fmt.Sprintf("no monitor answered in time: %s", strings.Join(why, "; ")), Step: -1}
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Kinds of connection failures, for firstContact.
const (
	dialOther   = iota // may pass: retry
	dialRefused        // nobody listens there (yet)
	dialFatal          // will not pass by waiting: no such host, TLS
)

// dialFailure classifies a failed call by what the connection said, and
// puts it in words.
func dialFailure(err error) (int, string) {
	msg := status.Convert(err).Message()
	switch {
	case strings.Contains(msg, "no such host"):
		return dialFatal, "no such host (check mon_host in the config)"
	case strings.Contains(msg, "tls:") || strings.Contains(msg, "x509:") || strings.Contains(msg, "authentication handshake failed"):
		return dialFatal, "TLS failed: " + msg + " (is the config's certificate issued by this cluster's CA, and valid?)"
	case strings.Contains(msg, "connection refused"):
		return dialRefused, "connection refused"
	}
	return dialOther, msg
}

// Close stops following the map and closes the connections to the
// monitors and OSDs. Calls in flight fail; later calls fail with
// ErrUnavailable.
func (c *Conn) Close() error {
	c.closeObjecter()
	for _, m := range c.mons {
		m.cc.Close()
	}
	return nil
}

// FSID is the cluster id from the config.
func (c *Conn) FSID() string { return c.conf.FSID }

// Entity is who the connection authenticates as.
func (c *Conn) Entity() string { return c.entity }

// monCall runs f on a monitor, moving on to the next on failures that
// another monitor might not have, until the deadline.
func monCall[T any](ctx context.Context, c *Conn, f func(context.Context, pb.MonClient) (T, error)) (T, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	var zero T
	backoff := 50 * time.Millisecond
	var last error
	for attempt := 0; ; attempt++ {
		c.mu.Lock()
		m := c.mons[c.cur]
		c.mu.Unlock()
		// One attempt may not eat the whole deadline while others wait.
		actx, cancel := context.WithTimeout(ctx, max(c.timeout/3, 2*time.Second))
		v, err := f(actx, m.cl)
		cancel()
		if err == nil {
			return v, nil
		}
		last = err
		if !transport.Retryable(err) || ctx.Err() != nil {
			break
		}
		c.mu.Lock()
		if c.mons[c.cur] == m {
			c.cur = (c.cur + 1) % len(c.mons)
		}
		c.mu.Unlock()
		if attempt > 0 && attempt%len(c.mons) == 0 {
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
			}
			backoff = min(backoff*2, time.Second)
		}
	}
	if ctx.Err() != nil && last != nil && transport.Retryable(last) {
		return zero, convert(fmt.Errorf("no monitor answered in time (tried %s): %w", c.monList(), last))
	}
	return zero, convert(last)
}

func (c *Conn) monList() string {
	var s []string
	for _, m := range c.mons {
		s = append(s, m.addr)
	}
	return strings.Join(s, ", ")
}

// convert maps a gRPC error to an *Error.
func convert(err error) error {
	if err == nil {
		return nil
	}
	st, _ := status.FromError(err)
	msg := st.Message()
	if errors.Unwrap(err) != nil {
		msg = err.Error() // our own context around a status
	}
	kind := ErrUnavailable
	switch st.Code() {
	case codes.NotFound:
		kind = ErrNotFound
	case codes.AlreadyExists:
		kind = ErrExists
	case codes.InvalidArgument, codes.OutOfRange:
		kind = ErrInvalid
	case codes.FailedPrecondition:
		kind = ErrBusy
	case codes.PermissionDenied, codes.Unauthenticated:
		kind = ErrDenied
	}
	switch {
	case strings.Contains(msg, "tls:") || strings.Contains(msg, "x509:") || strings.Contains(msg, "certificate"):
		kind = ErrDenied
		msg += " (TLS failed: is the certificate in the config issued by this cluster's CA, and valid?)"
	case kind == ErrUnavailable && (strings.Contains(msg, "broken pipe") || strings.Contains(msg, "connection reset")):
		// A TLS 1.3 server that refuses the client's certificate closes
		// the connection after the handshake, which looks like this.
		msg += " (the monitor closed the connection: if it persists, check that the config's certificate was issued by this cluster's CA)"
	}
	return &Error{Kind: kind, Msg: msg, Step: -1}
}

// Map returns the newest cluster map.
func (c *Conn) Map(ctx context.Context) (*clustermap.Map, error) { return c.MapAt(ctx, 0) }

// MapAt returns the map of one epoch (0: the newest).
func (c *Conn) MapAt(ctx context.Context, epoch uint64) (*clustermap.Map, error) {
	rep, err := monCall(ctx, c, func(ctx context.Context, cl pb.MonClient) (*pb.GetMapReply, error) {
		return cl.GetMap(ctx, &pb.GetMapRequest{Epoch: epoch})
	})
	if err != nil {
		return nil, err
	}
	m, err := clustermap.FromProto(rep.GetMap())
	if err != nil {
		return nil, &Error{Kind: ErrInvalid, Msg: fmt.Sprintf("the monitor sent a map that does not validate: %v", err), Step: -1}
	}
	return m, nil
}

// Command sends an admin command to the monitors' leader.
func (c *Conn) Command(ctx context.Context, req *pb.CommandRequest) (*pb.CommandReply, error) {
	if err := checkStrings("command", req); err != nil {
		return nil, err
	}
	return monCall(ctx, c, func(ctx context.Context, cl pb.MonClient) (*pb.CommandReply, error) {
		return cl.Command(ctx, req)
	})
}

// Status returns the cluster's status: monitors, leader, health.
func (c *Conn) Status(ctx context.Context) (*pb.StatusReply, error) {
	return monCall(ctx, c, func(ctx context.Context, cl pb.MonClient) (*pb.StatusReply, error) {
		return cl.Status(ctx, &pb.StatusRequest{})
	})
}
