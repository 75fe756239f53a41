package rados

import (
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/loligo/loligo/proto/loligopb"
)

// Sentinel errors of object operations, one per OSD result.
var (
	// ErrNoData: an xattr that does not exist.
	ErrNoData = errors.New("no such attribute")
	// ErrCanceled: a comparison guard (CmpXattr, OmapCmp) failed.
	ErrCanceled = errors.New("comparison failed")
	// ErrVersion: an AssertVersion guard failed.
	ErrVersion = errors.New("version mismatch")
	// ErrTooBig: a size limit (object, operation, xattr, omap) is exceeded.
	ErrTooBig = errors.New("too big")
	// ErrCorrupt: the data failed its checksum on every copy tried.
	ErrCorrupt = errors.New("data corrupt")
	// ErrIO: the OSD's store failed.
	ErrIO = errors.New("I/O error")
	// ErrFull: the object's PG has a full OSD (past the map's full
	// ratio, or its disk past the OSD's failsafe): writes that add data
	// are refused at once; removals, truncations and other deletes still
	// go through, so space can be freed.
	ErrFull = errors.New("no space: the cluster is full")
)

// Sentinel errors the client raises itself.
var (
	// ErrBadName: an object name, xattr name, omap key or other string
	// that the client refuses to send (empty, too long, not UTF-8), or
	// a name too long to stripe. It is an ErrInvalid too.
	ErrBadName = fmt.Errorf("bad name: %w", ErrInvalid)
	// ErrReplaced: another writer replaced (or removed) the object while
	// a call that takes several operations on it was under way: a read
	// that had already passed part of the object on, or a write that had
	// already changed it.
	ErrReplaced = errors.New("object replaced meanwhile")
)

// resultKind maps an OSD result to its sentinel (nil for OK; RETRY is
// never returned to callers and maps to ErrUnavailable).
func resultKind(r pb.Result) error {
	switch r {
	case pb.Result_OK:
		return nil
	case pb.Result_NOT_FOUND:
		return ErrNotFound
	case pb.Result_EXISTS:
		return ErrExists
	case pb.Result_NO_DATA:
		return ErrNoData
	case pb.Result_CANCELED:
		return ErrCanceled
	case pb.Result_VERSION_MISMATCH:
		return ErrVersion
	case pb.Result_INVALID:
		return ErrInvalid
	case pb.Result_TOO_BIG:
		return ErrTooBig
	case pb.Result_CORRUPT:
		return ErrCorrupt
	case pb.Result_IO_ERROR:
		return ErrIO
	case pb.Result_FULL:
		return ErrFull
	case pb.Result_RETRY:
		return ErrUnavailable
	}
	return ErrIO
}

// stepName is how errors name a step's operation ("cmpxattr").
func stepName(c pb.OpCode) string {
	n, ok := pb.OpCode_name[int32(c)]
	if !ok {
		return fmt.Sprintf("op%d", int32(c))
	}
	if len(n) > 3 && n[:3] == "OP_" {
		n = n[3:]
	}
	b := []byte(n)
	for i, ch := range b {
		if ch >= 'A' && ch <= 'Z' {
			b[i] = ch + 'a' - 'A'
		}
	}
	return string(b)
}

// replyError turns a failed OpReply into an *Error naming the object
// and, when the OSD blames one, the step.
func replyError(poolName, oid string, steps []*pb.OpStep, rep *pb.OpReply) error {
	kind := resultKind(rep.GetResult())
	if kind == nil {
		return nil
	}
	msg := rep.GetMessage()
	if msg == "" {
		msg = kind.Error()
	}
	step := int(rep.GetFailedStep())
	if step < 0 || step >= len(steps) {
		return &Error{Kind: kind, Msg: fmt.Sprintf("%s/%s: %s", poolName, oid, msg), Step: -1}
	}
	return &Error{Kind: kind, Step: step,
		Msg: fmt.Sprintf("%s/%s: step %d (%s): %s", poolName, oid, step, stepName(steps[step].GetCode()), msg)}
}

// osdRetryable reports whether a gRPC error from an OSD is worth a
// resend (elsewhere or later): the OSD is unreachable, too slow, or its
// connection went away. ctxDone says whether the caller's own context
// ended (then nothing is retried).
func osdRetryable(err error, ctxDone bool) bool {
	if ctxDone {
		return false
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Aborted, codes.Canceled:
		return true
	}
	return false
}

// convertOSD maps a non-retryable gRPC error of an OSD call.
func convertOSD(err error, where string) error {
	if status.Code(err) == codes.ResourceExhausted {
		return &Error{Kind: ErrTooBig, Msg: fmt.Sprintf("%s: %s", where, status.Convert(err).Message()), Step: -1}
	}
	e := convert(err).(*Error)
	e.Msg = where + ": " + e.Msg
	return e
}
