package crush

import (
	"fmt"
	"math/bits"
	"sort"
	"strings"
)

// Alg is a bucket algorithm. The values are Ceph's on-disk numbers.
type Alg uint8

// Bucket algorithms.
const (
	AlgUniform Alg = 1
	AlgList    Alg = 2
	AlgTree    Alg = 3
	AlgStraw   Alg = 4
	AlgStraw2  Alg = 5
)

var algNames = map[Alg]string{
	AlgUniform: "uniform",
	AlgList:    "list",
	AlgTree:    "tree",
	AlgStraw:   "straw",
	AlgStraw2:  "straw2",
}

func (a Alg) String() string {
	if s, ok := algNames[a]; ok {
		return s
	}
	return "unknown"
}

// ParseAlg returns the algorithm named s ("straw2", "straw", ...).
func ParseAlg(s string) (Alg, bool) {
	for a, n := range algNames {
		if n == s {
			return a, true
		}
	}
	return 0, false
}

// Fixed-point constants.
const (
	// WeightOne is a weight of 1.0 in 16.16 fixed point.
	WeightOne = 0x10000
	// MaxDeviceWeight and MaxBucketWeight bound item weights as Ceph does.
	MaxDeviceWeight = 100 * WeightOne
	MaxBucketWeight = 65535 * WeightOne
)

// Size limits. Ceph has none beyond 32-bit ids, but a map is held as
// arrays indexed by id, so ids are bounded to keep a hostile map from
// allocating gigabytes.
const (
	// DeviceIDLimit bounds device ids: 0 <= id < DeviceIDLimit.
	DeviceIDLimit = 1 << 20
	// BucketIDLimit bounds bucket ids: -BucketIDLimit <= id < 0.
	BucketIDLimit = 1 << 20
)

// Special item values in results.
const (
	// ItemNone marks a position an indep rule could not fill
	// (CRUSH_ITEM_NONE); crushtool prints it as 2147483647.
	ItemNone int32 = 0x7fffffff
	// itemUndef is a position not decided yet (CRUSH_ITEM_UNDEF).
	itemUndef int32 = 0x7ffffffe
)

// Bucket is an interior node of the hierarchy. Items are device ids (>= 0)
// or bucket ids (< 0); Weights[i] is the 16.16 weight of Items[i] as seen
// by this bucket, which need not equal that child's own total.
type Bucket struct {
	ID      int32
	Name    string
	Type    int32 // a type id of Map.Types
	Alg     Alg
	Hash    HashType
	Items   []int32
	Weights []uint32
	// Straws are the precomputed straw lengths of a straw (v1) bucket. They
	// depend on the straw_calc_version in force when the bucket was built,
	// so they are part of the map; nil means "compute them from Weights
	// with the map's current straw_calc_version" when the map is finalized.
	Straws []uint32

	// Derived by Map.Finalize.
	weight      uint32   // sum of item weights (size*weight for uniform)
	sumWeights  []uint32 // list: running sums
	nodeWeights []uint32 // tree: node weights, leaves at 2i+1
}

// Weight is the bucket's total weight in 16.16 fixed point.
func (b *Bucket) Weight() uint32 { return b.weight }

// ItemWeight is the weight of the item at position i, as Ceph's
// crush_get_bucket_item_weight reports it.
func (b *Bucket) ItemWeight(i int) uint32 { return b.Weights[i] }

// Device is a leaf (an OSD). Class is its device class, "" for none.
type Device struct {
	ID    int32
	Name  string
	Class string
}

// Op is a rule step operation; the values are Ceph's.
type Op uint8

// Rule step operations.
const (
	OpNoop                        Op = 0
	OpTake                        Op = 1
	OpChooseFirstN                Op = 2
	OpChooseIndep                 Op = 3
	OpEmit                        Op = 4
	OpChooseLeafFirstN            Op = 6
	OpChooseLeafIndep             Op = 7
	OpSetChooseTries              Op = 8
	OpSetChooseLeafTries          Op = 9
	OpSetChooseLocalTries         Op = 10
	OpSetChooseLocalFallbackTries Op = 11
	OpSetChooseLeafVaryR          Op = 12
	OpSetChooseLeafStable         Op = 13
)

