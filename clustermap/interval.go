package clustermap

import (
	"encoding/binary"
	"hash/fnv"
)

// IntervalDigest names a PG's interval: the pool's replication
// settings, the up and acting sets and primaries, and each member's boot
// epoch (a member that restarted may have missed writes, so its return
// starts an interval). Every party holding the same map computes the
// same digest, so no map history is needed to tell whether two maps put
// a PG in the same interval. The OSDs and the monitor (which records the
// interval a PG activates in) share it.
func IntervalDigest(m *Map, p *Pool, pl Placement) uint64 {
	h := fnv.New64a()
	var b [8]byte
	put := func(v uint64) {
		binary.BigEndian.PutUint64(b[:], v)
		h.Write(b[:])
	}
	member := func(id int32) {
		put(uint64(uint32(id)))
		if st, ok := m.OSDs[id]; ok {
			put(st.UpFrom)
		}
	}
	put(uint64(pl.PG.Pool))
	put(uint64(pl.PG.Seed))
	put(uint64(p.Size)<<32 | uint64(p.MinSize))
	put(uint64(uint32(pl.ActingPrimary)))
	for _, id := range pl.Acting {
		member(id)
	}
	// A separator, so that moving an OSD from the end of acting to the
	// start of up is a different digest.
	put(^uint64(0))
	put(uint64(uint32(pl.UpPrimary)))
	for _, id := range pl.Up {
		member(id)
	}
	return h.Sum64()
}
