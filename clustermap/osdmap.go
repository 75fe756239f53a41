package clustermap

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/loligo/loligo/crush"
)

// Sentinel errors.
var (
	// ErrInvalid means a map or pool is structurally wrong.
	ErrInvalid = errors.New("clustermap: invalid map")
	// ErrNoPool means a pool id or name is not in the map.
	ErrNoPool = errors.New("clustermap: no such pool")
)

// PoolType is a pool's redundancy scheme; the values are Ceph's.
type PoolType uint8

// Pool types.
const (
	PoolReplicated PoolType = 1
	PoolErasure    PoolType = 3
)

func (t PoolType) String() string {
	switch t {
	case PoolReplicated:
		return "replicated"
	case PoolErasure:
		return "erasure"
	}
	return fmt.Sprintf("type%d", uint8(t))
}

// PoolFlags are pool flag bits; the values are Ceph's.
type PoolFlags uint64

// FlagHashPSPool mixes the pool id into the CRUSH input, so that the PGs
// of different pools do not land on the same OSDs. Loligo creates every
// pool with it; pools without it place as Ceph's legacy pools do.
const FlagHashPSPool PoolFlags = 1 << 0

// Pool is a logical namespace of objects with its own redundancy and
// placement rule.
type Pool struct {
	ID        int64
	Name      string
	Type      PoolType
	Size      uint32 // replicas, or k+m shards
	MinSize   uint32 // members needed to accept writes
	PGNum     uint32 // placement groups
	PGPNum    uint32 // placement seeds fed to CRUSH (<= PGNum)
	CrushRule int32
	Flags     PoolFlags
	ECProfile string // erasure pools only
}

// CanShiftOSDs reports whether the pool's OSD sets may close gaps
// (replicated), or must keep positions because position is the shard
// number (erasure).
func (p *Pool) CanShiftOSDs() bool { return p.Type == PoolReplicated }

// pgMask is the mask of the next power of two >= n, minus one
// (Ceph's pg_num_mask).
func pgMask(n uint32) uint32 {
	m := uint32(1)
	for m < n {
		m <<= 1
	}
	return m - 1
}

// StableMod is ceph_stable_mod: x mod b, for b not a power of two, such
// that growing b moves as few inputs as possible. bmask is the next power
// of two >= b, minus one.
func StableMod(x, b, bmask uint32) uint32 {
	if x&bmask < b {
		return x & bmask
	}
	return x & (bmask >> 1)
}

// OSD is the state of one OSD in a map. An OSD that is not in the map
// does not exist.
type OSD struct {
	ID   int32
	UUID string
	Up   bool
	// Weight is the reweight in 16.16 fixed point: 0 means out (its data
	// is placed elsewhere), 0x10000 fully in.
	Weight uint32
	// PrimaryAffinity (16.16, default 0x10000) lowers how often the OSD
	// is chosen as primary.
	PrimaryAffinity uint32
	// Addr is where clients and peers reach the OSD (HOST:PORT), set when
	// it boots.
	Addr string
	// UpFrom is the epoch of the OSD's last boot; 0 if it never booted.
	UpFrom uint64
	// DownStamp is when the OSD was last marked down; zero if never.
	DownStamp time.Time
	// AutoOut records that the monitor, not an operator, marked the OSD
	// out, so its next boot marks it in again.
	AutoOut bool
	// Incarnation is the random number the OSD process that booted drew
	// when it started; a boot with another one is a restart.
	Incarnation uint64
	// UpStamp is when the OSD was last marked up; zero if never.
	UpStamp time.Time
	// DownReason says why the OSD was last marked down ("" if unknown).
	DownReason string
	// Fullness is how full the OSD's file system is, as the monitor
	// judged it against the map's ratios.
	Fullness Fullness
}

// Fullness is an OSD's disk state against the map's ratios, in
// increasing order (Ceph's nearfull, backfillfull and full OSD states).
type Fullness uint8