var opNames = map[Op]string{
	OpNoop:                        "noop",
	OpTake:                        "take",
	OpChooseFirstN:                "choose_firstn",
	OpChooseIndep:                 "choose_indep",
	OpEmit:                        "emit",
	OpChooseLeafFirstN:            "chooseleaf_firstn",
	OpChooseLeafIndep:             "chooseleaf_indep",
	OpSetChooseTries:              "set_choose_tries",
	OpSetChooseLeafTries:          "set_chooseleaf_tries",
	OpSetChooseLocalTries:         "set_choose_local_tries",
	OpSetChooseLocalFallbackTries: "set_choose_local_fallback_tries",
	OpSetChooseLeafVaryR:          "set_chooseleaf_vary_r",
	OpSetChooseLeafStable:         "set_chooseleaf_stable",
}

// String is the op's name as Ceph's crushtool --dump spells it.
func (o Op) String() string {
	if s, ok := opNames[o]; ok {
		return s
	}
	return fmt.Sprintf("op%d", uint8(o))
}

// Step is one rule step. For take, Arg1 is the item; for choose steps,
// Arg1 is N and Arg2 the type; for set_* steps, Arg1 is the value.
type Step struct {
	Op   Op
	Arg1 int32
	Arg2 int32
}

// RuleType is the pool type a rule is meant for.
type RuleType uint8

// Rule types (Ceph's pg types).
const (
	RuleReplicated RuleType = 1
	RuleErasure    RuleType = 3
)

func (t RuleType) String() string {
	switch t {
	case RuleReplicated:
		return "replicated"
	case RuleErasure:
		return "erasure"
	}
	return fmt.Sprintf("%d", uint8(t))
}

// Rule is a placement rule. Its ID is its index in Map.Rules.
type Rule struct {
	ID      int
	Name    string
	Type    RuleType
	MinSize uint8 // crushtool's default lowest num-rep
	MaxSize uint8 // crushtool's default highest num-rep
	Steps   []Step
}

// ChooseArg replaces, for one straw2 bucket, the weights (one vector per
// result position; the last applies to later positions) and/or the ids
// hashed in place of the items.
type ChooseArg struct {
	WeightSet [][]uint32
	IDs       []int32
}

// DefaultChooseArgs is the choose_args index used when no set exists for
// the requested index (Ceph's DEFAULT_CHOOSE_ARGS, -1 as an unsigned key).
const DefaultChooseArgs int64 = -1

// ChooseArgMap holds the choose_args of one index, by bucket position
// (-1-bucket id). Missing or empty entries fall back to the bucket's own
// weights and ids.
type ChooseArgMap []*ChooseArg

// Map is a CRUSH map. Build one with Compile (from crushtool's text form)
// or by filling the fields and calling Finalize. After Finalize returns
// nil, a Map is immutable by convention and safe for concurrent use; to
// change it, change the fields and call Finalize again before mapping.
type Map struct {
	Tunables Tunables
	// Types maps type ids to names ("osd", "host", ...).
	Types map[int32]string
	// Devices, ascending by id. Only named devices are listed; a device
	// can also appear in buckets without a name here.
	Devices []Device
	// Buckets is indexed by -1-id; nil entries are unused ids.
	Buckets []*Bucket
	// Rules is indexed by rule id; nil entries are unused ids.
	Rules []*Rule
	// Classes maps device class ids to names. Class ids order the
	// construction of shadow trees and the decompiled "id N class C" lines.
	Classes map[int32]string
	// ClassBuckets maps a bucket id and a class id to the id of the
	// bucket's shadow copy holding only devices of that class.
	ClassBuckets map[int32]map[int32]int32
	// ChooseArgs are the weight sets by index (pool id, or
	// DefaultChooseArgs).
	ChooseArgs map[int64]ChooseArgMap

	// populateErr records why the shadow trees could not all be built
	// (Ceph ignores the failure at compile time; rules that need the
	// missing shadow buckets then fail to compile).
	populateErr error

	// Derived by Finalize.
	finalized   bool
	maxDevices  int32
	maxBuckets  int32 // Ceph's bucket array capacity (8, 16, 32, ...)
	names       map[string]int32
	deviceNames map[int32]string
	classIDs    map[string]int32
	shadow      map[int32]shadowInfo // shadow bucket id -> origin
	present     []bool               // device id -> placed in some bucket
}

type shadowInfo struct {
	orig  int32
	class int32
}

// Bucket returns the bucket with the given id, or nil.
func (m *Map) Bucket(id int32) *Bucket {
	p := -1 - int(id)
	if id >= 0 || p >= len(m.Buckets) {
		return nil
	}
	return m.Buckets[p]
}

// Rule returns the rule with the given id, or nil.
func (m *Map) Rule(id int) *Rule {
	if id < 0 || id >= len(m.Rules) {
		return nil
	}
	return m.Rules[id]
}

