package store

import (
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/vfs"
	"github.com/cockroachdb/pebble/vfs/errorfs"
)

// switchInjector fails the operations match selects while it is on.
type switchInjector struct {
	on    atomic.Bool
	hits  atomic.Int64
	mu    sync.Mutex
	match func(op errorfs.Op, path string) bool
}

func (i *switchInjector) MaybeError(op errorfs.Op, path string) error {
	if !i.on.Load() {
		return nil
	}
	i.mu.Lock()
	hit := i.match(op, path)
	i.mu.Unlock()
	if hit {
		i.hits.Add(1)
		return errorfs.ErrInjected
	}
	return nil
}

func errorStore(t *testing.T, inj *switchInjector) (*tstore, vfs.FS) {
	mem := vfs.NewMem()
	o := smallOpts("/db")
	o.FS = errorfs.Wrap(mem, inj)
	return openStore(t, o), mem
}

// syncFailFS fails every kind of sync of the WAL while fail is set
// (errorfs does not inject into SyncData and SyncTo, which the WAL uses).
type syncFailFS struct {
	vfs.FS
	fail *atomic.Bool
	hits *atomic.Int64
}

func (fs syncFailFS) wrap(name string, f vfs.File, err error) (vfs.File, error) {
	if err != nil || !strings.HasSuffix(name, ".log") {
		return f, err
	}
	return syncFailFile{File: f, fs: fs}, nil
}

func (fs syncFailFS) Create(name string) (vfs.File, error) {
	f, err := fs.FS.Create(name)
	return fs.wrap(name, f, err)
}

func (fs syncFailFS) ReuseForWrite(oldname, newname string) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname)
	return fs.wrap(newname, f, err)
}

type syncFailFile struct {
	vfs.File
	fs syncFailFS
}

func (f syncFailFile) err() error {
	if f.fs.fail.Load() {
		f.fs.hits.Add(1)
		return errorfs.ErrInjected
	}
	return nil
}

func (f syncFailFile) Sync() error {
	if err := f.err(); err != nil {
		return err
	}
	return f.File.Sync()
}

func (f syncFailFile) SyncData() error {
	if err := f.err(); err != nil {
		return err
	}
	return f.File.SyncData()
}

func (f syncFailFile) SyncTo(n int64) (bool, error) {
	if err := f.err(); err != nil {
		return false, err
	}
	return f.File.SyncTo(n)
}

func TestWALFailure(t *testing.T) {
	for _, sync := range []bool{false, true} {
		t.Run(map[bool]string{false: "write", true: "sync"}[sync], func(t *testing.T) {
			inj := &switchInjector{match: func(op errorfs.Op, path string) bool {
				return !sync && op == errorfs.OpFileWrite && strings.HasSuffix(path, ".log")
			}}
			fs := syncFailFS{FS: errorfs.Wrap(vfs.NewMem(), inj), fail: &atomic.Bool{}, hits: &inj.hits}
			o := smallOpts("/db")
			o.FS = fs
			s := openStore(t, o)
			s.mustOp(testPG, "o", writeFullStep([]byte("before")))
			inj.on.Store(true)
			fs.fail.Store(sync)
			_, err := s.op(testPG, "o", writeFullStep([]byte("after")))
			if !errors.Is(err, ErrIO) {
				t.Fatalf("Apply with a failing WAL: %v, want ErrIO", err)
			}
			if inj.hits.Load() == 0 {
				t.Fatalf("no error was injected")
			}
			// The store has failed: everything refuses with ErrIO.
			inj.on.Store(false)
			fs.fail.Store(false)
			_, err = s.op(testPG, "o", readStep(0, 0))
			wantErr(t, err, ErrIO)
			_, err = s.op(testPG, "p", writeFullStep([]byte("x")))
			wantErr(t, err, ErrIO)
			_, err = s.Check()
			wantErr(t, err, ErrIO)
		})
	}
}