const (
	FullnessOK Fullness = iota
	// FullnessNear: past the nearfull ratio; a warning.
	FullnessNear
	// FullnessBackfill: past the backfillfull ratio; no backfill targets it.
	FullnessBackfill
	// FullnessFull: past the full ratio; its PGs take no writes that add
	// data.
	FullnessFull
)

func (f Fullness) String() string {
	switch f {
	case FullnessOK:
		return "ok"
	case FullnessNear:
		return "nearfull"
	case FullnessBackfill:
		return "backfillfull"
	case FullnessFull:
		return "full"
	}
	return fmt.Sprintf("fullness(%d)", uint8(f))
}

// Default fullness ratios (Ceph's mon_osd_nearfull_ratio,
// mon_osd_backfillfull_ratio and mon_osd_full_ratio).
const (
	DefaultNearFullRatio     = 0.85
	DefaultBackfillFullRatio = 0.90
	DefaultFullRatio         = 0.95
)

// Ratios are the thresholds of disk use at which OSDs become nearfull,
// backfillfull and full. A zero field means its default.
type Ratios struct {
	NearFull, BackfillFull, Full float64
}

// Effective returns r with defaults for zero fields.
func (r Ratios) Effective() Ratios {
	if r.NearFull == 0 {
		r.NearFull = DefaultNearFullRatio
	}
	if r.BackfillFull == 0 {
		r.BackfillFull = DefaultBackfillFullRatio
	}
	if r.Full == 0 {
		r.Full = DefaultFullRatio
	}
	return r
}

// Judge returns the fullness of a file system with used of total bytes
// in use under r (effective ratios).
func (r Ratios) Judge(used, total uint64) Fullness {
	if total == 0 {
		return FullnessOK
	}
	e := r.Effective()
	u := float64(used) / float64(total)
	switch {
	case u >= e.Full:
		return FullnessFull
	case u >= e.BackfillFull:
		return FullnessBackfill
	case u >= e.NearFull:
		return FullnessNear
	}
	return FullnessOK
}

// In reports whether the OSD takes data.
func (o *OSD) In() bool { return o.Weight > 0 }

// Flags are cluster-wide switches; the bit values are Ceph's
// CEPH_OSDMAP_* flags.
type Flags uint32

// Cluster flags.
const (
	FlagPauseRead   Flags = 1 << 2
	FlagPauseWrite  Flags = 1 << 3
	FlagPauseRec    Flags = 1 << 4
	FlagNoUp        Flags = 1 << 5
	FlagNoDown      Flags = 1 << 6
	FlagNoOut       Flags = 1 << 7
	FlagNoIn        Flags = 1 << 8
	FlagNoBackfill  Flags = 1 << 9
	FlagNoRecover   Flags = 1 << 10
	FlagNoScrub     Flags = 1 << 11
	FlagNoDeepScrub Flags = 1 << 12
	FlagNoRebalance Flags = 1 << 14
)

var flagNames = []struct {
	name string
	f    Flags
}{
	// "pause" sets both pause bits, as Ceph's "osd set pause" does.
	{"pause", FlagPauseRead | FlagPauseWrite},
	{"pauserd", FlagPauseRead},
	{"pausewr", FlagPauseWrite},
	{"noup", FlagNoUp},
	{"nodown", FlagNoDown},
	{"noout", FlagNoOut},
	{"noin", FlagNoIn},
	{"nobackfill", FlagNoBackfill},
	{"norecover", FlagNoRecover},
	{"noscrub", FlagNoScrub},
	{"nodeep-scrub", FlagNoDeepScrub},
	{"norebalance", FlagNoRebalance},
}

// ParseFlag returns the flag bits named by s ("noout", "pause", ...).
func ParseFlag(s string) (Flags, error) {
	for _, f := range flagNames {
		if f.name == s {
			return f.f, nil
		}
	}
	names := make([]string, len(flagNames))
	for i, f := range flagNames {
		names[i] = f.name
	}
	return 0, fmt.Errorf("%w: unknown flag %q (known: %s)", ErrInvalid, s, strings.Join(names, ", "))
}

