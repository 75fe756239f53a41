package clustermap

import (
	"errors"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/loligo/loligo/crush"
)

// mutate makes one random change of the kinds the monitor makes.
func mutate(t *testing.T, r *rand.Rand, m *Map, otherCrush **crush.Map) {
	t.Helper()
	osd := func() int32 { return int32(r.IntN(int(m.OSDLimit()) + 2)) }
	switch r.IntN(14) {
	case 0:
		if o, ok := m.OSDs[osd()]; ok {
			o.Up = !o.Up
			o.DownStamp = time.Unix(int64(r.IntN(1e6)), 0).UTC()
			o.DownReason = []string{"", "restarted", "no beacon for 20s"}[r.IntN(3)]
		}
	case 1:
		if o, ok := m.OSDs[osd()]; ok {
			o.Weight = uint32(r.IntN(crush.WeightOne + 1))
			o.AutoOut = r.IntN(2) == 0
		}
	case 2:
		id := osd()
		m.OSDs[id] = &OSD{ID: id, Up: r.IntN(2) == 0, Weight: crush.WeightOne, PrimaryAffinity: crush.WeightOne,
			Addr: "127.0.0.1:6800", UpFrom: m.Epoch}
	case 3:
		delete(m.OSDs, osd())
	case 4:
		m.PoolMax++
		m.Pools[m.PoolMax] = &Pool{ID: m.PoolMax, Name: "p" + string(rune('a'+r.IntN(26))) + string(rune('a'+r.IntN(26))),
			Type: PoolReplicated, Size: 3, MinSize: 2, PGNum: 8, PGPNum: 8, Flags: FlagHashPSPool}
		if _, err := m.PoolByName(m.Pools[m.PoolMax].Name); err == nil {
			delete(m.Pools, m.PoolMax)
		}
	case 5:
		for id := range m.Pools {
			if r.IntN(3) == 0 {
				delete(m.Pools, id)
			}
		}
	case 6:
		if m.PGTemp == nil {
			m.PGTemp = map[PGID][]int32{}
		}
		pg := PGID{Pool: 1, Seed: uint32(r.IntN(16))}
		if _, ok := m.PGTemp[pg]; ok {
			delete(m.PGTemp, pg)
		} else {
			m.PGTemp[pg] = []int32{osd(), osd()}
		}
	case 7:
		if m.PrimaryTemp == nil {
			m.PrimaryTemp = map[PGID]int32{}
		}
		pg := PGID{Pool: 1, Seed: uint32(r.IntN(16))}
		if _, ok := m.PrimaryTemp[pg]; ok {
			delete(m.PrimaryTemp, pg)
		} else {
			m.PrimaryTemp[pg] = osd()
		}
	case 8:
		m.Flags ^= FlagNoOut
	case 9:
		if m.ECProfiles == nil {
			m.ECProfiles = map[string]map[string]string{}
		}
		name := "ec" + string(rune('a'+r.IntN(3)))
		if _, ok := m.ECProfiles[name]; ok && r.IntN(2) == 0 {
			delete(m.ECProfiles, name)
		} else {
			m.ECProfiles[name] = map[string]string{"k": "2", "m": string(rune('1' + r.IntN(3)))}
		}
	case 10:
		m.Crush, *otherCrush = *otherCrush, m.Crush
	case 12:
		if o, ok := m.OSDs[osd()]; ok {
			o.Incarnation = r.Uint64()
			o.UpStamp = time.Unix(int64(r.IntN(1e6)), 0).UTC()
			o.Fullness = Fullness(r.IntN(4))
		}
	case 13:
		switch r.IntN(3) {
		case 0:
			m.Ratios.NearFull = 0.5 + r.Float64()/4
		case 1:
			m.Ratios.BackfillFull = 0.75 + r.Float64()/8
		default:
			m.Ratios.Full = 0.875 + r.Float64()/8
		}
	case 11:
		if m.PGUpmapItems == nil {
			m.PGUpmapItems = map[PGID][][2]int32{}
		}
		pg := PGID{Pool: 1, Seed: uint32(r.IntN(16))}
		if _, ok := m.PGUpmapItems[pg]; ok {
			delete(m.PGUpmapItems, pg)
		} else {
			m.PGUpmapItems[pg] = [][2]int32{{osd(), osd()}}
		}
	}
}

