package mon

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/loligo/loligo/clustermap"
	"github.com/loligo/loligo/crush"
)

// Sentinel errors. Each maps to one gRPC code, so clients can tell them
// apart.
var (
	// ErrInvalid: the request is malformed or would make an invalid map.
	ErrInvalid = errors.New("invalid request")
	// ErrNotFound: a named pool, OSD, rule, profile or bucket is missing.
	ErrNotFound = errors.New("not found")
	// ErrExists: the thing to create exists already (and differs).
	ErrExists = errors.New("already exists")
	// ErrBusy: the thing is in use (a rule used by a pool, an OSD up).
	ErrBusy = errors.New("in use")
	// ErrConfirm: the change moves more data than the threshold allows
	// without --yes.
	ErrConfirm = errors.New("confirmation needed")
	// ErrTooBig: the change would make a map or incremental larger than
	// the monitor stores (Config.MaxMapSize); nothing changed.
	ErrTooBig = errors.New("too big")
	// ErrDenied: the caller's entity may not do this.
	ErrDenied = errors.New("permission denied")
	// ErrNotLeader: this monitor is not the leader and cannot reach it.
	ErrNotLeader = errors.New("no leader")
	// ErrStale: the leader lost its lease or the map changed under it;
	// the change was not made and may be retried.
	ErrStale = errors.New("leadership changed; retry")
)

// grpcError turns an error into a status with the right code; errors
// that already carry a status pass through.
func grpcError(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	code := codes.Internal
	switch {
	case errors.Is(err, ErrInvalid), errors.Is(err, crush.ErrSyntax), errors.Is(err, crush.ErrInvalidMap),
		errors.Is(err, clustermap.ErrInvalid), errors.Is(err, ErrTooBig):
		code = codes.InvalidArgument
	case errors.Is(err, ErrNotFound), errors.Is(err, clustermap.ErrNoPool):
		code = codes.NotFound
	case errors.Is(err, ErrExists):
		code = codes.AlreadyExists
	case errors.Is(err, ErrBusy), errors.Is(err, ErrConfirm):
		code = codes.FailedPrecondition
	case errors.Is(err, ErrDenied):
		code = codes.PermissionDenied
	case errors.Is(err, ErrNotLeader), errors.Is(err, ErrStale):
		code = codes.Unavailable
	case errors.Is(err, context.DeadlineExceeded):
		code = codes.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		code = codes.Canceled
	}
	return status.Error(code, err.Error())
}
