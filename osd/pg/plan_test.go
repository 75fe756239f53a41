package pg

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	pb "github.com/loligo/loligo/proto/loligopb"
)

func ev(e, v uint64) *pb.Eversion { return &pb.Eversion{Epoch: e, Version: v} }

// hist builds a peer from a log of "oid@epoch.v" writes, keeping the
// newest keep entries (0: all).
type w struct {
	oid  string
	e, v uint64
}

func peer(keep int, writes ...w) Peer {
	var log []*pb.LogEntry
	for _, x := range writes {
		log = append(log, &pb.LogEntry{Version: ev(x.e, x.v), Oid: x.oid, ObjectVersion: x.v})
	}
	info := &pb.PGInfo{}
	if len(log) > 0 {
		info.LastUpdate = log[len(log)-1].GetVersion()
	}
	if keep > 0 && len(log) > keep {
		log = log[len(log)-keep:]
	}
	if len(log) > 0 {
		info.LogTail = log[0].GetVersion()
	}
	fullHistory[info] = writes
	return Peer{Exists: true, Info: info, Log: log}
}

func allUp(int32) bool { return true }

func upExcept(down ...int32) func(int32) bool {
	return func(id int32) bool { return !slices.Contains(down, id) }
}

var base = []w{{"a", 5, 1}, {"b", 5, 2}, {"c", 5, 3}, {"a", 5, 4}}

func with(extra ...w) []w { return append(slices.Clone(base), extra...) }

