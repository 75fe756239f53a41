package crush

// This file is crush_do_rule and its two choosers, transcribed with the
// same control flow as Ceph's mapper.c so that every retry counter, every
// r value and every collision check matches.

// Mapper maps inputs through a finalized Map. It owns scratch space, so it
// allocates nothing per mapping once warm. A Mapper is not safe for
// concurrent use; create one per goroutine (they are cheap).
type Mapper struct {
	m       *Map
	gen     uint32
	work    []permWork
	scratch []int32

	// per-call state
	x       uint32
	weights []uint32
	args    ChooseArgMap
}

// NewMapper returns a Mapper over m. m must have been finalized. The
// per-bucket permutation state it needs (uniform buckets and the legacy
// local fallback) grows on first use.
func (m *Map) NewMapper() *Mapper {
	return &Mapper{m: m}
}

// Do returns the items rule maps x to, for numRep replicas, given the
// per-device reweight vector weights (16.16, indexed by device id; a
// device beyond the vector or at 0 is out). It uses the choose_args of
// DefaultChooseArgs if the map has them. It is a convenience over
// Mapper.Do for one-off calls.
func (m *Map) Do(rule int, x uint32, numRep int, weights []uint32) []int32 {
	return m.NewMapper().Do(rule, x, numRep, weights, m.ChooseArgsFor(DefaultChooseArgs), nil)
}

// ChooseArgsFor returns the weight sets for index (a pool id, or 0 for
// crushtool), falling back to DefaultChooseArgs, or nil.
func (m *Map) ChooseArgsFor(index int64) ChooseArgMap {
	if a, ok := m.ChooseArgs[index]; ok {
		return a
	}
	return m.ChooseArgs[DefaultChooseArgs]
}

// Do appends to out[:0] the result of rule for input x with numRep
// replicas and returns it. Replicated (firstn) rules return only the
// items they found; indep rules return numRep positions with ItemNone in
// the holes. A rule id that does not exist maps to nothing, and so does a
// numRep outside 1..MaxResult. args are the
// choose_args weight sets to use (see Map.ChooseArgsFor), nil for none.
func (mp *Mapper) Do(ruleID int, x uint32, numRep int, weights []uint32, args ChooseArgMap, out []int32) []int32 {
	m := mp.m
	if !m.finalized {
		panic("crush: Mapper.Do on a map that was not finalized")
	}
	out = out[:0]
	rule := m.Rule(ruleID)
	if rule == nil || numRep <= 0 || numRep > MaxResult {
		return out
	}
	mp.gen++
	if mp.gen == 0 { // wrapped: invalidate every cached permutation
		for i := range mp.work {
			mp.work[i].gen = 0
		}
		mp.gen = 1
	}
	mp.x, mp.weights, mp.args = x, weights, args

	if cap(mp.scratch) < 3*numRep {
		mp.scratch = make([]int32, 3*numRep)
	}
	s := mp.scratch[:3*numRep]
	w, o, c := s[:numRep], s[numRep:2*numRep], s[2*numRep:]
	wsize := 0

	t := &m.Tunables
	chooseTries := t.ChooseTotalTries + 1 // Ceph stored retries, not tries
	var chooseLeafTries uint32
	localRetries := t.ChooseLocalTries
	fallbackRetries := t.ChooseLocalFallbackTries
	varyR := t.ChooseleafVaryR
	stable := t.ChooseleafStable

	for _, st := range rule.Steps {
		switch st.Op {
		case OpTake:
			if (st.Arg1 >= 0 && st.Arg1 < m.maxDevices) || m.Bucket(st.Arg1) != nil {
				w[0] = st.Arg1
				wsize = 1
			}
		case OpSetChooseTries:
			if st.Arg1 > 0 {
				chooseTries = uint32(st.Arg1)
			}
		case OpSetChooseLeafTries:
			if st.Arg1 > 0 {
				chooseLeafTries = uint32(st.Arg1)
			}
		case OpSetChooseLocalTries:
			if st.Arg1 >= 0 {
				localRetries = uint32(st.Arg1)
			}
		case OpSetChooseLocalFallbackTries:
			if st.Arg1 >= 0 {
				fallbackRetries = uint32(st.Arg1)
			}
		case OpSetChooseLeafVaryR:
			if st.Arg1 >= 0 {
				varyR = uint32(st.Arg1)
			}
		case OpSetChooseLeafStable:
			if st.Arg1 >= 0 {
				stable = uint32(st.Arg1)
			}
		case OpChooseFirstN, OpChooseLeafFirstN, OpChooseIndep, OpChooseLeafIndep:
			if wsize == 0 {
				break
			}
			firstn := st.Op == OpChooseFirstN || st.Op == OpChooseLeafFirstN
			leaf := st.Op == OpChooseLeafFirstN || st.Op == OpChooseLeafIndep
			osize := 0
			for i := 0; i < wsize; i++ {
				n := int(st.Arg1)
				if n <= 0 {
					n += numRep
					if n <= 0 {
						continue
					}
				}
				b := m.Bucket(w[i])
				if b == nil { // a device, or ItemNone from an indep step
					continue
				}
				if firstn {
					recurseTries := chooseTries
					if chooseLeafTries != 0 {
						recurseTries = chooseLeafTries
					} else if t.ChooseleafDescendOnce != 0 {
						recurseTries = 1
					}
					osize += mp.chooseFirstN(b, n, st.Arg2, o[osize:], 0, numRep-osize,
						chooseTries, recurseTries, localRetries, fallbackRetries,
						leaf, varyR, stable, c[osize:], 0)
				} else {
					size := min(n, numRep-osize)
					leafTries := chooseLeafTries
					if leafTries == 0 {
						leafTries = 1
					}
					mp.chooseIndep(b, size, n, st.Arg2, o[osize:], 0, chooseTries, leafTries,
						leaf, c[osize:], 0)
					osize += size
				}
			}
			if leaf {
				copy(o, c[:osize])
			}
			w, o = o, w
			wsize = osize
		case OpEmit:
			for i := 0; i < wsize && len(out) < numRep; i++ {
				out = append(out, w[i])
			}
			wsize = 0
		}
	}
	return out
}

