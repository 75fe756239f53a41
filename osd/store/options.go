package store

import (
	"fmt"
	"log/slog"

	"github.com/cockroachdb/pebble/vfs"
)

// Defaults of Options; a zero field takes its default.
const (
	DefaultChunkSize      = 64 << 10
	DefaultInlineMax      = 4 << 10
	DefaultIngestMin      = 1 << 20
	DefaultMaxObjectSize  = 128 << 20
	DefaultMaxWriteSize   = 32 << 20
	DefaultMaxXattrName   = 256
	DefaultMaxXattrValue  = 64 << 10
	DefaultMaxOmapKey     = 4 << 10
	DefaultMaxOmapValue   = 1 << 20
	DefaultMaxOmapEntries = 10000
	DefaultLogEntries     = 3000
	DefaultCacheSize      = 32 << 20
	DefaultMemTableSize   = 16 << 20

	// defaultOmapMax is the page size of omap listings with max 0.
	defaultOmapMax = 1000
	// defaultListMax is the page size of List and Scan with max <= 0.
	defaultListMax = 1000
)

// Options configure a Store. Every zero field takes its default.
type Options struct {
	// Dir is the database directory (required).
	Dir string
	// FS is the file system Pebble (and the ingest path) uses; nil is the
	// operating system's.
	FS vfs.FS
	// directIO: ingested sstables of large objects are written with
	// O_DIRECT (only on the real file system, FS nil).
	directIO bool
	// noCompactions: Pebble compacts nothing on its own (Tables lists
	// files that must still be there when it returns).
	noCompactions bool
	// ChecksumKey keys the HighwayHash-64 sums of data (cluster-wide).
	ChecksumKey [32]byte
	// ChunkSize is the size of data chunks; default 64 KiB, 16 B..16 MiB.
	// It is recorded when the store is created; reopening with a different
	// non-zero value fails. Every OSD of a cluster must use the same one
	// (transactions carry chunk indexes).
	ChunkSize int
	// InlineMax: objects of at most this size keep their data in their
	// metadata; default 4 KiB, at most 1 MiB; negative: only empty
	// objects are inline.
	InlineMax int
	// IngestMin: a transaction writing at least this many bytes of chunks
	// of a new generation ingests them as an sstable instead of writing
	// them through the WAL; default 1 MiB; negative disables ingestion.
	IngestMin int
	// MaxObjectSize bounds an object's size; default 128 MiB.
	MaxObjectSize uint64
	// MaxWriteSize bounds the data bytes of one step and the payload
	// (data, xattr values, omap keys and values) of one operation; default
	// 32 MiB.
	MaxWriteSize uint64
	// MaxXattrName (default 256), MaxXattrValue (default 64 KiB) bound
	// xattrs.
	MaxXattrName, MaxXattrValue int
	// MaxOmapKey (default 4 KiB), MaxOmapValue (default 1 MiB) bound omap
	// entries; MaxOmapEntries (default 10000) bounds the entries one step
	// sets, removes, compares or returns.
	MaxOmapKey, MaxOmapValue, MaxOmapEntries int
	// LogEntries is the number of PG log entries kept per PG, at least (the
	// log is trimmed once it holds LogEntries/16 more; default
	// 3000); older ones are trimmed in the batch that adds new ones.
	LogEntries int
	// CacheSize is Pebble's block cache (default 32 MiB); MemTableSize its
	// memtable size (default 16 MiB). At most two memtables exist at once.
	CacheSize, MemTableSize int64
	// Logger receives the store's and Pebble's messages; nil discards.
	Logger *slog.Logger
}

// ensureDefaults fills zero fields.
func (o *Options) ensureDefaults() {
	setInt := func(p *int, d int) {
		if *p == 0 {
			*p = d
		}
	}
	setInt(&o.ChunkSize, DefaultChunkSize)
	setInt(&o.InlineMax, DefaultInlineMax)
	setInt(&o.IngestMin, DefaultIngestMin)
	setInt(&o.MaxXattrName, DefaultMaxXattrName)
	setInt(&o.MaxXattrValue, DefaultMaxXattrValue)
	setInt(&o.MaxOmapKey, DefaultMaxOmapKey)
	setInt(&o.MaxOmapValue, DefaultMaxOmapValue)
	setInt(&o.MaxOmapEntries, DefaultMaxOmapEntries)
	setInt(&o.LogEntries, DefaultLogEntries)
	if o.MaxObjectSize == 0 {
		o.MaxObjectSize = DefaultMaxObjectSize
	}
	if o.MaxWriteSize == 0 {
		o.MaxWriteSize = DefaultMaxWriteSize
	}
	if o.CacheSize == 0 {
		o.CacheSize = DefaultCacheSize
	}
	if o.MemTableSize == 0 {
		o.MemTableSize = DefaultMemTableSize
	}
	if o.FS == nil {
		o.FS = vfs.Default
		o.directIO = true
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// validate rejects values the store cannot work with.
func (o *Options) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("options: %s: %w", fmt.Sprintf(format, args...), ErrInvalid)
	}
	switch {
	case o.Dir == "":
		return bad("Dir is required")
	case o.ChunkSize < 16 || o.ChunkSize > 16<<20:
		return bad("ChunkSize %d not in 16..16777216", o.ChunkSize)
	case o.InlineMax > 1<<20:
		return bad("InlineMax %d above 1 MiB", o.InlineMax)
	case o.MaxObjectSize/uint64(o.ChunkSize) >= 1<<32:
		return bad("MaxObjectSize %d needs more than 2^32 chunks", o.MaxObjectSize)
	case o.MaxXattrName < 0 || o.MaxXattrValue < 0 || o.MaxOmapKey < 0 || o.MaxOmapValue < 0 || o.MaxOmapEntries < 0:
		return bad("negative xattr or omap limit")
	case o.LogEntries < 0:
		return bad("LogEntries %d is negative", o.LogEntries)
	case o.CacheSize < 0 || o.MemTableSize < 0 || o.MemTableSize >= 4<<30:
		return bad("CacheSize %d or MemTableSize %d out of range", o.CacheSize, o.MemTableSize)
	}
	return nil
}

// inlineMax is the largest inline object.
func (o *Options) inlineMax() uint64 {
	if o.InlineMax < 0 {
		return 0
	}
	return uint64(o.InlineMax)
}
