package clustermap

import (
	"slices"
	"strconv"
	"strings"

	"github.com/loligo/loligo/crush"
)

// NoOSD marks a hole in an erasure-coded PG's set (CRUSH_ITEM_NONE).
const NoOSD = crush.ItemNone

// NoPrimary is the primary of a PG that has no live member (Ceph's -1).
const NoPrimary int32 = -1

// namespaceSep joins a namespace and a name before hashing (Ceph's 0x1f).
const namespaceSep = '\x1f'

// HashKey is the 32-bit hash of an object's name (or locator key) within
// a namespace, as Ceph's pg_pool_t::hash_key computes it.
func HashKey(name, namespace string) uint32 {
	if namespace == "" {
		return crush.StrHash([]byte(name))
	}
	buf := make([]byte, 0, len(namespace)+1+len(name))
	buf = append(buf, namespace...)
	buf = append(buf, namespaceSep)
	buf = append(buf, name...)
	return crush.StrHash(buf)
}

// PGForHash is the PG of an object hash in this pool.
func (p *Pool) PGForHash(hash uint32) PGID {
	return PGID{Pool: p.ID, Seed: StableMod(hash, p.PGNum, pgMask(p.PGNum))}
}

// PlacementSeed is the CRUSH input x of a PG (Ceph's raw_pg_to_pps):
// the seed folded to pgp_num, then, for HASHPSPOOL pools, hashed with the
// pool id; legacy pools add the pool id instead.
func (p *Pool) PlacementSeed(seed uint32) uint32 {
	s := StableMod(seed, p.PGPNum, pgMask(p.PGPNum))
	if p.Flags&FlagHashPSPool != 0 {
		return crush.Hash2(s, uint32(p.ID))
	}
	return s + uint32(p.ID)
}

// ObjectPG returns the PG an object belongs to.
func (m *Map) ObjectPG(poolID int64, name, namespace string) (PGID, error) {
	p, err := m.Pool(poolID)
	if err != nil {
		return PGID{}, err
	}
	return p.PGForHash(HashKey(name, namespace)), nil
}

// Placement is where a PG lives in one epoch.
type Placement struct {
	PG PGID
	// Up is what CRUSH chooses among live OSDs; Acting is who serves the
	// PG (Up, unless a pg_temp overrides it during recovery). Erasure
	// pools keep positions, with NoOSD in holes.
	Up, Acting []int32
	// UpPrimary and ActingPrimary are NoPrimary if no member is live.
	UpPrimary, ActingPrimary int32
}

func (m *Map) mustBeFinal() {
	if !m.finalized {
		panic("clustermap: placement on a map that was not finalized")
	}
}

// Raw returns CRUSH's choice for a PG before liveness is considered,
// without OSDs that do not exist (erasure pools keep their positions).
func (m *Map) Raw(pg PGID) ([]int32, error) {
	m.mustBeFinal()
	p, err := m.Pool(pg.Pool)
	if err != nil {
		return nil, err
	}
	pg.Seed = StableMod(pg.Seed, p.PGNum, pgMask(p.PGNum))
	return m.raw(p, pg), nil
}

func (m *Map) raw(p *Pool, pg PGID) []int32 {
	osds := make([]int32, 0, p.Size)
	// Ceph's find_rule: the pool's rule is used only if it exists, is of
	// the pool's type and allows the pool's size; otherwise the PG maps
	// nowhere.
	if r := m.Crush.Rule(int(p.CrushRule)); r != nil && uint8(r.Type) == uint8(p.Type) &&
		uint32(r.MinSize) <= p.Size && p.Size <= uint32(r.MaxSize) {
		mp := m.mappers.Get().(*crush.Mapper)
		osds = mp.Do(r.ID, p.PlacementSeed(pg.Seed), int(p.Size), m.weights, m.Crush.ChooseArgsFor(p.ID), osds)
		m.mappers.Put(mp)
	}
	// Drop OSDs that do not exist.
	if p.CanShiftOSDs() {
		kept := osds[:0]
		for _, o := range osds {
			if m.Exists(o) {
				kept = append(kept, o)
			}
		}
		return kept
	}
	for i, o := range osds {
		if o != NoOSD && !m.Exists(o) {
			osds[i] = NoOSD
		}
	}
	return osds
}

// Place computes a PG's up and acting sets and primaries as Ceph's
// OSDMap::pg_to_up_acting_osds does.
func (m *Map) Place(pg PGID) (Placement, error) {
	m.mustBeFinal()
	p, err := m.Pool(pg.Pool)
	if err != nil {
		return Placement{}, err
	}
	pg.Seed = StableMod(pg.Seed, p.PGNum, pgMask(p.PGNum))
	raw := m.applyUpmap(pg, m.raw(p, pg))
	up := m.rawToUp(p, raw)
	upPrimary := m.applyPrimaryAffinity(p, pg, up)
	pl := Placement{PG: pg, Up: up, UpPrimary: upPrimary, Acting: slices.Clone(up), ActingPrimary: upPrimary}
	// A pg_temp replaces the acting set and its primary (even when no
	// member of it is live); a primary_temp alone replaces the primary.
	temp, tprim := m.tempOSDs(p, pg)
	if len(temp) > 0 {
		pl.Acting, pl.ActingPrimary = temp, tprim
	} else if tprim != NoPrimary {
		pl.ActingPrimary = tprim
	}
	return pl, nil
}