// MaxDevices is one more than the highest device id that appears in a
// bucket or has a name; reweight vectors are indexed below it.
func (m *Map) MaxDevices() int32 { return m.maxDevices }

// ItemID returns the id of the device or bucket named name.
func (m *Map) ItemID(name string) (int32, bool) {
	id, ok := m.names[name]
	return id, ok
}

// ItemName returns the name of a device or bucket id.
func (m *Map) ItemName(id int32) (string, bool) {
	if id >= 0 {
		n, ok := m.deviceNames[id]
		return n, ok
	}
	if b := m.Bucket(id); b != nil && b.Name != "" {
		return b.Name, true
	}
	return "", false
}

// TypeID returns the id of the type named name.
func (m *Map) TypeID(name string) (int32, bool) {
	for id, n := range m.Types {
		if n == name {
			return id, true
		}
	}
	return 0, false
}

// ClassID returns the id of the device class named name.
func (m *Map) ClassID(name string) (int32, bool) {
	id, ok := m.classIDs[name]
	return id, ok
}

// IsShadow reports whether id is a shadow (per-class) bucket.
func (m *Map) IsShadow(id int32) bool {
	_, ok := m.shadow[id]
	return ok
}

// SplitClass returns, for a shadow bucket, the bucket it copies and its
// class name; for any other item it returns id itself and "".
func (m *Map) SplitClass(id int32) (orig int32, class string) {
	if s, ok := m.shadow[id]; ok {
		return s.orig, m.Classes[s.class]
	}
	return id, ""
}

// DevicePresent reports whether device id is an item of some bucket.
func (m *Map) DevicePresent(id int32) bool {
	return id >= 0 && int(id) < len(m.present) && m.present[id]
}