// isOut is the reweight test: a device whose reweight is below 1.0 is
// kept for a weight-proportional share of inputs.
func (mp *Mapper) isOut(item int32) bool {
	// A negative item here is a bucket of type 0, which Finalize refuses;
	// Ceph would read before its weight vector.
	if item < 0 || int(item) >= len(mp.weights) {
		return true
	}
	w := mp.weights[item]
	if w >= WeightOne {
		return false
	}
	if w == 0 {
		return true
	}
	return Hash2(mp.x, uint32(item))&0xffff >= w
}

func (mp *Mapper) bucketChoose(b *Bucket, r int32, position int) int32 {
	switch b.Alg {
	case AlgStraw2:
		var arg *ChooseArg
		if p := -1 - int(b.ID); p < len(mp.args) {
			arg = mp.args[p]
		}
		return straw2Choose(b, mp.x, r, arg, position)
	case AlgUniform:
		return mp.permChoose(b, r)
	case AlgList:
		return listChoose(b, mp.x, r)
	case AlgTree:
		return treeChoose(b, mp.x, r)
	case AlgStraw:
		return strawChoose(b, mp.x, r)
	}
	return b.Items[0]
}

func (mp *Mapper) permChoose(b *Bucket, r int32) int32 {
	p := -1 - int(b.ID)
	if p >= len(mp.work) {
		mp.work = append(mp.work, make([]permWork, p+1-len(mp.work))...)
	}
	return permChoose(b, &mp.work[p], mp.gen, mp.x, r)
}

// itemType is the type of an item: 0 for devices.
func (mp *Mapper) itemType(item int32) int32 {
	if item < 0 {
		return mp.m.Buckets[-1-item].Type
	}
	return 0
}

