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
// copy's total weight, even 0). Its id is the one the text gave with
// "id N class C", else the highest free negative id. "take B class C"
// then takes the copy; straw2 hashes item ids, so the ids matter.

// populateClasses builds the shadow trees of c.m. On failure it stops
// where Ceph stops, keeping the copies completed so far, and returns the
// error; crushtool ignores it unless a rule needs a missing copy.
func (c *compiler) populateClasses() error {
	m := c.m
	used := map[int32]bool{}
	for _, byClass := range c.textShadow {
		for _, sid := range byClass {
			used[sid] = true
		}
	}
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
		if b != nil && !inBucket[b.ID] && !isShadowName(b.Name) {
			roots = append(roots, b.ID)
		}
	}
	sort.Slice(roots, func(i, j int) bool { return roots[i] < roots[j] })
	classes := make([]int32, 0, len(m.Classes))
	for id := range m.Classes {
		classes = append(classes, id)
	}
	sort.Slice(classes, func(i, j int) bool { return classes[i] < classes[j] })
	for _, r := range roots {
		for _, cls := range classes {
			if _, err := c.cloneForClass(r, cls, used); err != nil {
				return err
			}
		}
	}
	return nil
}

// cloneForClass returns the id of the shadow copy of bucket orig for
// class cls, building it (and its children's copies) if needed.
func (c *compiler) cloneForClass(orig, cls int32, used map[int32]bool) (int32, error) {
	m := c.m
	ob := m.Bucket(orig)
	name := ob.Name + "~" + m.Classes[cls]
	if id, ok := c.itemID[name]; ok {
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
			if dc, ok := c.deviceClass[it]; !ok || dc != cls {
				continue
			}
			if err := add(it, ob.ItemWeight(i)); err != nil {
				return 0, err
			}
			continue
		}
		child, err := c.cloneForClass(it, cls, used)
		if err != nil {
			return 0, err
		}
		if err := add(child, c.bucketTotal[child]); err != nil {
			return 0, err
		}
	}
	id, ok := c.textShadow[orig][cls]
	if !ok {
		for id = -1; m.Bucket(id) != nil || used[id]; id-- {
		}
	}
	if other := m.Bucket(id); other != nil {
		return 0, fmt.Errorf("%w: shadow bucket %s wants id %d, which bucket %s already has",
			ErrInvalidMap, name, id, other.Name)
	}
	cp.ID = id
	if cp.Alg == AlgStraw {
		cp.Straws = calcStraws(cp.Weights, m.Tunables.StrawCalcVersion)
	}
	m.setBucket(cp)
	c.itemID[name] = id
	c.bucketTotal[id] = total
	if m.ClassBuckets[orig] == nil {
		m.ClassBuckets[orig] = map[int32]int32{}
	}
	m.ClassBuckets[orig][cls] = id
	return id, nil
}