// TestIncrementalRoundTrip: for random chains of changes, applying the
// diff of two consecutive epochs to the first gives exactly the second,
// and every epoch's incremental is small when the change is.
func TestIncrementalRoundTrip(t *testing.T) {
	src, err := os.ReadFile("../crush/testdata/maps/m01_flat_straw2.txt")
	if err != nil {
		t.Fatal(err)
	}
	other, err := crush.Compile(string(src))
	if err != nil {
		t.Fatal(err)
	}
	for seed := uint64(1); seed <= 20; seed++ {
		r := rand.New(rand.NewPCG(seed, 7))
		cur := om48(t)
		cur.FSID = "f"
		cur.PoolMax = 1
		for range 30 {
			next := cur.Clone()
			next.Epoch++
			next.Modified = time.Unix(int64(next.Epoch), 0).UTC()
			for range 1 + r.IntN(3) {
				mutate(t, r, next, &other)
			}
			if err := next.Finalize(); err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
			inc := Diff(cur, next)
			got, err := Apply(cur, inc)
			if err != nil {
				t.Fatalf("seed %d epoch %d: apply: %v", seed, next.Epoch, err)
			}
			if !proto.Equal(got.ToProto(), next.ToProto()) {
				t.Fatalf("seed %d epoch %d: Apply(Diff) differs from the new map\ninc: %v", seed, next.Epoch, inc)
			}
			if inc.NewCrush != nil && proto.Equal(CrushToProto(cur.Crush), CrushToProto(next.Crush)) {
				t.Fatalf("seed %d: incremental carries an unchanged CRUSH map", seed)
			}
			// The old map must be untouched by Clone and Apply.
			if cur.Epoch != next.Epoch-1 {
				t.Fatalf("old map changed epoch to %d", cur.Epoch)
			}
			cur = got
		}
	}
}

func TestIncrementalUnchangedIsEmpty(t *testing.T) {
	m := om48(t)
	next := m.Clone()
	next.Epoch++
	if err := next.Finalize(); err != nil {
		t.Fatal(err)
	}
	inc := Diff(m, next)
	if inc.NewCrush != nil || len(inc.NewOsds) != 0 || len(inc.NewPools) != 0 || inc.NewFlags != nil {
		t.Fatalf("no change, but incremental %v", inc)
	}
	if got := proto.Size(inc); got > 16 {
		t.Fatalf("empty incremental is %d bytes", got)
	}
}

func TestApplyRejectsWrongEpochOrCluster(t *testing.T) {
	m := om48(t)
	m.FSID = "a"
	next := m.Clone()
	next.Epoch += 2
	if err := next.Finalize(); err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(m, Diff(m, next)); !errors.Is(err, ErrEpoch) {
		t.Fatalf("skipping an epoch: err %v, want ErrEpoch", err)
	}
	next.Epoch = m.Epoch + 1
	next.FSID = "b"
	if err := next.Finalize(); err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(m, Diff(m, next)); !errors.Is(err, ErrEpoch) {
		t.Fatalf("other cluster: err %v, want ErrEpoch", err)
	}
}

// TestCompareOut: marking one OSD out moves exactly the PGs it held, and
// only onto other OSDs; marking it down (not out) of an erasure pool
// leaves holes, counted as degraded.
func TestCompareOut(t *testing.T) {
	m := erasureMap(t)
	held := 0
	for _, id := range m.PoolIDs() {
		for s := uint32(0); s < m.Pools[id].PGNum; s++ {
			pl, _ := m.Place(PGID{Pool: id, Seed: s})
			for _, o := range pl.Up {
				if o == 5 {
					held++
				}
			}
		}
	}
	next := m.Clone()
	next.OSDs[5].Weight = 0
	if err := next.Finalize(); err != nil {
		t.Fatal(err)
	}
	mv := Compare(m, next)
	if mv.Lost[5] != held || len(mv.Lost) != 1 {
		t.Fatalf("lost %v, want only osd.5 losing %d", mv.Lost, held)
	}
	sum := 0
	for o, n := range mv.Gained {
		if o == 5 {
			t.Fatal("osd.5 gained PGs while going out")
		}
		sum += n
	}
	if sum != held || mv.Moved != held || mv.Degraded != 0 {
		t.Fatalf("gained %d, moved %d, degraded %d; want %d, %d, 0", sum, mv.Moved, mv.Degraded, held, held)
	}
	if mv.PGs != 3072+64 {
		t.Fatalf("compared %d PGs", mv.PGs)
	}

	down := m.Clone()
	down.OSDs[5].Up = false
	if err := down.Finalize(); err != nil {
		t.Fatal(err)
	}
	mv = Compare(m, down)
	if mv.Degraded == 0 || mv.Lost[5] != held {
		t.Fatalf("osd.5 down: degraded %d lost %d; want >0 and %d", mv.Degraded, mv.Lost[5], held)
	}
	if same := Compare(m, m); same.Moved != 0 || same.Degraded != 0 {
		t.Fatalf("a map compared with itself moves %d PGs", same.Moved)
	}
}
