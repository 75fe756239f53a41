package osd_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/loligo/loligo/clustermap"
	"github.com/loligo/loligo/internal/testcluster"
	"github.com/loligo/loligo/osd"
	"github.com/loligo/loligo/osd/store"
	pb "github.com/loligo/loligo/proto/loligopb"
)

// storeOpts are the options osd.New opens OSD od's store with.
func storeOpts(c *testcluster.Cluster, od *testcluster.OSD) store.Options {
	so := od.Config.Store
	so.Dir = filepath.Join(od.Dir, "store")
	so.ChecksumKey = osd.ChecksumKey(c.Conf.FSID)
	return so
}

// flipFiles flips n random bits in each file (store.FlipFileBits).
func flipFiles(t *testing.T, files []string, r *rand.Rand, n int) {
	t.Helper()
	for _, f := range files {
		if err := store.FlipFileBits(f, r, n); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPebbleCorruptionServedAround: bits flipped in the sstable that
// holds an object on its primary (Pebble's own checksum, not the
// store's) make the read fail with corruption there; the primary serves
// the object from a replica, repairs its copy, and a deep scrub then
// finds nothing. Before, Pebble's corruption was an I/O error: the
// client got it forever and scrub had nothing to repair.
func TestPebbleCorruptionServedAround(t *testing.T) {
	c := start(t)
	r := newRaw(t, c)
	data := make([]byte, 3<<20) // ingested: an sstable of its own
	for i := range data {
		data[i] = byte(i*7 + i>>12)
	}
	if rep := r.op("big", 0, writeFull(data)); rep.GetResult() != pb.Result_OK {
		t.Fatalf("write: %v %s", rep.GetResult(), rep.GetMessage())
	}
	_, pl := r.place("big")
	prim := c.OSDByID(pl.ActingPrimary)
	pgid := store.PGID{Pool: pl.PG.Pool, PS: pl.PG.Seed}
	c.StopOSD(prim.Index)
	tables, err := store.Tables(storeOpts(c, prim), pgid, "big", "object")
	if err != nil || len(tables) == 0 {
		t.Fatalf("the object's sstables: %v %v", tables, err)
	}
	flipFiles(t, tables, rand.New(rand.NewPCG(1, 2)), 4)
	c.StartOSD(prim.Index)
	_, pl2 := r.place("big")
	if pl2.ActingPrimary != pl.ActingPrimary {
		t.Fatalf("the primary moved from osd.%d to osd.%d", pl.ActingPrimary, pl2.ActingPrimary)
	}
	rep := r.op("big", 0, readStep())
	if rep.GetResult() != pb.Result_OK || !bytes.Equal(rep.GetSteps()[0].GetData(), data) {
		t.Fatalf("read of the damaged object: %v %s (%d bytes)", rep.GetResult(), rep.GetMessage(), len(rep.GetSteps()[0].GetData()))
	}
	st := prim.Current().Store()
	if cause := st.FailCause(); cause != nil {
		// A compaction read the damage first: the OSD must be going down.
		if !errors.Is(cause, store.ErrCorrupt) {
			t.Fatalf("the store failed with %v", cause)
		}
		t.Logf("a compaction met the damage before the read: %v", cause)
		return
	}
	if st.CorruptionCount() == 0 {
		t.Fatal("the primary's store saw no corruption: the damage was not read")
	}
	// The primary's own copy is whole again.
	_, res, err := st.Prepare(pgid, "big", []*pb.OpStep{readStep()}, nil, time.Now())
	if err != nil || !bytes.Equal(res[0].GetData(), data) {
		t.Fatalf("the primary's copy after the repair: %v", err)
	}
	pgCmd := func(cmd pb.PGCmd) *pb.PGCommandReply {
		t.Helper()
		m, _ := r.place("big")
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		crep, err := r.conn(m.OSDs[pl.ActingPrimary].Addr).PGCommand(ctx, &pb.PGCommandRequest{Pool: pgid.Pool, Ps: pgid.PS, Epoch: m.Epoch, Cmd: cmd, Wait: true})
		if err != nil || crep.GetResult() != pb.Result_OK {
			t.Fatalf("%v: %v %v %s", cmd, err, crep.GetResult(), crep.GetMessage())
		}
		return crep
	}
	if crep := pgCmd(pb.PGCmd_PG_CMD_DEEP_SCRUB); crep.GetScrubErrors() != 0 {
		t.Fatalf("deep scrub after the repair: %d errors: %v", crep.GetScrubErrors(), crep.GetInconsistent())
	}

	// The same damage on a replica, which no read reaches: the deep
	// scrub finds the object unreadable there, and repair fixes it.
	repl := c.OSDByID(pl.Acting[1])
	c.StopOSD(repl.Index)
	tables, err = store.Tables(storeOpts(c, repl), pgid, "big", "object")
	if err != nil || len(tables) == 0 {
		t.Fatalf("the object's sstables on the replica: %v %v", tables, err)
	}
	flipFiles(t, tables, rand.New(rand.NewPCG(5, 6)), 4)
	c.StartOSD(repl.Index)
	c.WaitClean(time.Minute)
	if cause := repl.Current().Store().FailCause(); cause != nil {
		t.Logf("a compaction on the replica met the damage before the scrub: %v", cause)
		return
	}
	crep := pgCmd(pb.PGCmd_PG_CMD_DEEP_SCRUB)
	if crep.GetScrubErrors() != 1 || len(crep.GetInconsistent()) != 1 || crep.GetInconsistent()[0].GetOid() != "big" ||
		!slices.Contains(crep.GetInconsistent()[0].GetBadOsds(), repl.Config.ID) {
		t.Fatalf("deep scrub of the damaged replica: %d errors: %v", crep.GetScrubErrors(), crep.GetInconsistent())
	}
	t.Logf("deep scrub: %v", crep.GetInconsistent()[0].GetErrors())
	pgCmd(pb.PGCmd_PG_CMD_REPAIR)
	if crep := pgCmd(pb.PGCmd_PG_CMD_DEEP_SCRUB); crep.GetScrubErrors() != 0 {
		t.Fatalf("deep scrub after the repair of the replica: %d errors: %v", crep.GetScrubErrors(), crep.GetInconsistent())
	}
	_, res, err = repl.Current().Store().Prepare(pgid, "big", []*pb.OpStep{readStep()}, nil, time.Now())
	if err != nil || !bytes.Equal(res[0].GetData(), data) {
		t.Fatalf("the replica's copy after the repair: %v", err)
	}
}

// TestCorruptStoreGoesDown: with bits flipped in every sstable of one
// OSD, the OSD either cannot open its store or meets the damage when a
// scrub walks its PGs; either way it is marked down with a reason that
// says its store is corrupt (health shows it), it leaves a marker that
// keeps it from starting again, a waited scrub of a PG it was in does
// not answer "0 errors", and every object still reads back from the
// other copies.
func TestCorruptStoreGoesDown(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{OSDs: 3, Pool: "data", PGNum: 8,
		HeartbeatInterval: 200 * time.Millisecond, HeartbeatGrace: 2 * time.Second,
		OSD: func(_ int, cfg *osd.Config) { cfg.StatsInterval = 300 * time.Millisecond }})
	r := newRaw(t, c)
	want := map[string][]byte{}
	write := func(from, to int) {
		for i := from; i < to; i++ {
			oid := fmt.Sprintf("o%02d", i)
			want[oid] = bytes.Repeat([]byte(oid), 50+i*300)
			if rep := r.op(oid, 0, writeFull(want[oid])); rep.GetResult() != pb.Result_OK {
				t.Fatalf("write %s: %v %s", oid, rep.GetResult(), rep.GetMessage())
			}
		}
	}
	victim := c.OSDs[1]
	id := victim.Config.ID
	// The first writes, with the store's format key, go to sstables the
	// test leaves whole (the store opens); the damage is in the tables
	// of the later writes: objects, logs and PG infos.
	write(0, 40)
	c.StopOSD(victim.Index)
	whole, err := store.Tables(storeOpts(c, victim), store.PGID{}, "", "all")
	if err != nil {
		t.Fatal(err)
	}
	c.StartOSD(victim.Index)
	c.WaitClean(time.Minute)
	write(40, 80)
	c.StopOSD(victim.Index)
	all, err := store.Tables(storeOpts(c, victim), store.PGID{}, "", "all")
	if err != nil {
		t.Fatal(err)
	}
	var later []string
	for _, f := range all {
		if !slices.Contains(whole, f) {
			later = append(later, f)
		}
	}
	if len(later) == 0 {
		t.Fatalf("no sstable holds only the later writes: %v then %v", whole, all)
	}
	flipFiles(t, later, rand.New(rand.NewPCG(3, 4)), 16)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- osd.Serve(ctx, victim.Config, nil) }()
	// If it came up, scrub every PG: the walk of its damaged index must
	// take it down, and the scrubs of its PGs must not say "0 errors".
	m := c.WaitActive(time.Minute)
	pool, err := m.PoolByName("data")
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	select {
	case serr = <-served:
		t.Logf("the OSD stopped at once: %v", serr)
	case <-time.After(5 * time.Second):
		m = c.WaitActive(time.Minute)
		failedScrubs := 0
		for ps := range pool.PGNum {
			pl, _ := m.Place(clustermap.PGID{Pool: pool.ID, Seed: ps})
			sctx, scancel := context.WithTimeout(ctx, 30*time.Second)
			crep, err := r.conn(m.OSDs[pl.ActingPrimary].Addr).PGCommand(sctx, &pb.PGCommandRequest{Pool: pool.ID, Ps: ps, Epoch: m.Epoch,
				Cmd: pb.PGCmd_PG_CMD_DEEP_SCRUB, Wait: true})
			scancel()
			if err != nil || crep.GetResult() != pb.Result_OK || crep.GetScrubErrors() > 0 {
				failedScrubs++
			}
		}
		t.Logf("%d of %d waited deep scrubs failed or found errors", failedScrubs, pool.PGNum)
		select {
		case serr = <-served:
		case <-time.After(time.Minute):
			t.Fatal("the OSD with a damaged store still runs after every PG was scrubbed")
		}
		if failedScrubs == 0 {
			t.Error("every waited scrub answered clean though one member's store is damaged")
		}
	}
	if !errors.Is(serr, store.ErrCorrupt) {
		t.Fatalf("Serve returned %v, not corruption", serr)
	}
	// Marked down, with why.
	mon := c.Client("client.admin", 0)
	var reason string
	deadline := time.Now().Add(30 * time.Second)
	for {
		sctx, scancel := context.WithTimeout(ctx, 5*time.Second)
		st, err := mon.Status(sctx, &pb.StatusRequest{})
		scancel()
		if err == nil {
			for _, ch := range st.GetChecks() {
				if ch.GetCode() == "OSD_DOWN" {
					for _, d := range ch.GetDetail() {
						if strings.HasPrefix(d, fmt.Sprintf("osd.%d ", id)) {
							reason = d
						}
					}
				}
			}
		}
		if strings.Contains(reason, "corrupt") || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !strings.Contains(reason, "corrupt") {
		t.Fatalf("health does not say osd.%d is down for a corrupt store: %q", id, reason)
	}
	t.Logf("health: %s", reason)
	// It does not start again on its own: the marker stops it at once,
	// saying how to rebuild it.
	if _, err := os.Stat(osd.MarkerPath(victim.Dir)); err != nil {
		t.Errorf("no failure marker: %v", err)
	}
	err = osd.Serve(ctx, victim.Config, nil)
	if !errors.Is(err, osd.ErrStoreFailed) || !strings.Contains(err.Error(), "store.bad") {
		t.Errorf("a start after the failure: %v", err)
	}
	// Every object reads back from the others.
	for oid, d := range want {
		rep := r.op(oid, 0, readStep())
		if rep.GetResult() != pb.Result_OK || !bytes.Equal(rep.GetSteps()[0].GetData(), d) {
			t.Errorf("%s: %v %s", oid, rep.GetResult(), rep.GetMessage())
		}
	}
	// The check at teardown must not open the damaged store.
	if err := os.RemoveAll(filepath.Join(victim.Dir, "store")); err != nil {
		t.Fatal(err)
	}
}
