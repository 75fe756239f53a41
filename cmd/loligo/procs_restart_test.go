package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/loligo/loligo/clustermap"
	"github.com/loligo/loligo/internal/config"
	"github.com/loligo/loligo/osd"
	"github.com/loligo/loligo/osd/store"
	pb "github.com/loligo/loligo/proto/loligopb"
	"github.com/loligo/loligo/rados"
)

// TestProcsRestartLostTail: an OSD SIGKILLed and restarted long before
// its beacons would be missed, whose disk lost its last writes (as a
// disk that lied about a sync does; then, a bit flipped in its WAL), must
// not keep its place in the old interval: the monitor sees the new incarnation boot, marks the
// old one down and the new one up in new epochs, the OSD's PGs peer
// again, compare logs and recover what it lost, all without a scrub.
// Before, the map stayed at one epoch through the restart and the lost
// writes stayed lost on that OSD while every PG was active+clean.
func TestProcsRestartLostTail(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a multi-process cluster")
	}
	start := time.Now()
	dir := clusterDir(t)
	p := startProcs(t, dir, freeBaseFor(t, 3), 3, "3s")
	conf := filepath.Join(dir, "loligo.conf")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	conn, err := rados.Connect(ctx, rados.Options{ConfPath: conf})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	mc, closeMon := adminMonClient(t, conf)
	defer closeMon()
	io, err := conn.OpenPool(ctx, "data")
	if err != nil {
		t.Fatal(err)
	}
	data := objData
	write := func(from, to int) {
		for i := from; i < to; i++ {
			if err := io.WriteFull(ctx, fmt.Sprintf("obj%03d", i), data(i)); err != nil {
				t.Fatalf("write %d: %v", i, err)
			}
		}
	}
	const victim = "osd.1"
	victimDir := filepath.Join(dir, victim, "store")
	snap := filepath.Join(t.TempDir(), "store")
	// kill SIGKILLs the victim, runs f while it is dead (the supervisor
	// starts it again 3 s after), and waits for the new process.
	kill := func(f func()) {
		t.Helper()
		pid, ok := livePid(dir, victim)
		if !ok {
			t.Fatalf("%s does not run", victim)
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, victim+" dead", func() bool { return syscall.Kill(pid, 0) != nil })
		f()
		waitFor(t, time.Minute, victim+" restarted", func() bool {
			np, ok := livePid(dir, victim)
			return ok && np != pid
		})
	}
	write(0, 60)
	// The disk's state after these writes, taken while the OSD is dead.
	kill(func() { copyDir(t, victimDir, snap) })
	waitActiveClean(t, ctx, mc, 2*time.Minute)
	write(60, 120) // what the victim's disk will lose
	epochBefore := mapOf(t, ctx, mc).Epoch
	// The disk comes back without the last writes, as one that
	// acknowledged syncs it had not made.
	kill(func() {
		if err := os.RemoveAll(victimDir); err != nil {
			t.Fatal(err)
		}
		copyDir(t, snap, victimDir)
	})
	t.Logf("%s SIGKILLed at epoch %d and restarted without its last 60 acknowledged writes", victim, epochBefore)
	// The new incarnation must come up in a new epoch; then every PG
	// must report active+clean anew (a report from before the restart
	// says nothing of the lost writes).
	waitFor(t, time.Minute, "the restart in the map", func() bool { return mapOf(t, ctx, mc).OSDs[1].UpFrom > epochBefore })
	waitCleanSince(t, ctx, mc, time.Now(), 2*time.Minute)
	m := mapOf(t, ctx, mc)
	st := m.OSDs[1]
	t.Logf("active+clean at epoch %d after %s; %s up from epoch %d: %q", m.Epoch, time.Since(start).Round(time.Millisecond), victim, st.UpFrom, st.DownReason)
	if st.UpFrom <= epochBefore || !strings.Contains(st.DownReason, "restarted") {
		t.Errorf("the restart is not in the map: up from epoch %d (before %d), last down %q", st.UpFrom, epochBefore, st.DownReason)
	}
	// The same with a bit flipped in the middle of the victim's write-
	// ahead log: Pebble reads the records after it as a torn tail (it
	// cannot tell one from the other), so the restarted OSD lacks those
	// writes, and peering must bring them back.
	write(120, 180)
	epochBefore = mapOf(t, ctx, mc).Epoch
	kill(func() {
		wal := newestWAL(t, victimDir)
		b, err := os.ReadFile(wal)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0x10
		if err := os.WriteFile(wal, b, 0o600); err != nil {
			t.Fatal(err)
		}
		// What the victim will open: a copy shows how many of the last
		// writes the flip takes away.
		probe := filepath.Join(t.TempDir(), "store")
		copyDir(t, victimDir, probe)
		lost := len(lacking(t, probe, conf, m, 120, 180))
		t.Logf("flipped a bit at %d of %s's %d-byte WAL %s: %d of the last 60 writes lost", len(b)/2, victim, len(b), filepath.Base(wal), lost)
		if lost == 0 {
			t.Fatal("the flipped bit lost nothing: the test tests nothing")
		}
	})
	waitFor(t, time.Minute, "the second restart in the map", func() bool { return mapOf(t, ctx, mc).OSDs[1].UpFrom > epochBefore })
	waitCleanSince(t, ctx, mc, time.Now(), 2*time.Minute)
	m = mapOf(t, ctx, mc)
	const total = 180
	// Reads go to each PG's primary, the victim among them.
	for i := range total {
		got, err := io.Read(ctx, fmt.Sprintf("obj%03d", i), 0, 1<<20)
		if err != nil || !bytes.Equal(got, data(i)) {
			t.Errorf("obj%03d: %d bytes, %v", i, len(got), err)
		}
	}
	log, err := os.ReadFile(filepath.Join(dir, "log", "mon.a.log"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), "restarted before it was marked down") {
		t.Errorf("the monitor's log does not tell of the restart")
	}
	p.stop(t)
	// Every OSD holds every object (3 OSDs, size 3): the victim got back
	// what its disk lost, by peering alone.
	missing := lacking(t, victimDir, conf, m, 0, total)
	slices.Sort(missing)
	if len(missing) > 0 {
		t.Errorf("%s lacks %d objects after peering: %v", victim, len(missing), missing)
	}
}

