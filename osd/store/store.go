package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/bloom"

	pb "github.com/loligo/loligo/proto/loligopb"
)

// formatVersion is the version of the key layout (doc.go).
const formatVersion = 1

// ingestDir is the directory (inside Options.Dir) where sstables to ingest
// are written.
const ingestDir = "ingest-tmp"

// Store is one OSD's object store. Its methods are safe for concurrent
// use; see doc.go for what the caller must serialize.
type Store struct {
	opts    Options
	log     *slog.Logger
	db      *pebble.DB
	dbOpts  *pebble.Options
	corrupt atomic.Uint64
	// failed holds the first fatal error (a failed commit or sync, a
	// Pebble fatal error, corruption met by a background compaction);
	// once set, every operation fails with ErrIO. failedCh is closed then.
	failed   atomic.Pointer[error]
	failedCh chan struct{}
	// ingestSeq names the sstable files written for ingestion.
	ingestSeq atomic.Uint64
	// direct is -1 once the file system refused O_DIRECT.
	direct atomic.Int32

	// closeMu is held shared by every operation and exclusively by Close.
	closeMu sync.RWMutex
	closed  bool

	pgsMu sync.Mutex
	pgs   map[PGID]*pgState // guarded by pgsMu

	// hooks are for internal tests.
	hooks struct {
		// crashAfterIngest, when it returns true, makes a write stop right
		// after its ingest, as a crash would.
		crashAfterIngest func() bool
	}
}

// pgState caches a PG's info, log length and number of rollback records;
// mu serializes the batches that change them.
type pgState struct {
	mu      sync.Mutex
	loaded  bool       // guarded by mu
	info    *pb.PGInfo // guarded by mu
	logLen  int        // guarded by mu
	records int        // rollback records; guarded by mu
	// rollbacks counts the RollbackTo calls that changed the PG; a write
	// that read its objects' metadata before one re-checks them (see
	// commitWrite). Increased under mu, after the rollback's batch is
	// visible.
	rollbacks atomic.Uint64
}

// WriteStats are the bytes Pebble wrote to disk since Open, by kind.
type WriteStats struct {
	WAL        uint64 // write-ahead log
	Flush      uint64 // memtable flushes
	Compaction uint64 // compactions
	Ingest     uint64 // ingested sstables (written by the store itself)
	Total      uint64
}

// Open opens (creating if needed) the store in o.Dir.
func Open(o Options) (*Store, error) {
	o.ensureDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	s := &Store{opts: o, log: o.Logger, pgs: map[PGID]*pgState{}, failedCh: make(chan struct{})}
	cache := pebble.NewCache(o.CacheSize)
	defer cache.Unref()
	s.dbOpts = s.pebbleOptions(cache)
	db, err := pebble.Open(o.Dir, s.dbOpts)
	if err != nil {
		return nil, s.dbErr("open "+o.Dir, err)
	}
	s.db = db
	if err := s.init(); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

// pebbleOptions are the Pebble settings; each is chosen for an OSD whose
// whole process should stay within about 200 MiB when idle.
func (s *Store) pebbleOptions(cache *pebble.Cache) *pebble.Options {
	o := &pebble.Options{
		FS:    s.opts.FS,
		Cache: cache,
		// At most two memtables: one filling, one flushing.
		MemTableSize:                uint64(s.opts.MemTableSize),
		MemTableStopWritesThreshold: 2,
		// L0: compact at 4 sublevels, stall only far later; L1 target 64 MiB.
		L0CompactionThreshold:     4,
		L0CompactionFileThreshold: 500,
		L0StopWritesThreshold:     24,
		LBaseMaxBytes:             64 << 20,
		// Ingested objects are files of their own; keep many open.
		MaxOpenFiles:             256,
		MaxConcurrentCompactions: func() int { return 2 },
		// Virtual sstables allow ingest-time splitting (below).
		FormatMajorVersion: pebble.FormatVirtualSSTables,
		Logger:             pebbleLogger{s},
		EventListener: &pebble.EventListener{
			BackgroundError: s.backgroundError,
			DiskSlow: func(info pebble.DiskSlowInfo) {
				s.log.Warn("disk slow", "path", info.Path, "op", info.OpType.String(), "duration", info.Duration)
			},
			WriteStallBegin: func(info pebble.WriteStallBeginInfo) { s.log.Warn("write stall", "reason", info.Reason) },
			WriteStallEnd:   func() { s.log.Info("write stall ended") },
		},
	}
	// An ingested object whose key range falls inside one existing file
	// of a level splits that file (virtually) instead of landing in a
	// higher level, so it is not rewritten by a compaction later.
	o.Experimental.IngestSplit = func() bool { return true }
	o.DisableAutomaticCompactions = s.opts.noCompactions
	// Bloom filters (10 bits per key, 1% false positives): a write looks
	// up the object's metadata first, and for a new object that key is in
	// no file; without filters every L0 file and one file per level is
	// searched (this was 65% of the OSD's CPU in 4 KiB writes).
	o.Levels = make([]pebble.LevelOptions, 7)
	for i := range o.Levels {
		o.Levels[i].TargetFileSize = 4 << 20 << i
		o.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
		o.Levels[i].FilterType = pebble.TableFilter
	}
	o.EnsureDefaults()
	return o
}

// pebbleLogger routes Pebble's messages to the store's logger. A fatal
// message from Pebble fails the store instead of exiting the process.
type pebbleLogger struct{ s *Store }

func (l pebbleLogger) Infof(format string, args ...any) {
	l.s.log.Info("pebble: " + fmt.Sprintf(format, args...))
}

func (l pebbleLogger) Fatalf(format string, args ...any) {
	msg := "pebble: " + fmt.Sprintf(format, args...)
	l.s.log.Error(msg)
	l.s.fail(errors.New(msg))
}

// fail puts the store in the failed state (the first cause sticks).
func (s *Store) fail(err error) {
	if s.failed.CompareAndSwap(nil, &err) {
		s.log.Error("store failed; reopen it", "err", err)
		close(s.failedCh)
	}
}

// backgroundError handles an error of a flush or compaction. Pebble
// retries a failed compaction at once, with the same inputs: one that
// fails on a corrupt sstable fails again, hundreds of times a second,
// and L0 grows until writes stall. Such a store cannot go on; it fails
// (ErrCorrupt in FailCause) so its OSD stops serving and says why.
func (s *Store) backgroundError(err error) {
	if IsPebbleCorruption(err) {
		s.corrupt.Add(1)
		s.fail(fmt.Errorf("%w: a compaction met a corrupt sstable (%v); the store's data cannot be trusted: rebuild this OSD from its peers", ErrCorrupt, err))
		return
	}
	if isNoSpace(err) {
		s.fail(fmt.Errorf("%w: a flush or compaction ran out of disk space: %v", ErrNoSpace, err))
		return
	}
	s.log.Error("pebble background error", "err", err)
}

// Failed is closed when the store fails: from then on every operation
// fails, and the store must be closed and opened again (see FailCause).
func (s *Store) Failed() <-chan struct{} { return s.failedCh }

// FailCause is why the store failed (nil while it has not). It wraps
// ErrCorrupt when Pebble's own files are damaged, ErrNoSpace when the
// disk is full, and ErrIO otherwise.
func (s *Store) FailCause() error {
	p := s.failed.Load()
	if p == nil {
		return nil
	}
	err := *p
	if errors.Is(err, ErrCorrupt) || errors.Is(err, ErrNoSpace) || errors.Is(err, ErrIO) {
		return err
	}
	if isNoSpace(err) {
		return fmt.Errorf("%w: %w", ErrNoSpace, err)
	}
	return fmt.Errorf("%w: %w", ErrIO, err)
}

// failedErr is non-nil when the store has failed.
func (s *Store) failedErr() error {
	if p := s.failed.Load(); p != nil {
		return fmt.Errorf("store failed earlier (%v): %w", *p, ErrIO)
	}
	return nil
}

// enter starts an operation; exit must follow when it returns nil.
func (s *Store) enter() error {
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return ErrClosed
	}
	if err := s.failedErr(); err != nil {
		s.closeMu.RUnlock()
		return err
	}
	return nil
}