// chooseFirstN chooses up to numrep distinct items of type typ below
// bucket, writing them to out[outpos:] (and their leaves to out2 when
// recurseToLeaf), and returns the new outpos. Replicas it cannot place
// are skipped, so later ones shift left.
func (mp *Mapper) chooseFirstN(bucket *Bucket, numrep int, typ int32, out []int32, outpos, outSize int,
	tries, recurseTries, localRetries, fallbackRetries uint32, recurseToLeaf bool,
	varyR, stable uint32, out2 []int32, parentR int32) int {
	m := mp.m
	count := outSize
	rep := outpos
	if stable != 0 {
		rep = 0
	}
	for ; rep < numrep && count > 0; rep++ {
		var item int32
		ftotal := uint32(0)
		skipRep := false
		for {
			retryDescent := false
			in := bucket
			flocal := uint32(0)
			for {
				collide, reject, retryBucket := false, false, false
				r := int32(rep) + parentR + int32(ftotal)
				if len(in.Items) == 0 {
					reject = true
				} else {
					if fallbackRetries > 0 && flocal >= uint32(len(in.Items))>>1 && flocal > fallbackRetries {
						item = mp.permChoose(in, r)
					} else {
						item = mp.bucketChoose(in, r, outpos)
					}
					if item >= m.maxDevices {
						skipRep = true
						break
					}
					itemType := mp.itemType(item)
					if itemType != typ {
						if item >= 0 {
							skipRep = true
							break
						}
						in = m.Buckets[-1-item]
						continue // descend with the same r
					}
					for i := 0; i < outpos; i++ {
						if out[i] == item {
							collide = true
							break
						}
					}
					if !collide && recurseToLeaf {
						if item < 0 {
							subR := int32(0)
							if varyR != 0 {
								subR = r >> ((varyR - 1) & 31)
							}
							n := outpos + 1
							if stable != 0 {
								n = 1
							}
							if mp.chooseFirstN(m.Buckets[-1-item], n, 0, out2, outpos, count,
								recurseTries, 0, localRetries, fallbackRetries, false,
								varyR, stable, nil, subR) <= outpos {
								reject = true // no leaf below it
							}
						} else {
							out2[outpos] = item // already a leaf
						}
					}
					if !reject && !collide && itemType == 0 {
						reject = mp.isOut(item)
					}
				}
				if reject || collide {
					ftotal++
					flocal++
					switch {
					case collide && flocal <= localRetries:
						retryBucket = true
					case fallbackRetries > 0 && flocal <= uint32(len(in.Items))+fallbackRetries:
						retryBucket = true
					case ftotal < tries:
						retryDescent = true
					default:
						skipRep = true
					}
				}
				if !retryBucket {
					break
				}
			}
			if !retryDescent {
				break
			}
		}
		if skipRep {
			continue
		}
		out[outpos] = item
		outpos++
		count--
	}
	return outpos
}

// chooseIndep fills out[outpos:outpos+left] with distinct items of type
// typ, position by position, so that a failed item only changes its own
// position. Positions it cannot fill become ItemNone.
func (mp *Mapper) chooseIndep(bucket *Bucket, left, numrep int, typ int32, out []int32, outpos int,
	tries, recurseTries uint32, recurseToLeaf bool, out2 []int32, parentR int32) {
	m := mp.m
	endpos := outpos + left
	for rep := outpos; rep < endpos; rep++ {
		out[rep] = itemUndef
		if out2 != nil {
			out2[rep] = itemUndef
		}
	}
	for ftotal := uint32(0); left > 0 && ftotal < tries; ftotal++ {
		for rep := outpos; rep < endpos; rep++ {
			if out[rep] != itemUndef {
				continue
			}
			in := bucket
			for {
				r := int32(rep) + parentR
				if in.Alg == AlgUniform && len(in.Items)%numrep == 0 {
					r += int32(numrep+1) * int32(ftotal)
				} else {
					r += int32(numrep) * int32(ftotal)
				}
				if len(in.Items) == 0 {
					break
				}
				item := mp.bucketChoose(in, r, outpos)
				if item >= m.maxDevices {
					out[rep] = ItemNone
					if out2 != nil {
						out2[rep] = ItemNone
					}
					left--
					break
				}
				itemType := mp.itemType(item)
				if itemType != typ {
					if item >= 0 {
						out[rep] = ItemNone
						if out2 != nil {
							out2[rep] = ItemNone
						}
						left--
						break
					}
					in = m.Buckets[-1-item]
					continue
				}
				collide := false
				for i := outpos; i < endpos; i++ {
					if out[i] == item {
						collide = true
						break
					}
				}
				if collide {
					break
				}
				if recurseToLeaf {
					if item < 0 {
						mp.chooseIndep(m.Buckets[-1-item], 1, numrep, 0, out2, rep, recurseTries, 0,
							false, nil, r)
						if out2[rep] == ItemNone {
							break // no leaf below it
						}
					} else {
						out2[rep] = item
					}
				}
				if itemType == 0 && mp.isOut(item) {
					break
				}
				out[rep] = item
				left--
				break
			}
		}
	}
	for rep := outpos; rep < endpos; rep++ {
		if out[rep] == itemUndef {
			out[rep] = ItemNone
		}
		if out2 != nil && out2[rep] == itemUndef {
			out2[rep] = ItemNone
		}
	}
}
