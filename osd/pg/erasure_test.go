package pg

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	pb "github.com/loligo/loligo/proto/loligopb"
)

// X is a hole in an erasure-coded set.
const X = NoOSD

// shardPeer is peer holding shard s, keeping rollback records for the
// entries after rb (nil: all of them).
func shardPeer(s int32, rb *pb.Eversion, keep int, writes ...w) Peer {
	p := peer(keep, writes...)
	p.Info.Shard = &s
	p.Info.RollbackTail = rb
	return p
}

func proto32(v int32) *int32 { return &v }

func osdsOf(ms []Member) (ids, shards []int32) {
	for _, m := range ms {
		ids, shards = append(ids, m.OSD), append(shards, m.Shard)
	}
	return ids, shards
}

func TestDecideErasure(t *testing.T) {
	last := &pb.ActiveInterval{Epoch: 5, Acting: []int32{0, 1, 2}}
	complete := func(keep int) map[int32]Peer {
		return map[int32]Peer{0: shardPeer(0, nil, keep, base...), 1: shardPeer(1, nil, keep, base...), 2: shardPeer(2, nil, keep, base...)}
	}
	with2 := func(ps map[int32]Peer, id int32, p Peer) map[int32]Peer {
		ps[id] = p
		return ps
	}
	// k=2, m=1 unless said otherwise; min_size k+1.
	ec := func(self int32, up, acting []int32, isUp func(int32) bool, last *pb.ActiveInterval, peers map[int32]Peer) Input {
		return Input{K: 2, Self: self, Up: up, Acting: acting, Size: 3, MinSize: 3, IsUp: isUp, LastActive: last, Peers: peers}
	}
	tests := []struct {
		name    string
		in      Input
		outcome Outcome
		check   func(t *testing.T, p Plan)
	}{{
		name:    "not the first OSD of acting: stray",
		in:      ec(2, []int32{X, 1, 2}, []int32{X, 1, 2}, allUp, nil, nil),
		outcome: Stray,
	}, {
		name:    "the first OSD after a hole is the primary; holes are never probed",
		in:      ec(1, []int32{X, 1, 3}, []int32{X, 1, 2}, upExcept(4), &pb.ActiveInterval{Epoch: 5, Acting: []int32{4, X, 2}}, nil),
		outcome: Probe,
		check: func(t *testing.T, p Plan) {
			if !slices.Equal(p.Probe, []int32{1, 2, 3}) {
				t.Errorf("probe %v, want [1 2 3]", p.Probe)
			}
		},
	}, {
		name: "a fresh PG activates with shards by position",
		in: ec(1, []int32{1, 2, 0}, []int32{1, 2, 0}, allUp, nil,
			map[int32]Peer{0: {}, 1: {Exists: true, Info: &pb.PGInfo{}}, 2: {}}),
		outcome: Activate,
		check: func(t *testing.T, p Plan) {
			ids, shards := osdsOf(p.Acting)
			if !slices.Equal(ids, []int32{1, 2, 0}) || !slices.Equal(shards, []int32{0, 1, 2}) || !p.Serve {
				t.Errorf("acting %v shards %v serve %v", ids, shards, p.Serve)
			}
			for _, m := range p.Acting {
				if m.Role != Complete {
					t.Errorf("osd.%d: %+v", m.OSD, m)
				}
			}
		},
	}, {
		name:    "all complete",
		in:      ec(0, []int32{0, 1, 2}, []int32{0, 1, 2}, allUp, last, complete(0)),
		outcome: Activate,
		check: func(t *testing.T, p Plan) {
			for i, m := range p.Acting {
				if m.Role != Complete || len(m.Missing) != 0 || m.Rollback || m.Shard != int32(i) {
					t.Errorf("osd.%d: %+v", m.OSD, m)
				}
			}
			if !p.Serve || len(p.Backfill) != 0 {
				t.Errorf("serve %v backfill %v", p.Serve, p.Backfill)
			}
		},
	}, {
		name: "a member behind recovers from the log",
		// osd.3 held shard 2 in epoch 7 and is down; osd.2 held it in
		// epoch 5.
		in: ec(0, []int32{0, 1, 2}, []int32{0, 1, 2}, upExcept(3), &pb.ActiveInterval{Epoch: 7, Acting: []int32{0, 1, 3}},
			map[int32]Peer{
				0: shardPeer(0, nil, 0, with(w{"d", 7, 5}, w{"b", 7, 6})...),
				1: shardPeer(1, nil, 0, with(w{"d", 7, 5}, w{"b", 7, 6})...),
				2: shardPeer(2, nil, 0, base...)}),
		outcome: Activate,
		check: func(t *testing.T, p Plan) {
			if m := p.Acting[2]; m.Role != LogRecovery || !slices.Equal(m.Missing, []string{"b", "d"}) || m.Rollback || m.Shard != 2 {
				t.Errorf("osd.2: %+v", m)
			}
		},
	}, {
		name: "a member ahead with an unacknowledged write rolls it back: the older copy is the authority",
		in: ec(0, []int32{0, 1, 2}, []int32{0, 1, 2}, allUp, last, with2(complete(0), 0,
			shardPeer(0, ev(5, 3), 0, with(w{"x", 5, 5})...))),
		outcome: Activate,
		check: func(t *testing.T, p Plan) {
			if p.Auth != 1 {
				t.Errorf("auth osd.%d, want osd.1 (oldest, lowest id)", p.Auth)
			}
			m := p.Acting[0]
			if !m.Rollback || m.Role != Complete || m.Divergent != 1 || len(m.Missing) != 0 || key(m.Common) != key(ev(5, 4)) {
				t.Errorf("osd.0: %+v", m)
			}
		},
	}, {
		// The primary's first write of an empty PG reached only itself,
		// after earlier attempts were rolled back: its versions skipped
		// theirs, so its log does not start at version 1.
		name: "a primary whose whole log is divergent rolls back to nothing when nothing limits its rollback",
		in: ec(0, []int32{0, 1, 2}, []int32{0, 1, 2}, allUp, last, map[int32]Peer{
			0: shardPeer(0, nil, 0, w{"a", 6, 3}),
			1: {Exists: true, Info: &pb.PGInfo{Shard: proto32(1)}}, 2: {Exists: true, Info: &pb.PGInfo{Shard: proto32(2)}}}),
		outcome: Activate,
		check: func(t *testing.T, p Plan) {
			if m := p.Acting[0]; !m.Rollback || m.Divergent != 1 || m.Common != nil || m.Role != Complete {
				t.Errorf("osd.0: %+v, want its one entry rolled back to nothing", m)
			}
		},
	}, {
		name: "the same log past its rollback tail cannot be undone: the primary's shard is backfilled",
		in: ec(0, []int32{0, 1, 2}, []int32{0, 1, 2}, allUp, last, map[int32]Peer{
			0: shardPeer(0, ev(6, 2), 0, w{"a", 6, 3}),
			1: {Exists: true, Info: &pb.PGInfo{Shard: proto32(1)}}, 2: {Exists: true, Info: &pb.PGInfo{Shard: proto32(2)}}}),
		outcome: WantTemp,
	}, {
		name: "a divergent member rolls back and recovers only the authority's objects",
		// osd.2 led epoch 7 with writes nobody else got.
		in: ec(0, []int32{0, 1, 2}, []int32{0, 1, 2}, upExcept(3), &pb.ActiveInterval{Epoch: 9, Acting: []int32{0, 1, 3}},
			map[int32]Peer{
				0: shardPeer(0, nil, 0, with(w{"e", 9, 5})...),
				1: shardPeer(1, nil, 0, with(w{"e", 9, 5})...),
				2: shardPeer(2, ev(5, 4), 0, with(w{"x", 7, 5}, w{"a", 7, 6})...)}),
		outcome: Activate,
		check: func(t *testing.T, p Plan) {
			m := p.Acting[2]
			if !m.Rollback || m.Role != LogRecovery || m.Divergent != 2 || !slices.Equal(m.Missing, []string{"e"}) || key(m.Common) != key(ev(5, 4)) {
				t.Errorf("osd.2: %+v (want rollback to 5.4, missing only e)", m)
			}
		},
	}, {
		name: "ahead but its rollback records are trimmed past the common entry: backfill, a hole meanwhile",
		in: ec(0, []int32{0, 1, 2}, []int32{0, 1, 2}, allUp, last, with2(complete(0), 2,
			shardPeer(2, ev(5, 5), 0, with(w{"x", 5, 5})...))),
		outcome: WantTemp,
		check: func(t *testing.T, p Plan) {
			if !slices.Equal(p.Temp, []int32{0, 1, X}) {
				t.Errorf("temp %v, want [0 1 NONE]", p.Temp)
			}
		},
	}, {
		name: "with the hole in acting the member backfills, below min_size",
		in: ec(0, []int32{0, 1, 2}, []int32{0, 1, X}, allUp, last, with2(complete(0), 2,
			shardPeer(2, ev(5, 5), 0, with(w{"x", 5, 5})...))),
		outcome: Activate,
		check: func(t *testing.T, p Plan) {
			if ids, _ := osdsOf(p.Acting); !slices.Equal(ids, []int32{0, 1}) {
				t.Errorf("acting %v", ids)
			}
			if len(p.Backfill) != 1 || !isBackfill(p.Backfill[0], 2, 2) {
				t.Errorf("backfill %+v", p.Backfill)
			}
			if p.Serve || p.Why == "" {
				t.Errorf("serve %v (%s), want false: 2 shards < min_size 3", p.Serve, p.Why)
			}
		},
	}, {
		name: "a copy of another shard at a position is backfilled there",
		// osd.3 holds shard 1 from an older interval; up puts it at 2.
		in:      ec(0, []int32{0, 1, 3}, []int32{0, 1, 3}, upExcept(2), last, with2(complete(0), 3, shardPeer(1, nil, 0, base...))),
		outcome: WantTemp,
		check: func(t *testing.T, p Plan) {
			if !slices.Equal(p.Temp, []int32{0, 1, X}) {
				t.Errorf("temp %v, want [0 1 NONE]", p.Temp)
			}
		},
	}, {
		name:    "shards swapped by up: one moves through a hole, K complete stay",
		in:      ec(0, []int32{0, 2, 1}, []int32{0, 2, 1}, allUp, last, complete(0)),
		outcome: WantTemp,
		check: func(t *testing.T, p Plan) {
			if !slices.Equal(p.Temp, []int32{0, 1, X}) {
				t.Errorf("temp %v, want [0 1 NONE]", p.Temp)
			}
		},
	}, {
		name:    "shards swapped, temp in place: the free one backfills",
		in:      ec(0, []int32{0, 2, 1}, []int32{0, 1, X}, allUp, last, complete(0)),
		outcome: Activate,
		check: func(t *testing.T, p Plan) {
			if len(p.Backfill) != 1 || !isBackfill(p.Backfill[0], 2, 1) {
				t.Errorf("backfill %+v, want osd.2 for shard 1 only (osd.1 still serves shard 1)", p.Backfill)
			}
		},
	}, {
		name:    "a hole in up stays a hole",
		in:      Input{K: 2, Self: 0, Up: []int32{0, X, 2}, Acting: []int32{0, X, 2}, Size: 3, MinSize: 2, IsUp: upExcept(1), LastActive: last, Peers: complete(0)},
		outcome: Activate,
		check: func(t *testing.T, p Plan) {
			ids, shards := osdsOf(p.Acting)
			if !slices.Equal(ids, []int32{0, 2}) || !slices.Equal(shards, []int32{0, 2}) || len(p.Backfill) != 0 || !p.Serve {
				t.Errorf("acting %v shards %v backfill %v serve %v", ids, shards, p.Backfill, p.Serve)
			}
		},
	}, {
		name:    "up needs a backfill: pg_temp keeps the old holder of the shard",
		in:      ec(0, []int32{0, 1, 3}, []int32{0, 1, 3}, allUp, last, with2(complete(2), 3, Peer{})),
		outcome: WantTemp,
		check: func(t *testing.T, p Plan) {
			if !slices.Equal(p.Temp, []int32{0, 1, 2}) {
				t.Errorf("temp %v, want [0 1 2]", p.Temp)
			}
		},
	}, {
		name:    "with the pg_temp in place the new member backfills",
		in:      ec(0, []int32{0, 1, 3}, []int32{0, 1, 2}, allUp, last, with2(complete(2), 3, Peer{})),
		outcome: Activate,
		check: func(t *testing.T, p Plan) {
			if len(p.Backfill) != 1 || !isBackfill(p.Backfill[0], 3, 2) || !p.Serve {
				t.Errorf("backfill %+v serve %v", p.Backfill, p.Serve)
			}
		},
	}, {
		name:    "backfill done: clear pg_temp",
		in:      ec(0, []int32{0, 1, 3}, []int32{0, 1, 2}, allUp, last, with2(complete(2), 3, shardPeer(2, nil, 2, base...))),
		outcome: WantTemp,
		check: func(t *testing.T, p Plan) {
			if len(p.Temp) != 0 {
				t.Errorf("temp %v, want cleared", p.Temp)
			}
		},
	}, {
		name: "new members recovering from the log: K complete shards stay in acting",
		in: ec(0, []int32{0, 3, 4}, []int32{0, 3, 4}, allUp, last,
			with2(with2(complete(0), 3, Peer{}), 4, Peer{})),
		outcome: WantTemp,
		check: func(t *testing.T, p Plan) {
			if !slices.Equal(p.Temp, []int32{0, 1, 4}) {
				t.Errorf("temp %v, want [0 1 4]: osd.0 alone cannot rebuild what 3 and 4 lack", p.Temp)
			}
		},
	}, {
		name:    "fewer than K shards: incomplete, naming the OSDs to start",
		in:      ec(0, []int32{0, 3, 4}, []int32{0, 3, 4}, upExcept(1, 2), last, map[int32]Peer{0: shardPeer(0, nil, 0, base...), 3: {}, 4: {}}),
		outcome: Incomplete,
		check: func(t *testing.T, p Plan) {
			for _, s := range []string{"shard 0 on osd.0", "k=2", "start osd.1, osd.2"} {
				if !strings.Contains(p.Why, s) {
					t.Errorf("why %q lacks %q", p.Why, s)
				}
			}
		},
	}, {
		name:    "no member of the last active interval: incomplete",
		in:      ec(3, []int32{3, 4, 5}, []int32{3, 4, 5}, upExcept(0, 1, 2), last, map[int32]Peer{3: {}, 4: {}, 5: {}}),
		outcome: Incomplete,
		check: func(t *testing.T, p Plan) {
			if !strings.Contains(p.Why, "start osd.0, osd.1, osd.2") {
				t.Errorf("why %q", p.Why)
			}
		},
	}, {
		name: "a member of the last active interval holding another shard is no candidate",
		in: ec(0, []int32{0, 1, 2}, []int32{0, 1, 2}, allUp, last, map[int32]Peer{
			0: shardPeer(0, nil, 0, with(w{"x", 5, 5})...), 1: shardPeer(1, nil, 0, with(w{"x", 5, 5})...),
			2: shardPeer(0, nil, 0, base...)}),
		outcome: WantTemp,
		check: func(t *testing.T, p Plan) {
			if p.Auth != 0 || !slices.Equal(p.Temp, []int32{0, 1, X}) {
				t.Errorf("auth osd.%d temp %v, want osd.0 and [0 1 NONE]", p.Auth, p.Temp)
			}
		},
	}, {
		name: "a copy flagged incomplete is no source",
		in: ec(0, []int32{0, 1, 3}, []int32{0, 1, 3}, upExcept(2), last, map[int32]Peer{
			0: shardPeer(0, nil, 0, base...), 1: func() Peer { p := shardPeer(1, nil, 0, base...); p.Info.Incomplete = true; return p }(),
			3: {}}),
		outcome: Incomplete,
	}, {
		name:    "below min_size the PG recovers without serving",
		in:      ec(0, []int32{0, 1, X}, []int32{0, 1, X}, upExcept(2), last, map[int32]Peer{0: shardPeer(0, nil, 0, base...), 1: shardPeer(1, nil, 0, base...)}),
		outcome: Activate,
		check: func(t *testing.T, p Plan) {
			if p.Serve || !strings.Contains(p.Why, "min_size 3") {
				t.Errorf("serve %v why %q", p.Serve, p.Why)
			}
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := Decide(tc.in)
			if p.Outcome != tc.outcome {
				t.Fatalf("outcome %v (%s), want %v", p.Outcome, p.Why, tc.outcome)
			}
			if tc.check != nil {
				tc.check(t, p)
			}
		})
	}
}