func TestIngestWriteFailure(t *testing.T) {
	// Failing to write the sstable to ingest changes nothing and leaves
	// the store working.
	inj := &switchInjector{match: func(op errorfs.Op, path string) bool {
		return strings.Contains(path, ingestDir) && (op == errorfs.OpFileWrite || op == errorfs.OpFileSync || op == errorfs.OpCreate)
	}}
	s, _ := errorStore(t, inj)
	d := pattern(1000, 1)
	s.mustOp(testPG, "o", writeFullStep(d))
	inj.on.Store(true)
	_, err := s.op(testPG, "o", writeFullStep(pattern(2000, 2)))
	wantErr(t, err, ErrIO)
	inj.on.Store(false)
	got, err := s.read(testPG, "o")
	wantErr(t, err, nil)
	wantBytes(t, got, d)
	s.mustOp(testPG, "o", appendStep([]byte("more")))
	s.checkClean()
}

func TestOpenFailure(t *testing.T) {
	inj := &switchInjector{match: func(errorfs.Op, string) bool { return true }}
	inj.on.Store(true)
	o := smallOpts("/db")
	o.FS = errorfs.Wrap(vfs.NewMem(), inj)
	_, err := Open(o)
	wantErr(t, err, ErrIO)
}

func TestReadErrors(t *testing.T) {
	// Injected read errors give errors, never wrong data.
	r := rand.New(rand.NewPCG(1, 2))
	inj := &switchInjector{match: func(op errorfs.Op, path string) bool {
		return (op == errorfs.OpFileRead || op == errorfs.OpFileReadAt) && strings.HasSuffix(path, ".sst") && r.IntN(3) == 0
	}}
	s, _ := errorStore(t, inj)
	want := map[string][]byte{}
	for i, oid := range []string{"a", "b", "c", "d", "e", "f"} {
		want[oid] = pattern(90+i*700, byte(i)) // inline, chunked and ingested
		s.mustOp(testPG, oid, writeFullStep(want[oid]), omapSetStep(kv("k", oid)))
	}
	if err := s.db.Flush(); err != nil {
		t.Fatal(err)
	}
	s.reopen() // an empty block cache
	inj.on.Store(true)
	var failed, ok int
	for i := 0; i < 60; i++ {
		oid := []string{"a", "b", "c", "d", "e", "f"}[i%6]
		res, err := s.op(testPG, oid, readStep(0, 0), omapByKeysStep("k"))
		if err != nil {
			if !errors.Is(err, ErrIO) && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("read error %v is neither ErrIO nor ErrCorrupt", err)
			}
			if res != nil {
				t.Fatalf("results returned with an error")
			}
			failed++
			continue
		}
		ok++
		wantBytes(t, res[0].Data, want[oid])
		wantBytes(t, res[1].Kv["k"], []byte(oid))
		// Export and Check too must not return wrong data.
		if txn, err := s.Export(testPG, oid); err == nil {
			if txn.Meta.Size != uint64(len(want[oid])) {
				t.Fatalf("export size %d", txn.Meta.Size)
			}
		}
	}
	if failed == 0 || ok == 0 {
		t.Fatalf("%d reads failed, %d succeeded: the injection did not bite", failed, ok)
	}
	inj.on.Store(false)
	s.checkClean()
}

func TestManifestFailureDuringIngest(t *testing.T) {
	// Pebble treats a failed MANIFEST write as fatal: the store fails
	// (ErrIO from then on) instead of exiting the process.
	inj := &switchInjector{match: func(op errorfs.Op, path string) bool {
		return strings.Contains(path, "MANIFEST") && (op == errorfs.OpFileWrite || op == errorfs.OpFileSync)
	}}
	s, _ := errorStore(t, inj)
	s.mustOp(testPG, "o", writeFullStep(pattern(100, 1)))
	inj.on.Store(true)
	_, err := s.op(testPG, "o", writeFullStep(pattern(2000, 2)))
	wantErr(t, err, ErrIO)
	if inj.hits.Load() == 0 {
		t.Fatal("no error was injected")
	}
	inj.on.Store(false)
	_, err = s.read(testPG, "o")
	wantErr(t, err, ErrIO)
}