// lacking opens the (stopped) store in dir and returns which of the
// objects obj<from>..obj<to-1> of pool "data" it does not hold at their
// full size.
func lacking(t *testing.T, dir, confPath string, m *clustermap.Map, from, to int) []string {
	t.Helper()
	cf, err := config.Load(confPath)
	if err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(store.Options{Dir: dir, ChecksumKey: osd.ChecksumKey(cf.FSID)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pool, err := m.PoolByName("data")
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	for i := from; i < to; i++ {
		oid := fmt.Sprintf("obj%03d", i)
		pg, err := m.ObjectPG(pool.ID, oid, "")
		if err != nil {
			t.Fatal(err)
		}
		txn, err := s.Export(store.PGID{Pool: pg.Pool, PS: pg.Seed}, oid)
		switch {
		case errors.Is(err, store.ErrNotFound):
			missing = append(missing, oid)
		case err != nil:
			t.Fatalf("%s: %v", oid, err)
		case txn.GetMeta().GetSize() != uint64(len(objData(i))):
			missing = append(missing, oid+" (short)")
		}
	}
	return missing
}

// objData is what TestProcsRestartLostTail writes to obj<i>.
func objData(i int) []byte { return bytes.Repeat([]byte(fmt.Sprintf("object %d; ", i)), 800) }

// newestWAL returns the path of the store's newest write-ahead log.
func newestWAL(t *testing.T, storeDir string) string {
	t.Helper()
	logs, err := filepath.Glob(filepath.Join(storeDir, "*.log"))
	if err != nil || len(logs) == 0 {
		t.Fatalf("no WAL in %s: %v", storeDir, err)
	}
	slices.Sort(logs) // names are zero-padded numbers
	return logs[len(logs)-1]
}

// copyDir copies the regular files of src into dst (created).
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o700); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.IsDir() {
			copyDir(t, filepath.Join(src, e.Name()), filepath.Join(dst, e.Name()))
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// mapOf reads the monitors' newest map.
func mapOf(t *testing.T, ctx context.Context, mc pb.MonClient) *clustermap.Map {
	t.Helper()
	rep, err := mc.GetMap(ctx, &pb.GetMapRequest{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := clustermap.FromProto(rep.GetMap())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// waitCleanSince waits until every PG of the monitor's map is
// active+clean in a report its primary made after since.
func waitCleanSince(t *testing.T, ctx context.Context, mc pb.MonClient, since time.Time, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		rep, err := mc.PGDump(dctx, &pb.PGDumpRequest{})
		cancel()
		last := ""
		if err != nil {
			last = err.Error()
		}
		for _, e := range rep.GetPgs() {
			if e.GetState() != "active+clean" || e.GetReportedNs() < since.UnixNano() {
				last = fmt.Sprintf("pg %d.%x is %s as reported at %s", e.GetPool(), e.GetSeed(), e.GetState(),
					time.Unix(0, e.GetReportedNs()).Format(time.RFC3339Nano))
				break
			}
		}
		if last == "" && len(rep.GetPgs()) > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not every PG active+clean in a report after %s within %s: %s", since.Format(time.RFC3339Nano), timeout, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