func TestDecide(t *testing.T) {
	last := &pb.ActiveInterval{Epoch: 5, Acting: []int32{0, 1, 2}}
	tests := []struct {
		name    string
		in      Input
		outcome Outcome
		check   func(t *testing.T, p Plan)
	}{{
		name:    "not primary",
		in:      Input{Self: 1, Acting: []int32{0, 1, 2}},
		outcome: Stray,
	}, {
		name: "probe what is missing, including down-free last members",
		in: Input{Self: 0, Up: []int32{0, 1, 3}, Acting: []int32{0, 1, 3}, Size: 3, MinSize: 2, IsUp: upExcept(2),
			LastActive: last, Peers: map[int32]Peer{0: peer(0, base...)}},
		outcome: Probe,
		check: func(t *testing.T, p Plan) {
			if !slices.Equal(p.Probe, []int32{1, 3}) {
				t.Errorf("probe %v, want [1 3] (2 is down)", p.Probe)
			}
		},
	}, {
		name: "all complete",
		in: Input{Self: 0, Up: []int32{0, 1, 2}, Acting: []int32{0, 1, 2}, Size: 3, MinSize: 2, IsUp: allUp, LastActive: last,
			Peers: map[int32]Peer{0: peer(0, base...), 1: peer(0, base...), 2: peer(0, base...)}},
		outcome: Activate,
		check: func(t *testing.T, p Plan) {
			for _, m := range p.Acting {
				if m.Role != Complete || len(m.Missing) != 0 {
					t.Errorf("osd.%d: %v missing %v", m.OSD, m.Role, m.Missing)
				}
			}
		},
	}, {
		name: "a member behind recovers from the log",
		in: Input{Self: 0, Up: []int32{0, 1, 2}, Acting: []int32{0, 1, 2}, Size: 3, MinSize: 2, IsUp: allUp, LastActive: last,
			Peers: map[int32]Peer{0: peer(0, with(w{"d", 7, 5}, w{"b", 7, 6})...), 1: peer(0, with(w{"d", 7, 5}, w{"b", 7, 6})...), 2: peer(0, base...)}},
		outcome: Activate,
		check: func(t *testing.T, p Plan) {
			m := p.Acting[2]
			if m.Role != LogRecovery || !slices.Equal(m.Missing, []string{"b", "d"}) || m.Divergent != 0 {
				t.Errorf("osd.2: %+v", m)
			}
		},
	}, {
		name: "the primary itself behind: the authority is another member",
		in: Input{Self: 2, Up: []int32{2, 0, 1}, Acting: []int32{2, 0, 1}, Size: 3, MinSize: 2, IsUp: allUp, LastActive: last,
			Peers: map[int32]Peer{0: peer(0, with(w{"d", 7, 5})...), 1: peer(0, with(w{"d", 7, 5})...), 2: peer(0, base...)}},
		outcome: Activate,
		check: func(t *testing.T, p Plan) {
			if p.Auth != 0 {
				t.Errorf("auth osd.%d, want osd.0 (lowest id among the newest)", p.Auth)
			}
			if m := p.Acting[0]; m.OSD != 2 || !slices.Equal(m.Missing, []string{"d"}) {
				t.Errorf("primary: %+v", m)
			}
		},
	}, {
		name: "divergent entries are rolled back",
		in: Input{Self: 0, Up: []int32{0, 1, 2}, Acting: []int32{0, 1, 2}, Size: 3, MinSize: 2, IsUp: allUp,
			LastActive: &pb.ActiveInterval{Epoch: 9, Acting: []int32{0, 1}},
			// osd.2 led epoch 7, applied v5 and v6 that nobody else got;
			// 0 and 1 went on in epoch 9 with their own v5.
			Peers: map[int32]Peer{0: peer(0, with(w{"e", 9, 5})...), 1: peer(0, with(w{"e", 9, 5})...), 2: peer(0, with(w{"x", 7, 5}, w{"y", 7, 6})...)}},
		outcome: Activate,
		check: func(t *testing.T, p Plan) {
			m := p.Acting[2]
			if m.Role != LogRecovery || m.Divergent != 2 || !slices.Equal(m.Missing, []string{"e", "x", "y"}) {
				t.Errorf("osd.2: %+v", m)
			}
			if key(m.Common) != key(ev(5, 4)) {
				t.Errorf("common %v, want 5.4", m.Common)
			}
		},
	}, {
		name: "a newer copy outside the last active interval does not win",
		in: Input{Self: 0, Up: []int32{0, 1, 2}, Acting: []int32{0, 1, 2}, Size: 3, MinSize: 2, IsUp: allUp,
			LastActive: &pb.ActiveInterval{Epoch: 5, Acting: []int32{0, 1}},
			Peers:      map[int32]Peer{0: peer(0, base...), 1: peer(0, base...), 2: peer(0, with(w{"z", 6, 5})...)}},
		outcome: Activate,
		check: func(t *testing.T, p Plan) {
			if p.Auth == 2 {
				t.Errorf("osd.2 became the authority with a write never acknowledged")
			}
			if m := p.Acting[2]; m.Divergent != 1 || !slices.Equal(m.Missing, []string{"z"}) {
				t.Errorf("osd.2: %+v", m)
			}
		},
	}, {
		name: "no member of the last active interval: incomplete",
		in: Input{Self: 3, Up: []int32{3, 4}, Acting: []int32{3, 4}, Size: 3, MinSize: 2, IsUp: upExcept(0, 1, 2), LastActive: last,
			Peers: map[int32]Peer{3: {}, 4: {}}},
		outcome: Incomplete,
	}, {
		name: "a trimmed log means backfill, and pg_temp keeps complete copies acting",
		in: Input{Self: 0, Up: []int32{0, 3, 1}, Acting: []int32{0, 3, 1}, Size: 3, MinSize: 2, IsUp: allUp, LastActive: last,
			Peers: map[int32]Peer{0: peer(2, base...), 1: peer(2, base...), 2: peer(2, base...), 3: {}}},
		outcome: WantTemp,
		check: func(t *testing.T, p Plan) {
			if !slices.Equal(p.Temp, []int32{0, 1, 2}) {
				t.Errorf("temp %v, want [0 1 2]", p.Temp)
			}
		},
	}, {
		name: "with the pg_temp in place the new member backfills",
		in: Input{Self: 0, Up: []int32{0, 3, 1}, Acting: []int32{0, 1, 2}, Size: 3, MinSize: 2, IsUp: allUp, LastActive: last,
			Peers: map[int32]Peer{0: peer(2, base...), 1: peer(2, base...), 2: peer(2, base...), 3: {}}},
		outcome: Activate,
		check: func(t *testing.T, p Plan) {
			if len(p.Backfill) != 1 || p.Backfill[0].OSD != 3 || p.Backfill[0].Role != Backfill {
				t.Errorf("backfill %+v", p.Backfill)
			}
		},
	}, {
		name: "backfill done: clear pg_temp",
		in: Input{Self: 0, Up: []int32{0, 3, 1}, Acting: []int32{0, 1, 2}, Size: 3, MinSize: 2, IsUp: allUp, LastActive: last,
			Peers: map[int32]Peer{0: peer(2, base...), 1: peer(2, base...), 2: peer(2, base...), 3: peer(2, base...)}},
		outcome: WantTemp,
		check: func(t *testing.T, p Plan) {
			if len(p.Temp) != 0 {
				t.Errorf("temp %v, want cleared", p.Temp)
			}
		},
	}, {
		name: "an empty new primary hands the PG to a complete member",
		in: Input{Self: 3, Up: []int32{3, 0, 1}, Acting: []int32{3, 0, 1}, Size: 3, MinSize: 2, IsUp: allUp, LastActive: last,
			Peers: map[int32]Peer{0: peer(2, base...), 1: peer(2, base...), 2: peer(2, base...), 3: {}}},
		outcome: WantTemp,
		check: func(t *testing.T, p Plan) {
			if !slices.Equal(p.Temp, []int32{0, 1, 2}) {
				t.Errorf("temp %v", p.Temp)
			}
		},
	}, {
		name: "one complete copy is below min_size: it recovers without serving",
		in: Input{Self: 0, Up: []int32{0, 3}, Acting: []int32{0}, Size: 3, MinSize: 2, IsUp: upExcept(1, 2),
			LastActive: last, Peers: map[int32]Peer{0: peer(2, base...), 3: {}}},
		outcome: Activate,
		check: func(t *testing.T, p Plan) {
			if p.Serve || len(p.Backfill) != 1 {
				t.Errorf("serve %v backfill %+v", p.Serve, p.Backfill)
			}
		},
	}, {
		name: "an up primary far behind hands the lead to the authority",
		in: Input{Self: 3, Up: []int32{3, 0, 1}, Acting: []int32{3, 0, 1}, Size: 3, MinSize: 2, IsUp: allUp, MaxPrimaryPull: 2,
			LastActive: &pb.ActiveInterval{Epoch: 5, Acting: []int32{0, 1, 2}},
			Peers:      map[int32]Peer{0: peer(0, base...), 1: peer(0, base...), 2: peer(0, base...), 3: {}}},
		outcome: WantTemp,
		check: func(t *testing.T, p Plan) {
			if !slices.Equal(p.Temp, []int32{0, 3, 1}) {
				t.Errorf("temp %v, want [0 3 1]: the authority leads, osd.3 recovers as a replica", p.Temp)
			}
		},
	}, {
		name: "an up primary a little behind leads and pulls",
		in: Input{Self: 3, Up: []int32{3, 0, 1}, Acting: []int32{3, 0, 1}, Size: 3, MinSize: 2, IsUp: allUp, MaxPrimaryPull: 3,
			LastActive: &pb.ActiveInterval{Epoch: 5, Acting: []int32{0, 1, 2}},
			Peers:      map[int32]Peer{0: peer(0, base...), 1: peer(0, base...), 2: peer(0, base...), 3: {}}},
		outcome: Activate,
	}, {
		name: "a fresh PG activates empty",
		in: Input{Self: 1, Up: []int32{1, 2, 0}, Acting: []int32{1, 2, 0}, Size: 3, MinSize: 2, IsUp: allUp,
			Peers: map[int32]Peer{0: {}, 1: {Exists: true, Info: &pb.PGInfo{}}, 2: {}}},
		outcome: Activate,
	}, {
		name: "a member with no log after the PG's first write recovers everything from the log",
		in: Input{Self: 0, Up: []int32{0, 1}, Acting: []int32{0, 1}, Size: 2, MinSize: 1, IsUp: allUp,
			LastActive: &pb.ActiveInterval{Epoch: 5, Acting: []int32{0}},
			Peers:      map[int32]Peer{0: peer(0, base...), 1: {}}},
		outcome: Activate,
		check: func(t *testing.T, p Plan) {
			if m := p.Acting[1]; m.Role != LogRecovery || !slices.Equal(m.Missing, []string{"a", "b", "c"}) {
				t.Errorf("osd.1: %+v", m)
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

// TestDecideRandom replays random histories: a PG whose members apply
// prefixes of one write sequence (acknowledged writes reach everyone of
// the interval), some with a divergent tail, with random log trimming.
// Whatever the plan, applying it must give every acting member exactly
// the authority's objects, and every acknowledged write must survive.
func TestDecideRandom(t *testing.T) {
	for seed := uint64(1); seed <= 300; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 7))
			n := 2 + r.IntN(6)
			// The acknowledged history: versions 1..n in epoch 5.
			var hist []w
			for v := 1; v <= n; v++ {
				hist = append(hist, w{fmt.Sprintf("o%d", r.IntN(4)), 5, uint64(v)})
			}
			osds := []int32{0, 1, 2, 3}
			peers := map[int32]Peer{}
			acked := n - r.IntN(2) // the last write may not be acknowledged
			last := &pb.ActiveInterval{Epoch: 5, Acting: []int32{0, 1, 2}}
			for _, id := range osds {
				upto := acked
				if !slices.Contains(last.Acting, id) {
					upto = r.IntN(n + 1) // not a member: any prefix
				} else if acked < n && r.IntN(2) == 0 {
					upto = n // got the unacknowledged write
				}
				ws := slices.Clone(hist[:upto])
				if r.IntN(4) == 0 && !slices.Contains(last.Acting, id) {
					ws = append(ws, w{"div", 4, uint64(upto + 1)}) // divergent from an older epoch
					if upto > 0 && ws[upto-1].e == 5 {
						ws = ws[:upto] // keep it ordered: divergent only after older epochs
					}
				}
				peers[id] = peer(1+r.IntN(n+1), ws...)
			}
			up := slices.Clone(osds)
			r.Shuffle(len(up), func(i, j int) { up[i], up[j] = up[j], up[i] })
			up = up[:3]
			in := Input{Self: up[0], Up: up, Acting: up, Size: 3, MinSize: 2, IsUp: allUp, LastActive: last, Peers: peers}
			p := Decide(in)
			for p.Outcome == WantTemp {
				in.Acting = p.Temp
				if len(in.Acting) == 0 {
					in.Acting = in.Up
				}
				in.Self = in.Acting[0]
				p = Decide(in)
			}
			if p.Outcome != Activate {
				t.Fatalf("outcome %v: %s", p.Outcome, p.Why)
			}
			authLU := p.AuthInfo.GetLastUpdate().GetVersion()
			if p.AuthInfo.GetLastUpdate().GetEpoch() == 5 && int(authLU) < acked {
				t.Fatalf("authority osd.%d at %d lost acknowledged writes up to %d", p.Auth, authLU, acked)
			}
			// Simulate: a member's objects = the newest version per oid of
			// its history; after recovery a member equals the authority.
			state := func(id int32) map[string]uint64 {
				s := map[string]uint64{}
				for _, e := range peerWrites(peers[id]) {
					s[e.oid] = e.v
				}
				return s
			}
			auth := state(p.Auth)
			for _, m := range append(slices.Clone(p.Acting), p.Backfill...) {
				got := state(m.OSD)
				switch m.Role {
				case Backfill:
					got = maps.Clone(auth)
				default:
					for _, oid := range m.Missing {
						if v, ok := auth[oid]; ok {
							got[oid] = v
						} else {
							delete(got, oid)
						}
					}
				}
				for oid, v := range auth {
					if got[oid] != v {
						t.Fatalf("osd.%d (%v) ends with %s@%d, the authority has %d; plan %+v", m.OSD, m.Role, oid, got[oid], v, m)
					}
				}
				for oid := range got {
					if _, ok := auth[oid]; !ok {
						t.Fatalf("osd.%d (%v) keeps %s the authority does not have", m.OSD, m.Role, oid)
					}
				}
			}
		})
	}
}

// fullHistory keeps the untrimmed writes each test peer was built from,
// by its info, so the random test knows every member's objects.
var fullHistory = map[*pb.PGInfo][]w{}

func peerWrites(p Peer) []w { return fullHistory[p.Info] }