// PlaceObject places an object: its PG and the PG's sets.
func (m *Map) PlaceObject(poolID int64, name, namespace string) (Placement, error) {
	pg, err := m.ObjectPG(poolID, name, namespace)
	if err != nil {
		return Placement{}, err
	}
	return m.Place(pg)
}

// isOut reports whether an upmap target is out (or not an OSD id): Ceph
// ignores mappings to such OSDs.
func (m *Map) isOut(osd int32) bool {
	return osd != NoOSD && osd >= 0 && osd < m.maxOSD && m.weights[osd] == 0
}

// applyUpmap applies pg_upmap (replace the whole set, unless a target is
// out) and then pg_upmap_items (replace one OSD by another, unless the
// new one is already in the set or is out), as Ceph's _apply_upmap.
func (m *Map) applyUpmap(pg PGID, raw []int32) []int32 {
	if set, ok := m.PGUpmap[pg]; ok {
		use := true
		for _, o := range set {
			if m.isOut(o) {
				use = false
				break
			}
		}
		if use {
			raw = append(raw[:0], set...)
		}
	}
	for _, it := range m.PGUpmapItems[pg] {
		from, to := it[0], it[1]
		pos := -1
		present := false
		for i, o := range raw {
			if o == to {
				present = true
				break
			}
			if o == from && pos < 0 && !m.isOut(to) {
				pos = i
			}
		}
		if !present && pos >= 0 {
			raw[pos] = to
		}
	}
	return raw
}

// rawToUp drops down OSDs: replicated sets close the gap, erasure sets
// keep a NoOSD hole.
func (m *Map) rawToUp(p *Pool, raw []int32) []int32 {
	up := make([]int32, 0, len(raw))
	for _, o := range raw {
		switch {
		case m.IsUp(o):
			up = append(up, o)
		case !p.CanShiftOSDs():
			up = append(up, NoOSD)
		}
	}
	return up
}

// applyPrimaryAffinity picks the primary of an up set. Without primary
// affinities it is the first live member. With them, an OSD of affinity a
// is passed over for inputs whose hash lands above a (the first one
// passed over is kept as a fallback); in replicated pools the chosen
// primary moves to the front of the set.
func (m *Map) applyPrimaryAffinity(p *Pool, pg PGID, up []int32) int32 {
	primary := NoPrimary
	for _, o := range up {
		if o != NoOSD {
			primary = o
			break
		}
	}
	if !m.anyAff || primary == NoPrimary {
		return primary
	}
	any := false
	for _, o := range up {
		if o != NoOSD && m.affinity[o] != crush.WeightOne {
			any = true
			break
		}
	}
	if !any {
		return primary
	}
	pps := p.PlacementSeed(pg.Seed)
	pos, fallback := -1, -1
	for i, o := range up {
		if o == NoOSD {
			continue
		}
		a := m.affinity[o]
		if a < crush.WeightOne && crush.Hash2(pps, uint32(o))>>16 >= a {
			if fallback < 0 {
				fallback = i
			}
			continue
		}
		pos = i
		break
	}
	if pos < 0 {
		pos = fallback
	}
	primary = up[pos]
	if p.CanShiftOSDs() && pos > 0 {
		copy(up[1:pos+1], up[:pos])
		up[0] = primary
	}
	return primary
}

// tempOSDs returns the pg_temp acting set (without dead members; holes
// for erasure pools) and the temporary primary, NoPrimary if none.
func (m *Map) tempOSDs(p *Pool, pg PGID) ([]int32, int32) {
	var temp []int32
	for _, o := range m.PGTemp[pg] {
		switch {
		case m.IsUp(o):
			temp = append(temp, o)
		case !p.CanShiftOSDs():
			temp = append(temp, NoOSD)
		}
	}
	if prim, ok := m.PrimaryTemp[pg]; ok {
		return temp, prim
	}
	for _, o := range temp {
		if o != NoOSD {
			return temp, o
		}
	}
	return temp, NoPrimary
}

// FormatOSDs prints an up or acting set as Ceph does: [3,1,NONE], with
// NONE for the holes of an erasure-coded set.
func FormatOSDs(osds []int32) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, o := range osds {
		if i > 0 {
			b.WriteByte(',')
		}
		if o == NoOSD {
			b.WriteString("NONE")
		} else {
			b.WriteString(strconv.Itoa(int(o)))
		}
	}
	b.WriteByte(']')
	return b.String()
}
