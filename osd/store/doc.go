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
//	pgprefix 'R' | epoch (8 BE) | version (8 BE) | kept gen (8 BE) | oid  rollback record (pb.RollbackRecord)
//
// Metadata keys end with the raw name, so listing is in name order. Data
// and omap keys carry the name's length first, so one object's keys are a
// range of their own whatever the other names are. Rollback records sort
// by their log entry's eversion (one record per entry); their key also
// names the generation the record keeps alive (0: none) and the object,
// so dropping records needs only their keys (see Rollback). Listing,
// scanning and scrubbing read the 'M' family only. Keys outside PGs start
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
// with one range deletion (ApplyKeep keeps it; see Rollback). Partial
// writes keep the generation and rewrite only the chunks they touch
// (read-modify-write, verifying first).
//
// # Writes
//
// Apply, ApplyKeep, Install, RollbackTo and TrimRollback commit one Pebble
// batch with Sync; a PG's info, log and rollback records are updated in
// the same batch. When a transaction writes at least
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
// # Rollback
//
// Erasure-coded pools write each shard with ApplyKeep, which applies the
// transaction like Apply and, in the same batch, stores a rollback record
// under the entry's eversion holding what the write overwrote, so that
// peering can undo writes that did not reach enough shards (RollbackTo)
// until every shard is known to have them (TrimRollback). A record is a
// pb.RollbackRecord: old_meta is the object's metadata before the write
// (absent: it did not exist; an inline object's data is in it). By kind
// of write:
//
//   - Leaving the generation (a fresh generation: write_full, a rewrite
//     from 0, inline growing chunked, remove-and-recreate; a chunked
//     object becoming inline; a removal): nothing is deleted; new_gen is
//     the new generation (0 if none) and the key's kept gen is the old
//     one (0 if the object was inline or absent). Rollback deletes
//     new_gen's chunks and restores old_meta, whose chunks are still
//     there; dropping the record deletes the kept generation.
//   - Within the generation (partial writes, appends, zero, truncate,
//     xattr changes): old_chunks holds the stored values (sum and data as
//     they were, not re-verified, so a rollback puts back exactly what
//     was there) of the chunks the write overwrote or dropped
//     (drop_chunks_from), created_chunks the indexes it wrote that did
//     not exist. Rollback restores and deletes those, then restores
//     old_meta. But when that would copy more chunk spans (at least 4)
//     than the write leaves untouched (a truncation dropping most of a
//     large object, an overwrite of most of it), ApplyKeep moves the
//     object to a fresh generation (the entry's version) holding the
//     written chunks and copies of the untouched ones, and keeps the old
//     generation whole, as for a rewrite. Either way a write copies at
//     most about half of the object's chunk spans (or 3); a record
//     holds at most that much data.
//
// pb.RollbackRecord has no field saying whether the write left its
// generation (new_gen is 0 both for a write within it and for one making
// the object inline or removing it), hence the kept gen in the key.
// ApplyKeep refuses omap changes (erasure-coded objects have none) and
// replacing transactions. RollbackTo undoes, newest first and in one
// batch, every logged write newer than its argument, removes their log
// entries and records, recounts objects and bytes and sets last_update
// to the newest remaining entry (or the older of rollback_tail and the
// target, if newer).
//
// PGInfo.rollback_tail is the newest write that cannot be undone: a
// rollback to before it fails with ErrNoRollback (unless the log shows
// that no write lies in between), and ApplyKeep refuses an entry at or
// before it (or one the log holds already: a retransmission). Apply (replicated
// pools) raises it to its entry and drops the records at or before it
// (a PG uses Apply or ApplyKeep, not both); Install with a log and
// ResetLog set it to the new last_update and drop every record; log
// trimming drops the records of the trimmed entries and raises it to the
// newest trimmed one; TrimRollback raises it (capped at last_update) and
// drops the records at or before it. ApplyUnlogged and Install without a
// log keep no record and leave it alone (their writes are not undone,
// and an Install removes the object's kept generations with the rest of
// it). Dropping a record deletes the generation its key keeps, never the
// object's current one or one the same batch writes.
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
//     gen only, besides generations rollback records keep; a chunk never
//     extends past the object's size (index*ChunkSize + len(data) <=
//     size; for a kept generation, the size in the keeping record's
//     old_meta) and holds at most ChunkSize bytes.
//   - Rollback records decode and agree with their keys (object, kept
//     generation = old_meta's gen); each belongs to a log entry newer
//     than rollback_tail; a generation is kept by at most one record and
//     is never the object's current one; kept chunks match their sums.
//     rollback_tail is at most last_update.
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
// # Damage in Pebble's own files
//
// Pebble checks its blocks, tables, WAL and MANIFEST with checksums of
// its own, and marks what fails with cockroachdb/errors (only that
// package's Is sees the mark): the store turns it into ErrCorrupt, as it
// does its own chunk checksums. A read that meets it fails for that
// object (the OSD repairs it from another copy: a replacing Install needs
// nothing of the damaged object, not even its metadata, and a chunk read
// steps around a corrupt block that holds none of its keys by reading
// its chunks one key at a time). Damage the store cannot work around
// fails it, with FailCause wrapping ErrCorrupt and Failed closed: a
// compaction that meets a corrupt table (Pebble would retry it hundreds
// of times a second and writes would stall), or a walk of a PG's index
// (its object list, its log). A full file system (ENOSPC anywhere) fails
// it with ErrNoSpace.
//
// Check verifies all of these. Concurrency: every method is safe for
// concurrent use. The caller serializes operations on one object (Prepare
// then Apply or ApplyKeep); writes to different objects of one PG may run
// concurrently and share fsyncs. RollbackTo, TrimRollback and SetShard
// take the PG's lock like the commit of a write. A write whose object a
// RollbackTo changed after the write read it fails with ErrVersion; the
// caller must not roll back objects with operations in flight (one
// prepared before the rollback and applied after it cannot be told
// apart).
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
