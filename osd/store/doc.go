// Package store is an OSD's object store: the objects, PG logs and PG
// infos of the placement groups one OSD serves, kept in one Pebble
// database. It computes the effect of an operation (a vector of steps on
// one object) as a transaction (pb.Txn), applies transactions atomically
// and durably, reads, lists and scans objects, exports and installs whole
// objects for recovery, verifies checksums and checks its own consistency.
//
// Only package osd (and its tests) may import store. It is the only
// package of the module that imports Pebble; its own imports are the
// standard library, Pebble, minio/highwayhash, proto/loligopb and
// protobuf's proto package (to encode the loligopb messages it stores).
//
// # Key layout
//
// Every key of a PG starts with the 13-byte PG prefix, so a PG is one
// contiguous key range (listing, scan, backfill and RemovePG are range
// operations):
//
//	pgprefix = 'P' | pool (8 bytes BE, uint64(pool) with the sign bit flipped) | ps (4 bytes BE)
//
// followed by one family byte:
//
//	pgprefix 'D' | len(oid) (2 bytes BE) | oid | gen (8 BE) | index (4 BE)  data chunk
//	pgprefix 'I'                                                          PG info (pb.PGInfo)
//	pgprefix 'L' | epoch (8 BE) | version (8 BE)                          PG log entry (pb.LogEntry)
//	pgprefix 'M' | oid                                                    object metadata (pb.ObjectMeta)
//	pgprefix 'O' | len(oid) (2 bytes BE) | oid | key                      omap entry (value: raw bytes)
//
// Metadata keys end with the raw name, so listing is in name order. Data
// and omap keys carry the name's length first, so one object's keys are a
// range of their own whatever the other names are. Keys outside PGs start
// with 'G':
//
//	'G' 'V'                                                     format: version (4 BE) | chunk size (4 BE)
//	'G' 'p' | pool (8) | ps (4) | gen (8 BE) | oid              pending ingest marker (empty value)
//
// Object names are 1..2048 bytes of UTF-8 without NUL (proto strings);
// xattr names and omap keys are non-empty UTF-8. PG log keys order
// entries by eversion (epoch, then version).
//
// # Data
//
// An object whose size is at most Options.InlineMax (4 KiB by default)
// keeps its bytes in its metadata (ObjectMeta.inlined, inline, inline_sum)
// and has no chunks: a small write costs one key. A larger object keeps
// its bytes in chunks of Options.ChunkSize (64 KiB by default, fixed when
// the store is created) under its generation ObjectMeta.gen. A chunk's
// value is an 8-byte big-endian HighwayHash-64 of the data followed by the
// data. A chunk may be shorter than its span (and may be empty); the bytes
// it does not hold read as zeros, as do absent chunks (objects may be
// sparse). Checksums are verified on every read; a mismatch is an error
// wrapping ErrCorrupt and the bad bytes are never returned.
//
// A whole-object rewrite (write_full, a write from offset 0 that covers
// the old size, a new object, an inline object growing past InlineMax)
// gets a fresh generation, the eversion's version, and drops the old one
// with one range deletion. Partial writes keep the generation and rewrite
// only the chunks they touch (read-modify-write, verifying first).
//
// # Writes
//
// Apply and Install commit one Pebble batch with Sync; a PG's info and log
// are updated in the same batch. When a transaction writes at least
// Options.IngestMin bytes of chunks of a generation that is not on disk,
// those chunks are written to an sstable (synced) and ingested together
// with a one-key sstable holding a pending marker, in one atomic Ingest;
// the batch then commits the metadata and deletes the marker. The chunks
// of a fresh generation overlap nothing in the memtable, so the ingest
// forces no flush and the data reaches the disk about once. Open deletes
// the chunks named by a marker whose generation is not the object's (a
// crash between ingest and commit).
//
// A batch becomes visible to readers when Pebble has applied it, a little
// before its fsync completes (writers of one PG release the PG's lock
// before waiting, so they share fsyncs); Apply returns only after the
// fsync.
//
// # Pebble settings
//
// Chosen for an OSD whose whole process stays within about 200 MiB when
// idle: a 32 MiB block cache and 16 MiB memtables, at most two of them
// (Pebble starts memtables small and grows them); L0 compaction at 4
// sublevels, write stalls only at 24; 64 MiB for the base level and 4 MiB
// L0 target files (doubling per level); bloom filters on every level; up
// to 256 open files (ingested objects are files of their own, and each
// open one costs memory); two concurrent compactions; the
// synced WAL is always on. The format is FormatVirtualSSTables with
// ingest-time splitting, so an ingested object whose key range falls
// inside one file of a level lands in that level (the file is split
// virtually) instead of above it, and is not rewritten by a compaction.
//
// # Invariants
//
//   - Inlined objects have no chunks; chunked objects have chunks of their
//     gen only; a chunk never extends past the object's size
//     (index*ChunkSize + len(data) <= size) and holds at most ChunkSize
//     bytes.
//   - Omap entries exist only for existing objects.
//   - PG info objects and bytes equal the number and total size of the
//     PG's objects; last_update is at least every object's version and
//     every log entry's version (an Install without its log, as backfill
//     does before its last push, may leave objects newer than
//     last_update until the log arrives); log_tail is the oldest log
//     entry.
//   - A transaction is applied entirely or not at all; bad input changes
//     nothing.
//   - After a failed commit or sync the store refuses every further
//     operation with ErrIO: the process must reopen it.
//
// Check verifies all of these. Concurrency: every method is safe for
// concurrent use. The caller serializes operations on one object (Prepare
// then Apply); writes to different objects of one PG may run concurrently
// and share fsyncs.
//
// # Scrub
//
// ScrubObjects describes a PG's objects for comparison across replicas:
// version, size and digests that depend only on the logical content, not
// on the chunk size or inline limit. Each digest is a HighwayHash-64
// under ChecksumKey: of the xattrs by name and of the omap entries by key
// (each name, key and value after its length, 8 bytes big endian; 0 for
// no omap entries), and of the size bytes of data (holes as zeros, so an
// inline object's data digest is its inline_sum). See scrub.go.
package store
