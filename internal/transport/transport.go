package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/experimental"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/loligo/loligo/internal/pki"
)

// Flow control, set deliberately for bulk data: a 4 MiB object must fit
// in one stream's window so a write is not stalled waiting for window
// updates, and a connection carries 16 such writes at once. Fixed windows
// turn off gRPC's bandwidth-delay probing, which on loopback settles far
// lower. The windows are limits on unacknowledged bytes, not buffers
// allocated up front. Bigger socket read buffers cut syscalls per
// megabyte; gRPC shares write buffers between idle connections.
const (
	StreamWindow = 8 << 20
	ConnWindow   = 64 << 20
	ReadBuffer   = 256 << 10
	WriteBuffer  = 256 << 10
)

// MaxMessage bounds one gRPC message either way (a map of thousands of
// OSDs fits many times over; object data is streamed in chunks far
// below it). Larger messages are refused with ResourceExhausted.
const MaxMessage = 64 << 20

// ErrNoEntity means a handler's context carries no verified entity: the
// call did not come through a server built by NewServer.
var ErrNoEntity = errors.New("transport: caller has no verified entity")

type entityKey struct{}

// Entity returns the verified entity of the caller of a handler.
func Entity(ctx context.Context) (string, error) {
	e, ok := ctx.Value(entityKey{}).(string)
	if !ok {
		return "", ErrNoEntity
	}
	return e, nil
}

// WithEntity returns ctx carrying entity, as the interceptors do; for
// handlers called in-process and for tests.
func WithEntity(ctx context.Context, entity string) context.Context {
	return context.WithValue(ctx, entityKey{}, entity)
}

func peerEntity(ctx context.Context) (string, error) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return "", status.Error(codes.Unauthenticated, "no peer information")
	}
	ti, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok {
		return "", status.Error(codes.Unauthenticated, "connection is not TLS; use the cluster's certificates")
	}
	e, err := pki.Entity(ti.State)
	if err != nil {
		return "", status.Errorf(codes.Unauthenticated, "certificate does not name a valid entity: %v", err)
	}
	return e, nil
}

func unaryEntity(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	e, err := peerEntity(ctx)
	if err != nil {
		return nil, err
	}
	return h(WithEntity(ctx, e), req)
}

type entityStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *entityStream) Context() context.Context { return s.ctx }

func streamEntity(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	e, err := peerEntity(ss.Context())
	if err != nil {
		return err
	}
	return h(srv, &entityStream{ServerStream: ss, ctx: WithEntity(ss.Context(), e)})
}

// NewServer returns a gRPC server that requires mutual TLS with conf
// (from pki.ServerConfig) and puts the caller's entity in every handler's
// context.
func NewServer(conf *tls.Config, opts ...grpc.ServerOption) *grpc.Server {
	base := []grpc.ServerOption{
		grpc.Creds(credentials.NewTLS(conf)),
		grpc.MaxRecvMsgSize(MaxMessage),
		grpc.MaxSendMsgSize(MaxMessage),
		grpc.InitialWindowSize(StreamWindow),
		grpc.InitialConnWindowSize(ConnWindow),
		grpc.ReadBufferSize(ReadBuffer),
		grpc.WriteBufferSize(WriteBuffer),
		experimental.BufferPool(sharedPool),
		grpc.ChainUnaryInterceptor(unaryEntity),
		grpc.ChainStreamInterceptor(streamEntity),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 10 * time.Second, Timeout: 5 * time.Second}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
		// A TLS handshake that does not finish in time is dropped.
		grpc.ConnectionTimeout(10 * time.Second),
	}
	return grpc.NewServer(append(base, opts...)...)
}

// ReconnectBackoff is how a connection retries a server it lost: from
// 100 ms, growing to at most 1 s.
var ReconnectBackoff = backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second}

// Dial returns a client connection to target (HOST:PORT) authenticated
// with conf (from pki.ClientConfig). It does not block: errors surface on
// the first call, which must carry a deadline.
func Dial(target string, conf *tls.Config, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	base := []grpc.DialOption{
		grpc.WithTransportCredentials(credentials.NewTLS(conf)),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessage), grpc.MaxCallSendMsgSize(MaxMessage)),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 10 * time.Second, Timeout: 5 * time.Second, PermitWithoutStream: true}),
		grpc.WithInitialWindowSize(StreamWindow),
		grpc.WithInitialConnWindowSize(ConnWindow),
		grpc.WithReadBufferSize(ReadBuffer),
		grpc.WithWriteBufferSize(WriteBuffer),
		experimental.WithBufferPool(sharedPool),
		// gRPC's default reconnect backoff grows to 120 s: a daemon that
		// restarts within seconds would stay "connection refused" to
		// its peers for that long. Peers and clients retry on their
		// own schedule, so the connection may retry every second.
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: ReconnectBackoff, MinConnectTimeout: 5 * time.Second}),
	}
	cc, err := grpc.NewClient("passthrough:///"+target, append(base, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("transport: dial %s: %w", target, err)
	}
	return cc, nil
}

// Retryable reports whether a call that failed with err may succeed on
// another server or later: the server was unreachable, too slow, or
// aborted the call.
func Retryable(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Aborted:
		return true
	}
	return false
}
