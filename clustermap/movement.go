package clustermap

import "slices"

// Movement summarizes how the placement of PGs differs between two maps:
// what an operator wants to know before a change re-places data.
type Movement struct {
	// PGs is the number of PGs compared: those of the pools both maps
	// have (a new pool's PGs are created, not moved).
	PGs int
	// Moved counts PGs whose up set holds data on other OSDs in the new
	// map: a changed member (replicated pools compare sets, so a new
	// order alone moves nothing), or a changed OSD at some shard position
	// (erasure pools).
	Moved int
	// Gained and Lost count, by OSD, the PGs (shards) it starts or stops
	// holding. OSDs with nothing gained or lost are absent.
	Gained, Lost map[int32]int
	// Degraded counts PGs whose new up set has fewer OSDs than the pool's
	// size.
	Degraded int
}

// Compare computes the PG movement from old to next. Both maps must be
// finalized. It runs CRUSH twice for every PG, so it costs a few
// microseconds per PG.
func Compare(old, next *Map) Movement {
	old.mustBeFinal()
	next.mustBeFinal()
	mv := Movement{Gained: map[int32]int{}, Lost: map[int32]int{}}
	for _, id := range next.PoolIDs() {
		np := next.Pools[id]
		op, ok := old.Pools[id]
		if !ok {
			continue
		}
		n := max(np.PGNum, op.PGNum)
		for seed := uint32(0); seed < n; seed++ {
			pg := PGID{Pool: id, Seed: seed}
			var before, after []int32
			if seed < op.PGNum {
				pl, _ := old.Place(pg)
				before = pl.Up
			}
			if seed < np.PGNum {
				pl, _ := next.Place(pg)
				after = pl.Up
				if live(after) < int(np.Size) {
					mv.Degraded++
				}
			}
			mv.PGs++
			var gained, lost []int32
			if np.CanShiftOSDs() {
				gained, lost = setDiff(before, after)
			} else {
				gained, lost = positionDiff(before, after)
			}
			if len(gained) > 0 || len(lost) > 0 {
				mv.Moved++
			}
			for _, o := range gained {
				mv.Gained[o]++
			}
			for _, o := range lost {
				mv.Lost[o]++
			}
		}
	}
	return mv
}

func live(osds []int32) int {
	n := 0
	for _, o := range osds {
		if o != NoOSD {
			n++
		}
	}
	return n
}

// setDiff returns the OSDs in b but not a, and in a but not b.
func setDiff(a, b []int32) (gained, lost []int32) {
	for _, o := range b {
		if o != NoOSD && !slices.Contains(a, o) {
			gained = append(gained, o)
		}
	}
	for _, o := range a {
		if o != NoOSD && !slices.Contains(b, o) {
			lost = append(lost, o)
		}
	}
	return gained, lost
}

// positionDiff compares shard positions: an OSD gains the positions it
// newly holds and loses those it held.
func positionDiff(a, b []int32) (gained, lost []int32) {
	for i := range max(len(a), len(b)) {
		x, y := NoOSD, NoOSD
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x == y {
			continue
		}
		if y != NoOSD {
			gained = append(gained, y)
		}
		if x != NoOSD {
			lost = append(lost, x)
		}
	}
	return gained, lost
}
