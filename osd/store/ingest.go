package store

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/objstorage/objstorageprovider"
	"github.com/cockroachdb/pebble/sstable"

	pb "github.com/loligo/loligo/proto/loligopb"
)

// ingest writes the chunks of each plan into an sstable of its own, plus
// a one-key sstable with the plan's pending marker, and ingests all of
// them in one (atomic) Ingest.
func (s *Store) ingest(pg PGID, plans []*plan) error {
	dir := s.opts.FS.PathJoin(s.opts.Dir, ingestDir)
	if err := s.opts.FS.MkdirAll(dir, 0o755); err != nil {
		return s.dbErr("ingest", err)
	}
	var paths []string
	cleanup := func() {
		for _, p := range paths {
			_ = s.opts.FS.Remove(p)
		}
	}
	format := s.db.FormatMajorVersion().MaxTableFormat()
	for _, p := range plans {
		m := p.txn.GetMeta()
		oid := p.txn.GetOid()
		chunks := slices.Clone(p.txn.GetChunks())
		slices.SortFunc(chunks, func(a, b *pb.Chunk) int { return cmp.Compare(a.GetIndex(), b.GetIndex()) })
		data := s.opts.FS.PathJoin(dir, fmt.Sprintf("%d.sst", s.ingestSeq.Add(1)))
		paths = append(paths, data)
		size := 0
		for _, c := range chunks {
			size += len(c.GetData()) + 64
		}
		err := s.writeSST(data, format, s.opts.ChunkSize+256, size, func(w *sstable.Writer) error {
			var val []byte
			for _, c := range chunks {
				// The writer copies the value, so one buffer serves every chunk.
				val = appendChunk(val[:0], c.GetSum(), c.GetData())
				if err := w.Set(dataKey(pg, oid, m.GetGen(), c.GetIndex()), val); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			cleanup()
			return err
		}
		marker := s.opts.FS.PathJoin(dir, fmt.Sprintf("%d.sst", s.ingestSeq.Add(1)))
		paths = append(paths, marker)
		err = s.writeSST(marker, format, 0, 0, func(w *sstable.Writer) error {
			return w.Set(pendingKey(pg, m.GetGen(), oid), nil)
		})
		if err != nil {
			cleanup()
			return err
		}
	}
	if err := s.db.Ingest(paths); err != nil {
		cleanup()
		if ferr := s.failedErr(); ferr != nil {
			return ferr
		}
		return s.dbErr("ingest", err)
	}
	if err := s.failedErr(); err != nil {
		return err
	}
	return nil
}

// writeSST writes (and syncs) one sstable for ingestion; size is about
// the bytes it will hold. Large ones go to the device directly
// (direct_linux.go) when the store is on the real file system.
func (s *Store) writeSST(path string, format sstable.TableFormat, blockSize, size int, fill func(*sstable.Writer) error) error {
	wo := s.dbOpts.MakeWriterOptions(6, format)
	if blockSize > 0 {
		// About one chunk per block: a chunk read touches one block.
		wo.BlockSize = blockSize
		wo.IndexBlockSize = 32 << 10
		// Object data is stored as given: trying Snappy on every block
		// cost 2.5% of an OSD's CPU under 4 MiB writes, and data that
		// compresses is the client's to compress (BlueStore's compression
		// is off by default too).
		wo.Compression = sstable.NoCompression
	}
	if s.opts.directIO && size >= directMin && s.direct.Load() == 0 {
		dw := newDirectWritable(path, size+size/8+64<<10)
		if dw != nil {
			w := sstable.NewWriter(dw, wo)
			err := fill(w)
			if err != nil {
				_ = w.Close()
				return s.dbErr("ingest: write "+path, err)
			}
			err = w.Close()
			if err == nil {
				return nil
			}
			if !errors.Is(err, errNoDirect) {
				return s.dbErr("ingest: write "+path, err)
			}
			s.direct.Store(-1) // this file system refuses O_DIRECT
			_ = s.opts.FS.Remove(path)
		}
	}
	f, err := s.opts.FS.Create(path)
	if err != nil {
		return s.dbErr("ingest: create "+path, err)
	}
	w := sstable.NewWriter(objstorageprovider.NewFileWritable(f), wo)
	if err := fill(w); err != nil {
		_ = w.Close()
		return s.dbErr("ingest: write "+path, err)
	}
	// Close flushes, syncs and closes the file.
	if err := w.Close(); err != nil {
		return s.dbErr("ingest: write "+path, err)
	}
	return nil
}

// dropIngested deletes what ingest added for plans whose batch did not
// commit (best effort: Open finishes the job after a crash).
func (s *Store) dropIngested(pg PGID, plans []*plan) {
	b := s.db.NewBatch()
	defer b.Close()
	for _, p := range plans {
		g := p.txn.GetMeta().GetGen()
		oid := p.txn.GetOid()
		_ = b.DeleteRange(dataKey(pg, oid, g, 0), genEnd(pg, oid, g), nil)
		_ = b.Delete(pendingKey(pg, g, oid), nil)
	}
	if err := s.commitBatch(b); err != nil {
		s.log.Warn("dropping chunks of an uncommitted ingest failed; the next Open drops them", "pg", pg.String(), "err", err)
	}
}

// clearIngestDir removes sstables left by an ingest that did not happen.
func (s *Store) clearIngestDir() error {
	dir := s.opts.FS.PathJoin(s.opts.Dir, ingestDir)
	names, err := s.opts.FS.List(dir)
	if err != nil {
		return nil // no such directory
	}
	for _, n := range names {
		if err := s.opts.FS.Remove(s.opts.FS.PathJoin(dir, n)); err != nil {
			return s.dbErr("open: remove leftover "+n, err)
		}
	}
	return nil
}

// recoverPending deletes, for each pending marker left by a crash between
// an ingest and its commit, the chunks it names unless they are the
// object's current generation, and the marker.
func (s *Store) recoverPending() error {
	pp := pendingPrefix()
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: pp, UpperBound: prefixEnd(pp)})
	if err != nil {
		return s.dbErr("open: pending markers", err)
	}
	var keys []key
	for ok := it.First(); ok; ok = it.Next() {
		k, err := decodeKey(it.Key())
		if err != nil || k.kind != kindPending {
			_ = it.Close()
			return fmt.Errorf("open: pending marker %x: %w", it.Key(), err)
		}
		keys = append(keys, k)
	}
	if err := it.Close(); err != nil {
		return s.dbErr("open: pending markers", err)
	}
	if len(keys) == 0 {
		return nil
	}
	b := s.db.NewBatch()
	defer b.Close()
	for _, k := range keys {
		m, err := s.loadMeta(s.db, k.pg, k.oid)
		if err != nil {
			return err
		}
		if m == nil || m.GetInlined() || m.GetGen() != k.gen {
			s.log.Warn("dropping chunks of an ingest that did not commit", "pg", k.pg.String(), "oid", k.oid, "gen", k.gen)
			_ = b.DeleteRange(dataKey(k.pg, k.oid, k.gen, 0), genEnd(k.pg, k.oid, k.gen), nil)
		}
		_ = b.Delete(k.encode(), nil)
	}
	return s.commitBatch(b)
}