// TestDecideErasureRandom replays random erasure-coded histories: k+m
// shards; writes applied in order by each member of the last active
// interval, acknowledged only once on all of them, the newest ones (after
// a crash) on some; rollback records kept after a trim point that never
// passes an unacknowledged write; strays holding shards of an older
// interval, some with writes never acknowledged; some OSDs down, random up
// and acting sets. Whatever the plan, after following its pg_temps:
// (a) the authority holds every acknowledged write; (b) after the plan
// (rollback, then recovery or backfill) every member equals the
// authority; (c) an activating plan has K complete shards in acting,
// holding every object at the authority's version; (d) nobody rolls back
// past its rollback tail; (e) it is incomplete only when fewer than K
// shards could be read.
func TestDecideErasureRandom(t *testing.T) {
	seen := map[string]int{}
	for seed := uint64(1); seed <= 300; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { erasureCase(t, seed, seen) })
	}
	t.Logf("decisions: %v", seen)
	// The histories must reach every kind of decision.
	for _, s := range []string{"activate", "incomplete", "want_temp", "rollback", "rollback-impossible", "log_recovery", "backfill", "no-serve"} {
		if seen[s] == 0 {
			t.Errorf("no history led to %s: %v", s, seen)
		}
	}
}

type ecCopy struct {
	writes []w
	rb     int // rollback records for writes after the rb-th
}