// Names lists the set flags as Ceph prints them ("pauserd,pausewr,noout").
func (f Flags) Names() []string {
	var out []string
	for _, n := range flagNames[1:] {
		if f&n.f != 0 {
			out = append(out, n.name)
		}
	}
	if rest := f &^ allFlags(); rest != 0 {
		out = append(out, fmt.Sprintf("%#x", uint32(rest)))
	}
	return out
}

func allFlags() Flags {
	var all Flags
	for _, n := range flagNames {
		all |= n.f
	}
	return all
}

// PGID names a placement group: a pool and a seed below the pool's
// pg_num.
type PGID struct {
	Pool int64
	Seed uint32
}

// Compare orders PGs by pool, then seed.
func (p PGID) Compare(q PGID) int {
	return cmp.Or(cmp.Compare(p.Pool, q.Pool), cmp.Compare(p.Seed, q.Seed))
}

// SortedPGs returns the keys of a table by PG in (pool, seed) order.
func SortedPGs[V any](tbl map[PGID]V) []PGID {
	return slices.SortedFunc(maps.Keys(tbl), PGID.Compare)
}

// String prints the PG as Ceph does: pool id, a dot, the seed in hex.
func (p PGID) String() string { return fmt.Sprintf("%d.%x", p.Pool, p.Seed) }

// Map is one epoch of the OSD map: the CRUSH map, the pools and the state
// of every OSD, plus temporary overrides of acting sets. Build it by
// filling the fields and calling Finalize; a finalized Map is immutable
// by convention (a change makes a new epoch, a new Map) and safe for
// concurrent use.
type Map struct {
	FSID  string
	Epoch uint64
	Crush *crush.Map
	// MaxOSD is one past the highest OSD id the map has room for; 0 (or
	// anything lower) means one past the highest OSD in OSDs. Ids below it
	// that are not in OSDs do not exist.
	MaxOSD int32
	// OSDs by id; the ids present are the OSDs that exist.
	OSDs  map[int32]*OSD
	Pools map[int64]*Pool
	// PGTemp overrides the acting set of a PG while it is being recovered.
	PGTemp map[PGID][]int32
	// PrimaryTemp overrides the acting primary of a PG.
	PrimaryTemp map[PGID]int32
	// PGUpmap replaces CRUSH's whole choice for a PG, and PGUpmapItems
	// replace single OSDs in it ([from, to] pairs), as the balancer does.
	// A mapping to an OSD that is out is ignored.
	PGUpmap      map[PGID][]int32
	PGUpmapItems map[PGID][][2]int32
	// Flags are the cluster flags (noout, noup, ...).
	Flags Flags
	// ECProfiles are the erasure-code profiles by name (k, m, ...).
	ECProfiles map[string]map[string]string
	// PoolMax is the highest pool id ever used; new pools get higher ids,
	// so a removed pool's id is never reused.
	PoolMax int64
	// Ratios are the fullness thresholds.
	Ratios Ratios
	// Created is when epoch 1 was made, Modified when this epoch was.
	Created, Modified time.Time

	// Derived by Finalize.
	finalized bool
	maxOSD    int32
	weights   []uint32 // CRUSH reweight vector, by OSD id
	exists    []bool
	up        []bool
	affinity  []uint32
	anyAff    bool
	byName    map[string]int64
	mappers   sync.Pool // of *crush.Mapper
}