// sortedTypeIDs returns the type ids in ascending order.
func (m *Map) sortedTypeIDs() []int32 {
	ids := make([]int32, 0, len(m.Types))
	for id := range m.Types {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// ValidName reports whether s is a valid CRUSH item, type or class name:
// non-empty, letters, digits, '-', '_' and '.'.
func ValidName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}

// Finalize validates the map and computes the state the mapper needs
// (bucket totals, list sums, tree node weights, missing straws, the
// device count and the name indexes). It must be called after any change
// to the fields and before Do.
func (m *Map) Finalize() error {
	m.finalized = false
	if m.Types == nil {
		m.Types = map[int32]string{}
	}
	if m.Classes == nil {
		m.Classes = map[int32]string{}
	}
	if m.ClassBuckets == nil {
		m.ClassBuckets = map[int32]map[int32]int32{}
	}
	if err := m.Tunables.validate(); err != nil {
		return err
	}
	m.classIDs = make(map[string]int32, len(m.Classes))
	for id, n := range m.Classes {
		if !ValidName(n) {
			return fmt.Errorf("%w: device class %d has invalid name %q", ErrInvalidMap, id, n)
		}
		if _, dup := m.classIDs[n]; dup {
			return fmt.Errorf("%w: device class %q defined twice", ErrInvalidMap, n)
		}
		m.classIDs[n] = id
	}

	m.names = map[string]int32{}
	m.deviceNames = make(map[int32]string, len(m.Devices))
	var maxDev int32
	for i, d := range m.Devices {
		if d.ID < 0 || d.ID >= DeviceIDLimit {
			return fmt.Errorf("%w: device %q has id %d outside 0..%d", ErrInvalidMap, d.Name, d.ID, DeviceIDLimit-1)
		}
		if i > 0 && m.Devices[i-1].ID >= d.ID {
			return fmt.Errorf("%w: devices not in ascending id order at %d", ErrInvalidMap, d.ID)
		}
		if !ValidName(d.Name) {
			return fmt.Errorf("%w: device %d has invalid name %q", ErrInvalidMap, d.ID, d.Name)
		}
		if _, dup := m.names[d.Name]; dup {
			return fmt.Errorf("%w: name %q used twice", ErrInvalidMap, d.Name)
		}
		if d.Class != "" {
			if _, ok := m.classIDs[d.Class]; !ok {
				return fmt.Errorf("%w: device %s has unknown class %q", ErrInvalidMap, d.Name, d.Class)
			}
		}
		m.names[d.Name] = d.ID
		m.deviceNames[d.ID] = d.Name
		if d.ID+1 > maxDev {
			maxDev = d.ID + 1
		}
	}

	m.shadow = map[int32]shadowInfo{}
	for orig, byClass := range m.ClassBuckets {
		for cls, sid := range byClass {
			if _, ok := m.Classes[cls]; !ok {
				return fmt.Errorf("%w: bucket %d has a shadow for unknown class %d", ErrInvalidMap, orig, cls)
			}
			m.shadow[sid] = shadowInfo{orig: orig, class: cls}
		}
	}

	if len(m.Buckets) > BucketIDLimit {
		return fmt.Errorf("%w: %d bucket slots, more than %d", ErrInvalidMap, len(m.Buckets), BucketIDLimit)
	}
	for i, b := range m.Buckets {
		if b == nil {
			continue
		}
		if b.ID != int32(-1-i) {
			return fmt.Errorf("%w: bucket at position %d has id %d", ErrInvalidMap, i, b.ID)
		}
		if b.Name != "" {
			if _, dup := m.names[b.Name]; dup {
				return fmt.Errorf("%w: name %q used twice", ErrInvalidMap, b.Name)
			}
			m.names[b.Name] = b.ID
		}
		if b.Type == 0 {
			return fmt.Errorf("%w: bucket %d has type 0, the device type", ErrInvalidMap, b.ID)
		}
		if b.Alg == AlgTree && len(b.Items) > maxTreeItems {
			return fmt.Errorf("%w: tree bucket %d has %d items, more than %d", ErrInvalidMap, b.ID, len(b.Items), maxTreeItems)
		}
		if err := b.derive(m.Tunables.StrawCalcVersion); err != nil {
			return err
		}
		for _, it := range b.Items {
			if it >= DeviceIDLimit {
				return fmt.Errorf("%w: bucket %s holds device %d beyond the limit %d", ErrInvalidMap, b.Name, it, DeviceIDLimit-1)
			}
			if it >= 0 {
				if it+1 > maxDev {
					maxDev = it + 1
				}
			} else if m.Bucket(it) == nil {
				return fmt.Errorf("%w: bucket %s (%d) holds missing bucket %d", ErrInvalidMap, b.Name, b.ID, it)
			}
		}
	}
	if err := m.checkAcyclic(); err != nil {
		return err
	}
	for sid, s := range m.shadow {
		if m.Bucket(sid) == nil || m.Bucket(s.orig) == nil {
			return fmt.Errorf("%w: class bucket entry %d -> %d names a missing bucket", ErrInvalidMap, s.orig, sid)
		}
	}
	m.maxDevices = maxDev
	m.maxBuckets = bucketCapacity(len(m.Buckets))
	m.present = make([]bool, maxDev)
	for _, b := range m.Buckets {
		if b == nil {
			continue
		}
		for _, it := range b.Items {
			if it >= 0 {
				m.present[it] = true
			}
		}
	}

	for id, r := range m.Rules {
		if r == nil {
			continue
		}
		if r.ID != id {
			return fmt.Errorf("%w: rule at position %d has id %d", ErrInvalidMap, id, r.ID)
		}
		for si, s := range r.Steps {
			if _, ok := opNames[s.Op]; !ok {
				return fmt.Errorf("%w: rule %d step %d has unknown op %d", ErrInvalidMap, id, si, s.Op)
			}
			limit := int32(-1)
			switch s.Op {
			case OpSetChooseTries, OpSetChooseLeafTries:
				limit = MaxTries
			case OpSetChooseLocalTries, OpSetChooseLocalFallbackTries:
				limit = MaxLocalTries
			}
			if limit >= 0 && s.Arg1 > limit {
				return fmt.Errorf("%w: rule %d step %d: %s %d above %d", ErrInvalidMap, id, si, s.Op, s.Arg1, limit)
			}
		}
	}
	for idx, cm := range m.ChooseArgs {
		for pos, a := range cm {
			if a == nil {
				continue
			}
			b := m.Bucket(int32(-1 - pos))
			if b == nil {
				if len(a.WeightSet) == 0 && len(a.IDs) == 0 {
					continue
				}
				return fmt.Errorf("%w: choose_args %d names missing bucket %d", ErrInvalidMap, idx, -1-pos)
			}
			for _, ws := range a.WeightSet {
				if len(ws) != len(b.Items) {
					return fmt.Errorf("%w: choose_args %d bucket %d: weight set has %d weights for %d items",
						ErrInvalidMap, idx, b.ID, len(ws), len(b.Items))
				}
			}
			if a.IDs != nil && len(a.IDs) != len(b.Items) {
				return fmt.Errorf("%w: choose_args %d bucket %d: %d ids for %d items",
					ErrInvalidMap, idx, b.ID, len(a.IDs), len(b.Items))
			}
		}
	}
	m.finalized = true
	return nil
}

// bucketCapacity mirrors the growth of Ceph's bucket array (8, then
// doubling), which crushtool's statistics expose.
func bucketCapacity(n int) int32 {
	if n == 0 {
		return 0
	}
	c := 8
	for c < n {
		c *= 2
	}
	return int32(c)
}

// checkAcyclic rejects a bucket graph with a cycle, which would make
// the mapper descend forever.
func (m *Map) checkAcyclic() error {
	const (
		unseen = iota
		active
		done
	)
	state := make([]uint8, len(m.Buckets))
	var visit func(p int) error
	visit = func(p int) error {
		switch state[p] {
		case active:
			return fmt.Errorf("%w: bucket %d is contained in itself", ErrInvalidMap, -1-p)
		case done:
			return nil
		}
		state[p] = active
		for _, it := range m.Buckets[p].Items {
			if it < 0 {
				if err := visit(-1 - int(it)); err != nil {
					return err
				}
			}
		}
		state[p] = done
		return nil
	}
	for p, b := range m.Buckets {
		if b != nil {
			if err := visit(p); err != nil {
				return err
			}
		}
	}
	return nil
}

// derive computes the bucket's total and algorithm state from its items.
func (b *Bucket) derive(strawCalcVersion uint32) error {
	if len(b.Weights) != len(b.Items) {
		return fmt.Errorf("%w: bucket %d has %d items but %d weights", ErrInvalidMap, b.ID, len(b.Items), len(b.Weights))
	}
	if _, ok := algNames[b.Alg]; !ok {
		return fmt.Errorf("%w: bucket %d has unknown algorithm %d", ErrInvalidMap, b.ID, b.Alg)
	}
	var sum uint64
	for _, w := range b.Weights {
		sum += uint64(w)
	}
	if sum > 0xffffffff {
		return fmt.Errorf("%w: bucket %d weights overflow 32 bits", ErrInvalidMap, b.ID)
	}
	b.weight = uint32(sum)
	b.sumWeights, b.nodeWeights = nil, nil
	switch b.Alg {
	case AlgUniform:
		for _, w := range b.Weights {
			if w != b.Weights[0] {
				return fmt.Errorf("%w: uniform bucket %d has unequal item weights", ErrInvalidMap, b.ID)
			}
		}
	case AlgList:
		b.sumWeights = make([]uint32, len(b.Weights))
		var s uint32
		for i, w := range b.Weights {
			s += w
			b.sumWeights[i] = s
		}
	case AlgTree:
		b.nodeWeights = treeNodeWeights(b.Weights)
	case AlgStraw:
		if b.Straws == nil {
			b.Straws = calcStraws(b.Weights, strawCalcVersion)
		} else if len(b.Straws) != len(b.Items) {
			return fmt.Errorf("%w: straw bucket %d has %d straws for %d items", ErrInvalidMap, b.ID, len(b.Straws), len(b.Items))
		}
	}
	return nil
}

// treeDepth is Ceph's calc_depth: 1 + ceil(log2(size)), 0 for no items.
func treeDepth(size int) int {
	if size == 0 {
		return 0
	}
	return 1 + bits.Len(uint(size-1))
}

// treeNode is the node label of leaf i (crush_calc_tree_node).
func treeNode(i int) int { return ((i + 1) << 1) - 1 }

func treeNodeWeights(weights []uint32) []uint32 {
	depth := treeDepth(len(weights))
	if depth == 0 {
		return nil
	}
	nw := make([]uint32, 1<<depth)
	for i, w := range weights {
		n := treeNode(i)
		nw[n] = w
		for j := 1; j < depth; j++ {
			n = treeParent(n)
			nw[n] += w
		}
	}
	return nw
}

func treeHeight(n int) int { return bits.TrailingZeros(uint(n)) }

func treeParent(n int) int {
	h := treeHeight(n)
	if n&(1<<(h+1)) != 0 {
		return n - (1 << h)
	}
	return n + (1 << h)
}

// itemLabel names an item as crushtool prints it: its name, else
// deviceN or bucketN.
func (m *Map) itemLabel(id int32) string {
	if n, ok := m.ItemName(id); ok {
		return n
	}
	if id >= 0 {
		return fmt.Sprintf("device%d", id)
	}
	return fmt.Sprintf("bucket%d", -1-id)
}

// isShadowName reports whether a bucket name is a shadow name (contains
// '~', which no user name may).
func isShadowName(name string) bool { return strings.Contains(name, "~") }