func erasureCase(t *testing.T, seed uint64, seen map[string]int) {
	r := rand.New(rand.NewPCG(seed, 11))
	k := 2 + r.IntN(3)
	m := 1 + r.IntN(2)
	size := k + m
	minSize := k + r.IntN(m+1)
	nOSD := size + 3

	// The history: h0 writes of an older interval (epoch 3), then epoch
	// 5's, the last active interval's; acked of them acknowledged.
	h0 := r.IntN(3)
	n := h0 + 1 + r.IntN(5)
	var hist []w
	for v := 1; v <= n; v++ {
		e := uint64(5)
		if v <= h0 {
			e = 3
		}
		hist = append(hist, w{fmt.Sprintf("o%d", r.IntN(4)), e, uint64(v)})
	}
	acked := max(h0, n-r.IntN(3))

	perm := r.Perm(nOSD)
	last := make([]int32, size)
	for i := range last {
		last[i] = int32(perm[i])
	}
	if size-1 >= minSize && r.IntN(4) == 0 {
		last[r.IntN(size)] = X
	}
	down := map[int32]bool{}
	copies := map[int32]ecCopy{}
	peers := map[int32]Peer{}
	// build a copy of shard s (-1: none) with rollback records after rb
	// and a log reaching back to the rb-th write at least.
	build := func(id int32, s int, ws []w, rb int) {
		copies[id] = ecCopy{ws, rb}
		start := 1
		if rb > 0 {
			start = 1 + r.IntN(rb)
		}
		p := peer(max(len(ws)-start+1, 0), ws...)
		if s >= 0 {
			p.Info.Shard = new(int32(s))
		}
		if rb > 0 {
			p.Info.RollbackTail = ev(ws[rb-1].e, ws[rb-1].v)
		}
		peers[id] = p
	}
	for i, id := range last {
		if id == X {
			continue
		}
		applied := acked + r.IntN(n-acked+1)
		s := i
		if r.IntN(8) == 0 {
			// Backfilled for another position in a later interval
			// that never served (so never recorded).
			s = (i + 1 + r.IntN(size-1)) % size
		}
		build(id, s, slices.Clone(hist[:applied]), r.IntN(min(acked, applied)+1))
		down[id] = r.IntN(5) == 0
	}
	for id := range int32(nOSD) {
		if slices.Contains(last, id) {
			continue
		}
		down[id] = r.IntN(5) == 0
		if r.IntN(2) == 0 {
			continue // no copy
		}
		s := r.IntN(size + 1)
		var ws []w
		if s < size {
			ws = slices.Clone(hist[:r.IntN(h0+1)])
			if r.IntN(3) == 0 { // writes of an epoch-4 interval nobody acknowledged
				for j := range 1 + r.IntN(2) {
					ws = append(ws, w{fmt.Sprintf("o%d", r.IntN(4)), 4, uint64(len(ws) + j + 1)})
				}
			}
		} else {
			s = -1 // an empty copy without a shard
		}
		build(id, s, ws, r.IntN(len(ws)+1))
	}
	for id := range int32(nOSD) {
		if down[id] {
			delete(peers, id)
		} else if _, ok := peers[id]; !ok {
			peers[id] = Peer{}
		}
	}
	isUp := func(id int32) bool { return id >= 0 && id < int32(nOSD) && !down[id] }

	// Up: mostly the last active interval's members at their places.
	up := make([]int32, size)
	for i := range up {
		up[i] = X
		switch x := r.IntN(10); {
		case x < 6 && isUp(last[i]) && !slices.Contains(up, last[i]):
			up[i] = last[i]
		case x < 9:
			for range 5 {
				if id := int32(r.IntN(nOSD)); isUp(id) && !slices.Contains(up, id) {
					up[i] = id
					break
				}
			}
		}
	}
	if firstOSD(up) == X {
		for id := range int32(nOSD) {
			if isUp(id) {
				up[0] = id
				break
			}
		}
	}
	if firstOSD(up) == X {
		return // everyone is down
	}
	acting := up
	if r.IntN(3) == 0 { // a pg_temp kept the last active interval
		acting = slices.Clone(last)
		for i, id := range acting {
			if !isUp(id) {
				acting[i] = X
			}
		}
		if firstOSD(acting) == X {
			acting = up
		}
	}

	in := Input{K: k, Self: firstOSD(acting), Up: up, Acting: acting, Size: size, MinSize: minSize, IsUp: isUp,
		LastActive: &pb.ActiveInterval{Epoch: 5, Acting: last}, Peers: peers}
	describe := func() string {
		var b strings.Builder
		fmt.Fprintf(&b, "k=%d m=%d min_size=%d hist %v acked %d\nlast %v up %v acting %v down %v\n", k, m, minSize, hist, acked, last, in.Up, in.Acting, down)
		for _, id := range slices.Sorted(maps.Keys(copies)) {
			c := copies[id]
			fmt.Fprintf(&b, "  osd.%d shard %d writes %v rb %d log %v\n", id, heldShard(peers[id]), c.writes, c.rb, len(peers[id].Log))
		}
		return b.String()
	}
	p := Decide(in)
	for round := 0; p.Outcome == WantTemp; round++ {
		seen["want_temp"]++
		if round == 4 {
			t.Fatalf("pg_temp does not settle: %s\n%s", p.Why, describe())
		}
		if p.Temp == nil {
			in.Acting = in.Up
		} else {
			if len(p.Temp) != size || firstOSD(p.Temp) == X {
				t.Fatalf("temp %v\n%s", p.Temp, describe())
			}
			in.Acting = p.Temp
		}
		in.Self = firstOSD(in.Acting)
		p = Decide(in)
		if p.Outcome == Incomplete {
			t.Fatalf("incomplete after a pg_temp: %s\n%s", p.Why, describe())
		}
	}
	seen[p.Outcome.String()]++

	// What could serve: the oldest state every up member of the last
	// active interval holds, and the shards up copies can be brought to
	// it from their logs and rollback records.
	lstar := -1
	for i, id := range last {
		if isUp(id) && heldShard(peers[id]) == int32(i) {
			if a := len(copies[id].writes); lstar < 0 || a < lstar {
				lstar = a
			}
		}
	}
	probed := map[int32]bool{}
	for _, id := range slices.Concat(in.Acting, in.Up, last) {
		if isUp(id) {
			probed[id] = true
		}
	}
	canServe := map[int32]bool{}
	for id := range probed {
		c, ok := copies[id]
		s := heldShard(peers[id])
		if !ok || s < 0 || lstar < 0 || len(c.writes) < lstar || !slices.Equal(c.writes[:lstar], hist[:lstar]) {
			continue
		}
		if len(c.writes) == lstar || c.rb <= lstar {
			canServe[s] = true
		}
	}
	if p.Outcome == Incomplete {
		if len(canServe) >= k {
			t.Fatalf("incomplete (%s) but shards %v could serve state %d\n%s", p.Why, slices.Sorted(maps.Keys(canServe)), lstar, describe())
		}
		return
	}
	if p.Outcome != Activate {
		t.Fatalf("outcome %v: %s\n%s", p.Outcome, p.Why, describe())
	}

	// (a) Every acknowledged write is in the authority's history.
	authW := copies[p.Auth].writes
	if len(authW) < acked || !slices.Equal(authW[:acked], hist[:acked]) {
		t.Fatalf("authority osd.%d %v lost acknowledged writes %v\n%s", p.Auth, authW, hist[:acked], describe())
	}
	state := func(ws []w) map[string]uint64 {
		s := map[string]uint64{}
		for _, e := range ws {
			s[e.oid] = e.v
		}
		return s
	}
	auth := state(authW)

	// (b), (d): apply the plan to every member.
	if p.Serve != (len(p.Acting) >= minSize) {
		t.Fatalf("serve %v with %d shards, min_size %d", p.Serve, len(p.Acting), minSize)
	}
	if !p.Serve {
		seen["no-serve"]++
	}
	holders := map[string]map[int32]bool{}
	for oid := range auth {
		holders[oid] = map[int32]bool{}
	}
	for j, mem := range append(slices.Clone(p.Acting), p.Backfill...) {
		seen[mem.Role.String()]++
		inActing := j < len(p.Acting)
		if inActing && in.Acting[mem.Shard] != mem.OSD || !inActing && in.Up[mem.Shard] != mem.OSD {
			t.Fatalf("osd.%d planned for shard %d of acting %v / up %v", mem.OSD, mem.Shard, in.Acting, in.Up)
		}
		if inActing && mem.Role == Backfill {
			t.Fatalf("osd.%d in acting must be backfilled: %+v\n%s", mem.OSD, mem, describe())
		}
		c := copies[mem.OSD]
		var got map[string]uint64
		if mem.Role == Backfill {
			if mem.Rollback {
				t.Fatalf("osd.%d: rollback and backfill", mem.OSD)
			}
			if heldShard(peers[mem.OSD]) == mem.Shard && !isPrefix(c.writes, authW) {
				seen["rollback-impossible"]++ // (or a log too short to tell)
			}
			got = maps.Clone(auth)
		} else {
			if s := heldShard(peers[mem.OSD]); s != mem.Shard && !(s < 0 && len(c.writes) == 0) {
				t.Fatalf("osd.%d holds shard %d, kept for shard %d\n%s", mem.OSD, s, mem.Shard, describe())
			}
			ws := c.writes
			if mem.Divergent > 0 && !mem.Rollback {
				t.Fatalf("osd.%d: %d divergent entries and no rollback", mem.OSD, mem.Divergent)
			}
			if mem.Rollback {
				seen["rollback"]++
				cut := 0
				if mem.Common != nil {
					cut = slices.IndexFunc(ws, func(x w) bool { return key(ev(x.e, x.v)) == key(mem.Common) }) + 1
					if cut == 0 {
						t.Fatalf("osd.%d rolls back to %v it never had", mem.OSD, mem.Common)
					}
				}
				if len(ws)-cut != mem.Divergent {
					t.Fatalf("osd.%d rolls back %d entries, divergent %d", mem.OSD, len(ws)-cut, mem.Divergent)
				}
				if cut < c.rb {
					t.Fatalf("osd.%d rolls back to its %d-th write, past its rollback tail %d\n%s", mem.OSD, cut, c.rb, describe())
				}
				ws = ws[:cut]
			}
			got = state(ws)
			for _, oid := range mem.Missing {
				if v, ok := auth[oid]; ok {
					got[oid] = v
				} else {
					delete(got, oid)
				}
			}
		}
		if !maps.Equal(got, auth) {
			t.Fatalf("osd.%d (%+v) ends with %v, the authority osd.%d has %v\n%s", mem.OSD, mem, got, p.Auth, auth, describe())
		}
		// (c) The complete shards of acting hold every object.
		if inActing && mem.Role == Complete {
			for oid, v := range state(c.writes[:len(c.writes)-mem.Divergent]) {
				if auth[oid] == v {
					holders[oid][mem.Shard] = true
				}
			}
			for oid := range auth {
				if _, ok := state(c.writes[:len(c.writes)-mem.Divergent])[oid]; !ok {
					t.Fatalf("complete osd.%d lacks %s", mem.OSD, oid)
				}
			}
		}
	}
	complete := map[int32]bool{}
	for _, mem := range p.Acting {
		if mem.Role == Complete {
			complete[mem.Shard] = true
		}
	}
	if len(complete) < k {
		t.Fatalf("activates with %d complete shards in acting, k=%d\n%s", len(complete), k, describe())
	}
	for oid, hs := range holders {
		if len(hs) < k {
			t.Fatalf("%s at %d is on shards %v only, k=%d\n%s", oid, auth[oid], hs, k, describe())
		}
	}
}

func isPrefix(a, b []w) bool { return len(a) <= len(b) && slices.Equal(a, b[:len(a)]) }

func isBackfill(m Member, id, shard int32) bool {
	return m.OSD == id && m.Role == Backfill && m.Shard == shard && len(m.Missing) == 0 && !m.Rollback
}