// Finalize validates the map and derives the vectors placement needs.
// Call it after changing any field and before placing.
func (m *Map) Finalize() error {
	m.finalized = false
	if m.Crush == nil {
		return fmt.Errorf("%w: no CRUSH map", ErrInvalid)
	}
	m.byName = make(map[string]int64, len(m.Pools))
	for id, p := range m.Pools {
		if p.ID != id {
			return fmt.Errorf("%w: pool %q stored under id %d has id %d", ErrInvalid, p.Name, id, p.ID)
		}
		if err := p.validate(); err != nil {
			return err
		}
		if other, dup := m.byName[p.Name]; dup {
			return fmt.Errorf("%w: pools %d and %d are both named %q", ErrInvalid, other, id, p.Name)
		}
		m.byName[p.Name] = id
	}
	var maxOSD int32
	for id, o := range m.OSDs {
		if id < 0 || id >= crush.DeviceIDLimit || o.ID != id {
			return fmt.Errorf("%w: OSD stored under id %d has id %d (ids are 0..%d)", ErrInvalid, id, o.ID, crush.DeviceIDLimit-1)
		}
		if o.Weight > crush.WeightOne || o.PrimaryAffinity > crush.WeightOne {
			return fmt.Errorf("%w: osd.%d weight %#x or primary affinity %#x above 1.0", ErrInvalid, id, o.Weight, o.PrimaryAffinity)
		}
		if id+1 > maxOSD {
			maxOSD = id + 1
		}
	}
	if m.MaxOSD > maxOSD {
		if m.MaxOSD > crush.DeviceIDLimit {
			return fmt.Errorf("%w: max_osd %d above %d", ErrInvalid, m.MaxOSD, crush.DeviceIDLimit)
		}
		maxOSD = m.MaxOSD
	}
	m.maxOSD = maxOSD
	m.weights = make([]uint32, maxOSD)
	m.exists = make([]bool, maxOSD)
	m.up = make([]bool, maxOSD)
	m.affinity = make([]uint32, maxOSD)
	m.anyAff = false
	for id, o := range m.OSDs {
		m.weights[id] = o.Weight
		m.exists[id] = true
		m.up[id] = o.Up
		m.affinity[id] = o.PrimaryAffinity
		if o.PrimaryAffinity != crush.WeightOne {
			m.anyAff = true
		}
	}
	m.mappers = sync.Pool{New: func() any { return m.Crush.NewMapper() }}
	m.finalized = true
	return nil
}

func (p *Pool) validate() error {
	switch {
	case p.Type != PoolReplicated && p.Type != PoolErasure:
		return fmt.Errorf("%w: pool %q has unknown type %d", ErrInvalid, p.Name, p.Type)
	case p.Size == 0 || p.Size > 255:
		return fmt.Errorf("%w: pool %q size %d out of range 1..255", ErrInvalid, p.Name, p.Size)
	case p.MinSize == 0 || p.MinSize > p.Size:
		return fmt.Errorf("%w: pool %q min_size %d out of range 1..%d", ErrInvalid, p.Name, p.MinSize, p.Size)
	case p.PGNum == 0:
		return fmt.Errorf("%w: pool %q has no placement groups", ErrInvalid, p.Name)
	case p.PGPNum == 0 || p.PGPNum > p.PGNum:
		return fmt.Errorf("%w: pool %q pgp_num %d out of range 1..%d", ErrInvalid, p.Name, p.PGPNum, p.PGNum)
	}
	return nil
}

// OSDLimit is one past the highest OSD id the map has room for.
func (m *Map) OSDLimit() int32 { return m.maxOSD }

// Exists reports whether the OSD is in the map.
func (m *Map) Exists(osd int32) bool {
	return osd >= 0 && osd < m.maxOSD && m.exists[osd]
}

// IsUp reports whether the OSD exists and is up.
func (m *Map) IsUp(osd int32) bool { return m.Exists(osd) && m.up[osd] }

// Pool returns the pool with the given id.
func (m *Map) Pool(id int64) (*Pool, error) {
	p, ok := m.Pools[id]
	if !ok {
		return nil, fmt.Errorf("%w: id %d", ErrNoPool, id)
	}
	return p, nil
}

// PoolByName returns the pool with the given name.
func (m *Map) PoolByName(name string) (*Pool, error) {
	id, ok := m.byName[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNoPool, name)
	}
	return m.Pools[id], nil
}

// OSDIDs returns the ids of the existing OSDs in ascending order.
func (m *Map) OSDIDs() []int32 { return slices.Sorted(maps.Keys(m.OSDs)) }

// PoolIDs returns the pool ids in ascending order.
func (m *Map) PoolIDs() []int64 {
	ids := make([]int64, 0, len(m.Pools))
	for id := range m.Pools {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}
