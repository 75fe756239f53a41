package crush

import (
	"fmt"
	"math"
	"sort"
)

// Device classes work through shadow trees, built as Ceph's
// CrushWrapper::populate_classes builds them: for every root that is not
// itself a shadow bucket (most negative id first) and every class
// (ascending class id), the tree below the root is copied depth first.
// The copy of bucket B for class C is named "B~C", has B's algorithm,
// hash and type, and holds, in B's order, B's devices of class C (with
// B's weight for them) and the copies of B's child buckets (with the
// copy's total weight, even 0). Its id is the one it had before (the
// text's "id N class C", or the previous copy's when a map is edited),
// else the highest free negative id that no earlier copy used. "take B
// class C" then takes the copy; straw2 hashes item ids, so the ids matter.

// populateClasses builds the shadow trees of c.m. On failure it stops
// where Ceph stops, keeping the copies completed so far, and returns the
// error; crushtool ignores it unless a rule needs a missing copy.
func (c *compiler) populateClasses() error {
	return c.m.populateClasses(c.textShadow, c.itemID, c.deviceClass)
}

// classBuilder holds the state of one populate_classes pass.
type classBuilder struct {
	m        *Map
	old      map[int32]map[int32]int32 // shadow ids to keep: orig -> class -> id
	used     map[int32]bool            // every id in old
	names    map[string]int32          // item names, updated with the copies
	devClass map[int32]int32           // device id -> class id
	total    map[int32]uint32          // copy id -> its total weight
}

// populateClasses builds the shadow trees of m, which must have none
// (the compiler builds them once; editors trim them first). old gives
// the ids earlier copies had, names the id of every item name (copies
// are added to it) and devClass the class of every classed device.
func (m *Map) populateClasses(old map[int32]map[int32]int32, names map[string]int32, devClass map[int32]int32) error {
	cb := &classBuilder{m: m, old: old, used: map[int32]bool{}, names: names, devClass: devClass, total: map[int32]uint32{}}
	for _, byClass := range old {
		for _, sid := range byClass {
			cb.used[sid] = true
		}
	}
	if m.ClassBuckets == nil {
		m.ClassBuckets = map[int32]map[int32]int32{}
	}
	for _, r := range m.nonShadowRoots() {
		for _, cls := range m.sortedClassIDs() {
			if _, err := cb.clone(r, cls); err != nil {
				return err
			}
		}
	}
	return nil
}

// roots returns the ids of the buckets no bucket holds, ascending (most
// negative first), as Ceph's find_roots.
func (m *Map) roots() []int32 {
	inBucket := map[int32]bool{}
	for _, b := range m.Buckets {
		if b == nil {
			continue
		}
		for _, it := range b.Items {
			inBucket[it] = true
		}
	}
	var roots []int32
	for _, b := range m.Buckets {
		if b != nil && !inBucket[b.ID] {
			roots = append(roots, b.ID)
		}
	}
	sort.Slice(roots, func(i, j int) bool { return roots[i] < roots[j] })
	return roots
}

// nonShadowRoots returns the roots that are not shadow buckets.
func (m *Map) nonShadowRoots() []int32 {
	var out []int32
	for _, r := range m.roots() {
		if !isShadowName(m.Bucket(r).Name) {
			out = append(out, r)
		}
	}
	return out
}

// sortedClassIDs returns the class ids in ascending order.
func (m *Map) sortedClassIDs() []int32 {
	classes := make([]int32, 0, len(m.Classes))
	for id := range m.Classes {
		classes = append(classes, id)
	}
	sort.Slice(classes, func(i, j int) bool { return classes[i] < classes[j] })
	return classes
}

// clone returns the id of the shadow copy of bucket orig for class cls,
// building it (and its children's copies) if needed.
func (cb *classBuilder) clone(orig, cls int32) (int32, error) {
	m := cb.m
	ob := m.Bucket(orig)
	name := ob.Name + "~" + m.Classes[cls]
	if id, ok := cb.names[name]; ok {
		return id, nil
	}
	cp := &Bucket{Name: name, Type: ob.Type, Alg: ob.Alg, Hash: ob.Hash}
	var total uint32
	add := func(item int32, w uint32) error {
		// An empty uniform copy has item weight 0 and Ceph refuses any
		// item of another weight, so classes cannot pass through uniform
		// buckets that hold weighted devices of the class.
		if cp.Alg == AlgUniform && w != 0 {
			return fmt.Errorf("%w: cannot build the %s shadow tree through uniform bucket %s (Ceph cannot either)",
				ErrInvalidMap, m.Classes[cls], ob.Name)
		}
		if uint64(total)+uint64(w) > math.MaxUint32 {
			return fmt.Errorf("%w: shadow bucket %s weights overflow", ErrInvalidMap, name)
		}
		total += w
		cp.Items = append(cp.Items, item)
		cp.Weights = append(cp.Weights, w)
		return nil
	}
	for i, it := range ob.Items {
		if it >= 0 {
			if dc, ok := cb.devClass[it]; !ok || dc != cls {
				continue
			}
			if err := add(it, ob.ItemWeight(i)); err != nil {
				return 0, err
			}
			continue
		}
		child, err := cb.clone(it, cls)
		if err != nil {
			return 0, err
		}
		if err := add(child, cb.total[child]); err != nil {
			return 0, err
		}
	}
	id, ok := cb.old[orig][cls]
	if !ok {
		for id = -1; m.Bucket(id) != nil || cb.used[id]; id-- {
		}
	}
	if other := m.Bucket(id); other != nil {
		return 0, fmt.Errorf("%w: shadow bucket %s wants id %d, which bucket %s already has",
			ErrInvalidMap, name, id, other.Name)
	}
	if id >= 0 || id < -BucketIDLimit {
		return 0, fmt.Errorf("%w: shadow bucket %s would get id %d, outside the bucket id range", ErrInvalidMap, name, id)
	}
	cp.ID = id
	if cp.Alg == AlgStraw {
		cp.Straws = calcStraws(cp.Weights, m.Tunables.StrawCalcVersion)
	}
	m.setBucket(cp)
	cb.names[name] = id
	cb.total[id] = total
	if m.ClassBuckets[orig] == nil {
		m.ClassBuckets[orig] = map[int32]int32{}
	}
	m.ClassBuckets[orig][cls] = id
	return id, nil
}
