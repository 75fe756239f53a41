package store

import (
	"errors"
	"fmt"
	"syscall"

	crdberrors "github.com/cockroachdb/errors"
	"github.com/cockroachdb/pebble"

	pb "github.com/loligo/loligo/proto/loligopb"
)

// Sentinel errors. Every error the store returns wraps one of them, so
// callers tell them apart with errors.Is; each maps to one pb.Result.
var (
	// ErrNotFound: the object does not exist.
	ErrNotFound = errors.New("store: object not found")
	// ErrExists: an exclusive create found the object.
	ErrExists = errors.New("store: object exists")
	// ErrNoData: the named xattr does not exist.
	ErrNoData = errors.New("store: no such attribute")
	// ErrCanceled: a cmpxattr or omap_cmp guard failed.
	ErrCanceled = errors.New("store: comparison failed")
	// ErrVersion: an assert_version guard failed.
	ErrVersion = errors.New("store: version mismatch")
	// ErrInvalid: a malformed argument, step or transaction.
	ErrInvalid = errors.New("store: invalid argument")
	// ErrTooBig: a size or count limit is exceeded.
	ErrTooBig = errors.New("store: too big")
	// ErrCorrupt: stored (or received) data failed its checksum, or Pebble
	// found corruption.
	ErrCorrupt = errors.New("store: data corrupt")
	// ErrIO: the disk or Pebble failed.
	ErrIO = errors.New("store: I/O error")
	// ErrNoSpace: the file system is full (ENOSPC). Operations that hit
	// it also wrap ErrIO: the store fails, as after any failed write.
	ErrNoSpace = errors.New("store: no space left on device")
	// ErrClosed: the store is closed.
	ErrClosed = errors.New("store: closed")
	// ErrNoRollback: RollbackTo was asked to undo a write that kept no
	// rollback record (applied by Apply, installed, or trimmed).
	ErrNoRollback = errors.New("store: write cannot be rolled back")
)

// StepError is the failure of one step of an operation: the whole
// operation fails and nothing is applied.
type StepError struct {
	// Index is the step's position in the operation.
	Index int
	// Code is the step's op code.
	Code pb.OpCode
	// Err wraps one of the sentinel errors.
	Err error
}

func (e *StepError) Error() string {
	return fmt.Sprintf("step %d (%s): %v", e.Index, e.Code, e.Err)
}

func (e *StepError) Unwrap() error { return e.Err }

// Result maps an error to the pb.Result a client gets (OK for nil).
func Result(err error) pb.Result {
	switch {
	case err == nil:
		return pb.Result_OK
	case errors.Is(err, ErrNotFound):
		return pb.Result_NOT_FOUND
	case errors.Is(err, ErrExists):
		return pb.Result_EXISTS
	case errors.Is(err, ErrNoData):
		return pb.Result_NO_DATA
	case errors.Is(err, ErrCanceled):
		return pb.Result_CANCELED
	case errors.Is(err, ErrVersion):
		return pb.Result_VERSION_MISMATCH
	case errors.Is(err, ErrInvalid), errors.Is(err, ErrNoRollback):
		return pb.Result_INVALID
	case errors.Is(err, ErrTooBig):
		return pb.Result_TOO_BIG
	case errors.Is(err, ErrCorrupt):
		return pb.Result_CORRUPT
	default:
		return pb.Result_IO_ERROR
	}
}

// dbErr classifies an error from Pebble: corruption becomes ErrCorrupt
// (and is counted), everything else ErrIO. what names the operation.
//
// Pebble marks corruption (a block or table checksum mismatch, a
// malformed table, WAL or MANIFEST) with cockroachdb/errors' Mark, which
// the standard library's errors.Is does not see: only that package's Is
// recognizes the mark. (Pebble also marks a batch over 4 GiB as
// corruption; the store's batches are bounded far below that.)
func (s *Store) dbErr(what string, err error) error {
	if err == nil {
		return nil
	}
	if isNoSpace(err) {
		// A store that cannot write cannot serve (a flush or the WAL
		// would fail next): it fails, and its OSD goes down until there
		// is room again.
		s.fail(err)
		return fmt.Errorf("%s: %w: %w: %w", what, ErrIO, ErrNoSpace, err)
	}
	if IsPebbleCorruption(err) {
		s.corrupt.Add(1)
		return fmt.Errorf("%s: %w: %w", what, ErrCorrupt, err)
	}
	return fmt.Errorf("%s: %w: %w", what, ErrIO, err)
}

// indexErr is dbErr for the reads that walk a PG's index (its object
// list, its log, the list of PGs). Corruption there hides which objects
// exist, so no object can be repaired around it, and the first
// compaction of that table would fail the store anyway: the store fails
// now, with ErrCorrupt as the cause, and its OSD goes down so that its
// peers serve and rebuild its PGs.
func (s *Store) indexErr(what string, err error) error {
	err = s.dbErr(what, err)
	if errors.Is(err, ErrCorrupt) {
		s.fail(fmt.Errorf("%s: Pebble's index of the objects is unreadable: %w", what, err))
	}
	return err
}

// corruptErr reports (and counts) a checksum mismatch or undecodable value.
func (s *Store) corruptErr(format string, args ...any) error {
	s.corrupt.Add(1)
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrCorrupt)
}

// IsPebbleCorruption reports whether err is (or wraps) an error Pebble
// marked as corruption.
func IsPebbleCorruption(err error) bool {
	return err != nil && crdberrors.Is(err, pebble.ErrCorruption)
}

// isNoSpace reports whether err comes from a full file system.
func isNoSpace(err error) bool {
	return err != nil && crdberrors.Is(err, syscall.ENOSPC) // it sees standard wrapping too
}
