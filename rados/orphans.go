package rados

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"slices"
	"time"
)

// Orphans calls fn with the name of every piece of a striped object in
// the pool that no head refers to (its name is NAME.~INSTANCE.%08x, and
// the head NAME is absent, plain, or names another instance), an
// instance at a time. Such pieces are left by a put that stopped half
// way (a crash, a lost connection) and by a put or remove that could not
// remove the pieces it replaced. A put under way has such pieces too,
// until it switches the head: an instance is reported only if its newest
// piece was written at least minAge ago, and if its head still does not
// name it when read again just before. fn may remove the pieces it is
// given; an error from it stops Orphans and is returned as is.
func (s *Striper) Orphans(ctx context.Context, minAge time.Duration, fn func(oid string) error) error {
	type key struct{ name, inst string }
	pieces := map[key][]uint64{}
	err := s.IO.ListObjects(ctx, func(oid string) error {
		if name, inst, n, ok := ParsePieceName(oid); ok {
			k := key{name, inst}
			pieces[k] = append(pieces[k], n)
		}
		return nil
	})
	if err != nil {
		return err
	}
	keys := slices.SortedFunc(maps.Keys(pieces), func(a, b key) int {
		return cmp.Or(cmp.Compare(a.name, b.name), cmp.Compare(a.inst, b.inst))
	})
	// current caches each head's instance ("": plain or absent; a head
	// whose layout does not parse keeps every instance).
	current := map[string]string{}
	owned := func(k key, cached bool) (bool, error) {
		inst, ok := current[k.name]
		if !ok || !cached {
			h, err := s.readHead(ctx, k.name, 0)
			if err != nil {
				return false, err
			}
			if inst = h.layout.instance; h.bad != nil {
				inst = "?"
			}
			current[k.name] = inst
		}
		return inst == k.inst || inst == "?", nil
	}
	for _, k := range keys {
		if own, err := owned(k, true); err != nil || own {
			if err != nil {
				return err
			}
			continue
		}
		nums := pieces[k]
		slices.Sort(nums)
		l := stripeLayout{instance: k.inst}
		var newest time.Time
		var left []string
		for _, n := range nums {
			st, err := s.IO.Stat(ctx, l.piece(k.name, n))
			if errors.Is(err, ErrNotFound) {
				continue // removed meanwhile
			}
			if err != nil {
				return err
			}
			if st.ModTime.After(newest) {
				newest = st.ModTime
			}
			left = append(left, l.piece(k.name, n))
		}
		if len(left) == 0 || time.Since(newest) < minAge {
			continue
		}
		if own, err := owned(k, false); err != nil || own {
			if err != nil {
				return err
			}
			continue // a put that just finished
		}
		for _, oid := range left {
			if err := fn(oid); err != nil {
				return err
			}
		}
	}
	return nil
}