func (s *Store) exit() { s.closeMu.RUnlock() }

// Close waits for running operations and closes the database.
func (s *Store) Close() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.closed = true
	if err := s.db.Close(); err != nil {
		return s.dbErr("close", err)
	}
	return nil
}

// init checks or writes the format key, clears leftovers of interrupted
// ingests and recovers from a crash between ingest and commit.
func (s *Store) init() error {
	v, closer, err := s.db.Get(formatKey())
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		it, err := s.db.NewIter(nil)
		if err != nil {
			return s.dbErr("open", err)
		}
		empty := !it.First()
		ierr := it.Close()
		if ierr != nil {
			return s.dbErr("open", ierr)
		}
		if !empty {
			return fmt.Errorf("%s holds a database without the store's format key: %w", s.opts.Dir, ErrInvalid)
		}
		val := binary.BigEndian.AppendUint32(nil, formatVersion)
		val = binary.BigEndian.AppendUint32(val, uint32(s.opts.ChunkSize))
		if err := s.db.Set(formatKey(), val, pebble.Sync); err != nil {
			return s.dbErr("write format", err)
		}
	case err != nil:
		return s.dbErr("read format", err)
	default:
		val := append([]byte(nil), v...)
		_ = closer.Close()
		if len(val) != 8 || binary.BigEndian.Uint32(val) != formatVersion {
			return fmt.Errorf("%s: unsupported store format %x: %w", s.opts.Dir, val, ErrInvalid)
		}
		if cs := int(binary.BigEndian.Uint32(val[4:])); cs != s.opts.ChunkSize {
			return fmt.Errorf("%s: the store's chunk size is %d, not %d: %w", s.opts.Dir, cs, s.opts.ChunkSize, ErrInvalid)
		}
	}
	if err := s.clearIngestDir(); err != nil {
		return err
	}
	return s.recoverPending()
}

// CorruptionCount is the number of checksum mismatches and corruption
// errors found since Open.
func (s *Store) CorruptionCount() uint64 { return s.corrupt.Load() }

// DiskUsage is the number of bytes Pebble holds on disk.
func (s *Store) DiskUsage() uint64 {
	if s.enter() != nil {
		return 0
	}
	defer s.exit()
	return s.db.Metrics().DiskSpaceUsage()
}

// WriteStats returns the bytes Pebble wrote to disk since Open, so the
// OSD can report write amplification (disk bytes / bytes acknowledged).
func (s *Store) WriteStats() WriteStats {
	if s.enter() != nil {
		return WriteStats{}
	}
	defer s.exit()
	m := s.db.Metrics()
	w := WriteStats{WAL: m.WAL.BytesWritten}
	for _, l := range m.Levels {
		w.Flush += l.BytesFlushed
		w.Compaction += l.BytesCompacted
		w.Ingest += l.BytesIngested
	}
	w.Total = w.WAL + w.Flush + w.Compaction + w.Ingest
	return w
}

// pgState returns the (cached) state of pg.
func (s *Store) pgState(pg PGID) *pgState {
	s.pgsMu.Lock()
	defer s.pgsMu.Unlock()
	st := s.pgs[pg]
	if st == nil {
		st = &pgState{}
		s.pgs[pg] = st
	}
	return st
}
