package store

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	pb "github.com/loligo/loligo/proto/loligopb"
)

// isWrite reports whether a step changes the object.
// IsWrite reports whether a step changes the object (the write codes are
// numbered together in osd.proto).
func IsWrite(c pb.OpCode) bool { return c >= pb.OpCode_OP_CREATE && c <= pb.OpCode_OP_OMAP_CLEAR }

// Prepare computes the effect of steps on object oid of pg as of the
// store's current state, without changing anything. v is the eversion the
// write will get (ignored for read-only operations; its version becomes
// the generation of rewritten data), mtime its time. txn is nil when no
// step writes; results has one entry per step (empty for write steps). A
// failing step returns a *StepError wrapping a sentinel error.
func (s *Store) Prepare(pg PGID, oid string, steps []*pb.OpStep, v *pb.Eversion, mtime time.Time) (txn *pb.Txn, results []*pb.StepResult, err error) {
	if err := checkName(oid); err != nil {
		return nil, nil, err
	}
	if len(steps) == 0 {
		return nil, nil, fmt.Errorf("operation without steps: %w", ErrInvalid)
	}
	writes := slices.ContainsFunc(steps, func(st *pb.OpStep) bool { return IsWrite(st.GetCode()) })
	if writes && v.GetVersion() == 0 {
		return nil, nil, fmt.Errorf("write without an eversion: %w", ErrInvalid)
	}
	if err := s.enter(); err != nil {
		return nil, nil, err
	}
	defer s.exit()
	disk, err := s.loadMeta(s.db, pg, oid)
	if err != nil {
		return nil, nil, err
	}
	o := newOp(s, pg, oid, disk, mtime)
	results = make([]*pb.StepResult, len(steps))
	for i, st := range steps {
		res, err := o.step(st)
		if err != nil {
			return nil, nil, &StepError{Index: i, Code: st.GetCode(), Err: err}
		}
		results[i] = res
	}
	if !writes {
		return nil, results, nil
	}
	txn, err = o.finish(v)
	if err != nil {
		return nil, nil, err
	}
	return txn, results, nil
}

// op is the state of one object while an operation's steps run: the
// on-disk object (the base) plus the changes of the steps so far.
type op struct {
	s         *Store
	pg        PGID
	oid       string
	cs        uint64
	disk      *pb.ObjectMeta // nil: absent on disk
	inlineOK  bool           // disk's inline data was verified
	stepMtime int64

	exists bool
	size   uint64
	xattrs map[string][]byte
	ver    uint64 // version reported while the operation runs
	mtime  int64

	// Data: chunk i is dirty[i] if present, else the base's chunk i if the
	// base is still valid (!fresh) and i < baseLimit, else absent (zeros).
	fresh     bool
	baseLimit uint64
	dirty     map[uint32][]byte

	removed bool
	payload uint64

	omapClear bool
	omapSet   map[string][]byte
	omapRm    map[string]bool
}

func newOp(s *Store, pg PGID, oid string, disk *pb.ObjectMeta, mtime time.Time) *op {
	o := &op{
		s: s, pg: pg, oid: oid, cs: uint64(s.opts.ChunkSize), disk: disk,
		stepMtime: mtime.UnixNano(),
		baseLimit: 1 << 32,
		dirty:     map[uint32][]byte{},
		xattrs:    map[string][]byte{},
		omapSet:   map[string][]byte{},
		omapRm:    map[string]bool{},
	}
	if disk != nil {
		o.exists = true
		o.size = disk.GetSize()
		o.ver = disk.GetVersion().GetVersion()
		o.mtime = disk.GetMtimeNs()
		maps.Copy(o.xattrs, disk.GetXattrs())
	} else {
		o.fresh = true
	}
	return o
}

// hasBase says whether base chunks may still be read.
func (o *op) hasBase() bool { return !o.fresh && o.disk != nil }

// baseChunked says whether the base is a chunked object.
func (o *op) baseChunked() bool { return o.hasBase() && !o.disk.GetInlined() }

// chunk returns chunk i's current bytes (nil when absent). The slice must
// not be modified.
func (o *op) chunk(i uint32) ([]byte, error) {
	if d, ok := o.dirty[i]; ok {
		return d, nil
	}
	if !o.hasBase() || uint64(i) >= o.baseLimit {
		return nil, nil
	}
	if o.disk.GetInlined() {
		if !o.inlineOK {
			if err := o.s.checkInline(o.pg, o.oid, o.disk); err != nil {
				return nil, err
			}
			o.inlineOK = true
		}
		in := o.disk.GetInline()
		start := uint64(i) * o.cs
		if start >= uint64(len(in)) {
			return nil, nil
		}
		return in[start:min(start+o.cs, uint64(len(in)))], nil
	}
	return o.s.readChunk(o.s.db, o.pg, o.oid, o.disk.GetGen(), i)
}

// read returns the bytes [off, off+n) of the object (within its size).
func (o *op) read(off, n uint64) ([]byte, error) {
	if off >= o.size {
		return []byte{}, nil
	}
	n = min(n, o.size-off)
	buf := make([]byte, n)
	if n == 0 {
		return buf, nil
	}
	end := off + n
	first, last := off/o.cs, (end-1)/o.cs
	copyChunk := func(i uint64, c []byte) {
		cstart := i * o.cs
		lo, hi := max(off, cstart), min(end, cstart+uint64(len(c)))
		if lo < hi {
			copy(buf[lo-off:hi-off], c[lo-cstart:hi-cstart])
		}
	}
	if o.baseChunked() {
		// Iterators over the base's chunks, then the dirty ones on top.
		// A long read runs a few iterators over parts of the range at
		// once: chunks of large objects are usually not in the page cache
		// (they were written with O_DIRECT), and one iterator would wait
		// for the disk a block at a time.
		copyBase := func(idx uint32, data []byte, _ uint64) error {
			if _, ok := o.dirty[idx]; !ok {
				copyChunk(uint64(idx), data)
			}
			return nil
		}
		hi := min(last+1, o.baseLimit)
		if err := o.s.eachChunkParallel(o.pg, o.oid, o.disk.GetGen(), first, hi, copyBase); err != nil {
			return nil, err
		}
		for i, c := range o.dirty {
			if uint64(i) >= first && uint64(i) <= last {
				copyChunk(uint64(i), c)
			}
		}
		return buf, nil
	}
	for i := first; i <= last; i++ {
		c, err := o.chunk(uint32(i))
		if err != nil {
			return nil, err
		}
		copyChunk(i, c)
	}
	return buf, nil
}

// resetData drops all data: the object is empty and needs a new generation.
func (o *op) resetData() {
	o.fresh = true
	o.dirty = map[uint32][]byte{}
	o.size = 0
}

// checkSize rejects object sizes above the limit.
func (o *op) checkSize(end uint64) error {
	if end > o.s.opts.MaxObjectSize {
		return fmt.Errorf("object size %d above %d: %w", end, o.s.opts.MaxObjectSize, ErrTooBig)
	}
	return nil
}

// addPayload counts bytes a step carries against MaxWriteSize.
func (o *op) addPayload(n uint64) error {
	o.payload += n
	if o.payload > o.s.opts.MaxWriteSize {
		return fmt.Errorf("operation carries %d bytes, above %d: %w", o.payload, o.s.opts.MaxWriteSize, ErrTooBig)
	}
	return nil
}

func (o *op) write(off uint64, data []byte) error {
	n := uint64(len(data))
	if n > o.s.opts.MaxWriteSize {
		return fmt.Errorf("write of %d bytes above %d: %w", n, o.s.opts.MaxWriteSize, ErrTooBig)
	}
	if err := o.addPayload(n); err != nil {
		return err
	}
	if off > o.s.opts.MaxObjectSize {
		return o.checkSize(off)
	}
	end := off + n
	if err := o.checkSize(end); err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	if off == 0 && end >= o.size {
		o.resetData() // no old byte survives: a new generation
	}
	for i := off / o.cs; i <= (end-1)/o.cs; i++ {
		cstart := i * o.cs
		lo, hi := max(off, cstart)-cstart, min(end, cstart+o.cs)-cstart
		src := data[cstart+lo-off : cstart+hi-off]
		if lo == 0 && hi == o.cs {
			o.dirty[uint32(i)] = src // a whole chunk: keep the caller's bytes
			continue
		}
		var cur []byte
		if lo > 0 || cstart+hi < o.size {
			c, err := o.chunk(uint32(i))
			if err != nil {
				return err
			}
			cur = c
		}
		buf := make([]byte, max(uint64(len(cur)), hi))
		copy(buf, cur)
		copy(buf[lo:hi], src)
		o.dirty[uint32(i)] = buf
	}
	o.size = max(o.size, end)
	return nil
}

func (o *op) truncate(n uint64) error {
	if err := o.checkSize(n); err != nil {
		return err
	}
	if n < o.size {
		k, rem := n/o.cs, n%o.cs
		limit := k
		for i := range o.dirty {
			if uint64(i) > k || (uint64(i) == k && rem == 0) {
				delete(o.dirty, i)
			}
		}
		if rem != 0 {
			c, err := o.chunk(uint32(k))
			if err != nil {
				return err
			}
			if uint64(len(c)) > rem {
				o.dirty[uint32(k)] = c[:rem:rem]
			}
			limit = k + 1
		}
		o.baseLimit = min(o.baseLimit, limit)
	}
	o.size = n
	return nil
}

func (o *op) zero(off, n uint64) error {
	end := o.size
	if n < o.size-min(off, o.size) {
		end = off + n
	}
	if off >= end {
		return nil
	}
	for i := off / o.cs; i <= (end-1)/o.cs; i++ {
		cstart := i * o.cs
		lo, hi := max(off, cstart)-cstart, min(end, cstart+o.cs)-cstart
		c, err := o.chunk(uint32(i))
		if err != nil {
			return err
		}
		switch {
		case lo >= uint64(len(c)):
			continue // nothing stored there
		case hi >= uint64(len(c)):
			o.dirty[uint32(i)] = c[:lo:lo] // zeros at the end are not stored
		default:
			buf := bytes.Clone(c)
			clear(buf[lo:hi])
			o.dirty[uint32(i)] = buf
		}
	}
	return nil
}

func (o *op) remove() {
	o.exists = false
	o.removed = true
	o.resetData()
	o.ver = 0
	o.xattrs = map[string][]byte{}
	o.omapClear = true
	o.omapSet = map[string][]byte{}
	o.omapRm = map[string]bool{}
}

// notFound is the error of a step that needs the object.
func (o *op) notFound() error {
	return fmt.Errorf("pg %s object %q: %w", o.pg, o.oid, ErrNotFound)
}

func (o *op) checkXattrName(name string) error {
	switch {
	case name == "" || !utf8.ValidString(name):
		return fmt.Errorf("empty or non-UTF-8 xattr name: %w", ErrInvalid)
	case len(name) > o.s.opts.MaxXattrName:
		return fmt.Errorf("xattr name of %d bytes above %d: %w", len(name), o.s.opts.MaxXattrName, ErrTooBig)
	}
	return nil
}

func (o *op) checkOmapKey(k string) error {
	switch {
	case k == "" || !utf8.ValidString(k):
		return fmt.Errorf("empty or non-UTF-8 omap key: %w", ErrInvalid)
	case len(k) > o.s.opts.MaxOmapKey:
		return fmt.Errorf("omap key of %d bytes above %d: %w", len(k), o.s.opts.MaxOmapKey, ErrTooBig)
	}
	return nil
}

func (o *op) checkOmapCount(n int) error {
	if n > o.s.opts.MaxOmapEntries {
		return fmt.Errorf("%d omap entries in one step, above %d: %w", n, o.s.opts.MaxOmapEntries, ErrTooBig)
	}
	return nil
}

// compare evaluates cur <cmp> val.
func compare(cmp pb.CmpOp, cur, val []byte) (bool, error) {
	c := bytes.Compare(cur, val)
	switch cmp {
	case pb.CmpOp_CMP_EQ:
		return c == 0, nil
	case pb.CmpOp_CMP_NE:
		return c != 0, nil
	case pb.CmpOp_CMP_GT:
		return c > 0, nil
	case pb.CmpOp_CMP_GTE:
		return c >= 0, nil
	case pb.CmpOp_CMP_LT:
		return c < 0, nil
	case pb.CmpOp_CMP_LTE:
		return c <= 0, nil
	}
	return false, fmt.Errorf("comparison %v: %w", cmp, ErrInvalid)
}

// omapGet returns the current value of an omap key.
func (o *op) omapGet(k string) ([]byte, bool, error) {
	if v, ok := o.omapSet[k]; ok {
		return v, true, nil
	}
	if o.omapClear || o.omapRm[k] || o.disk == nil {
		return nil, false, nil
	}
	return o.s.get(o.s.db, omapKey(o.pg, o.oid, k))
}

// omapList returns up to max entries with keys after startAfter and with
// prefix, merging the disk's entries with the operation's changes.
func (o *op) omapList(startAfter, prefix string, max int) (keys []string, vals [][]byte, more bool, err error) {
	start := prefix
	if startAfter != "" && startAfter+"\x00" > start {
		start = startAfter + "\x00"
	}
	match := func(k string) bool { return k >= start && strings.HasPrefix(k, prefix) }
	var over []string
	for k := range o.omapSet {
		if match(k) {
			over = append(over, k)
		}
	}
	slices.Sort(over)
	add := func(k string, v []byte) bool {
		if len(keys) == max {
			more = true
			return false
		}
		keys, vals = append(keys, k), append(vals, v)
		return true
	}
	if !o.omapClear && o.disk != nil {
		var upper []byte
		if prefix != "" {
			upper = prefixEnd(omapKey(o.pg, o.oid, prefix))
		}
		err = o.s.eachOmap(o.s.db, o.pg, o.oid, omapKey(o.pg, o.oid, start), upper, func(k string, v []byte) (bool, error) {
			for len(over) > 0 && over[0] < k {
				if !add(over[0], o.omapSet[over[0]]) {
					return false, nil
				}
				over = over[1:]
			}
			if len(over) > 0 && over[0] == k {
				return true, nil // overridden; added from over
			}
			if o.omapRm[k] {
				return true, nil
			}
			return add(k, bytes.Clone(v)), nil
		})
		if err != nil {
			return nil, nil, false, err
		}
	}
	if !more {
		for _, k := range over {
			if !add(k, o.omapSet[k]) {
				break
			}
		}
	}
	return keys, vals, more, nil
}

// omapMax is the page size of an omap listing step.
func (o *op) omapMax(m uint32) int {
	if m == 0 {
		m = defaultOmapMax
	}
	return min(int(m), o.s.opts.MaxOmapEntries)
}

// step runs one step.
func (o *op) step(st *pb.OpStep) (*pb.StepResult, error) {
	res := &pb.StepResult{}
	code := st.GetCode()
	if !IsWrite(code) && !o.exists {
		switch code {
		case pb.OpCode_OP_READ, pb.OpCode_OP_STAT, pb.OpCode_OP_GETXATTR, pb.OpCode_OP_GETXATTRS,
			pb.OpCode_OP_OMAP_GET_KEYS, pb.OpCode_OP_OMAP_GET_VALS, pb.OpCode_OP_OMAP_GET_VALS_BY_KEYS,
			pb.OpCode_OP_CMPXATTR, pb.OpCode_OP_ASSERT_EXISTS, pb.OpCode_OP_OMAP_CMP:
			return nil, o.notFound()
		}
	}
	if IsWrite(code) {
		// Steps that remove something need the object.
		switch code {
		case pb.OpCode_OP_ZERO, pb.OpCode_OP_REMOVE, pb.OpCode_OP_RMXATTR, pb.OpCode_OP_OMAP_RM_KEYS, pb.OpCode_OP_OMAP_CLEAR:
			if !o.exists {
				return nil, o.notFound()
			}
		}
	}
	var err error
	switch code {
	case pb.OpCode_OP_CREATE:
		if o.exists && st.GetExclusive() {
			return nil, fmt.Errorf("pg %s object %q: %w", o.pg, o.oid, ErrExists)
		}
	case pb.OpCode_OP_WRITE:
		err = o.write(st.GetOffset(), st.GetData())
	case pb.OpCode_OP_WRITE_FULL:
		if uint64(len(st.GetData())) > o.s.opts.MaxWriteSize {
			return nil, fmt.Errorf("write of %d bytes above %d: %w", len(st.GetData()), o.s.opts.MaxWriteSize, ErrTooBig)
		}
		o.resetData()
		err = o.write(0, st.GetData())
	case pb.OpCode_OP_APPEND:
		err = o.write(o.size, st.GetData())
	case pb.OpCode_OP_TRUNCATE:
		err = o.truncate(st.GetOffset())
	case pb.OpCode_OP_ZERO:
		err = o.zero(st.GetOffset(), st.GetLength())
	case pb.OpCode_OP_REMOVE:
		o.remove()
		return res, nil
	case pb.OpCode_OP_SETXATTR:
		if err := o.checkXattrName(st.GetName()); err != nil {
			return nil, err
		}
		if len(st.GetValue()) > o.s.opts.MaxXattrValue {
			return nil, fmt.Errorf("xattr value of %d bytes above %d: %w", len(st.GetValue()), o.s.opts.MaxXattrValue, ErrTooBig)
		}
		err = o.addPayload(uint64(len(st.GetValue())))
		o.xattrs[st.GetName()] = st.GetValue()
	case pb.OpCode_OP_RMXATTR:
		if err := o.checkXattrName(st.GetName()); err != nil {
			return nil, err
		}
		if _, ok := o.xattrs[st.GetName()]; !ok {
			return nil, fmt.Errorf("xattr %q: %w", st.GetName(), ErrNoData)
		}
		delete(o.xattrs, st.GetName())
	case pb.OpCode_OP_OMAP_SET:
		if err := o.checkOmapCount(len(st.GetKv())); err != nil {
			return nil, err
		}
		for k, v := range st.GetKv() {
			if err := o.checkOmapKey(k); err != nil {
				return nil, err
			}
			if len(v) > o.s.opts.MaxOmapValue {
				return nil, fmt.Errorf("omap value of %d bytes above %d: %w", len(v), o.s.opts.MaxOmapValue, ErrTooBig)
			}
			if err := o.addPayload(uint64(len(k) + len(v))); err != nil {
				return nil, err
			}
		}
		for k, v := range st.GetKv() {
			if v == nil {
				v = []byte{}
			}
			o.omapSet[k] = v
			delete(o.omapRm, k)
		}
	case pb.OpCode_OP_OMAP_RM_KEYS:
		if err := o.checkOmapCount(len(st.GetKeys())); err != nil {
			return nil, err
		}
		for _, k := range st.GetKeys() {
			if err := o.checkOmapKey(k); err != nil {
				return nil, err
			}
		}
		for _, k := range st.GetKeys() {
			delete(o.omapSet, k)
			if !o.omapClear {
				o.omapRm[k] = true
			}
		}
	case pb.OpCode_OP_OMAP_CLEAR:
		o.omapClear = true
		o.omapSet = map[string][]byte{}
		o.omapRm = map[string]bool{}

	case pb.OpCode_OP_READ:
		n := st.GetLength()
		if n == 0 {
			n = o.size
		}
		res.Data, err = o.read(st.GetOffset(), n)
	case pb.OpCode_OP_STAT:
		res.Size, res.MtimeNs, res.Version = o.size, o.mtime, o.ver
	case pb.OpCode_OP_GETXATTR:
		if err := o.checkXattrName(st.GetName()); err != nil {
			return nil, err
		}
		v, ok := o.xattrs[st.GetName()]
		if !ok {
			return nil, fmt.Errorf("xattr %q: %w", st.GetName(), ErrNoData)
		}
		res.Data = bytes.Clone(v)
		if res.Data == nil {
			res.Data = []byte{}
		}
	case pb.OpCode_OP_GETXATTRS:
		res.Kv = maps.Clone(o.xattrs)
	case pb.OpCode_OP_OMAP_GET_KEYS:
		res.Keys, _, res.More, err = o.omapList(st.GetStartAfter(), "", o.omapMax(st.GetMax()))
	case pb.OpCode_OP_OMAP_GET_VALS:
		var keys []string
		var vals [][]byte
		keys, vals, res.More, err = o.omapList(st.GetStartAfter(), st.GetPrefix(), o.omapMax(st.GetMax()))
		res.Kv = make(map[string][]byte, len(keys))
		for i, k := range keys {
			res.Kv[k] = vals[i]
		}
	case pb.OpCode_OP_OMAP_GET_VALS_BY_KEYS:
		if err := o.checkOmapCount(len(st.GetKeys())); err != nil {
			return nil, err
		}
		res.Kv = map[string][]byte{}
		for _, k := range st.GetKeys() {
			if err := o.checkOmapKey(k); err != nil {
				return nil, err
			}
			v, ok, err := o.omapGet(k)
			if err != nil {
				return nil, err
			}
			if ok {
				res.Kv[k] = bytes.Clone(v)
			}
		}

	case pb.OpCode_OP_CMPXATTR:
		if err := o.checkXattrName(st.GetName()); err != nil {
			return nil, err
		}
		ok, err := compare(st.GetCmp(), o.xattrs[st.GetName()], st.GetValue())
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("xattr %q %v %q is false: %w", st.GetName(), st.GetCmp(), st.GetValue(), ErrCanceled)
		}
	case pb.OpCode_OP_ASSERT_VERSION:
		if o.ver != st.GetVersion() {
			return nil, fmt.Errorf("object version %d, not %d: %w", o.ver, st.GetVersion(), ErrVersion)
		}
	case pb.OpCode_OP_ASSERT_EXISTS:
	case pb.OpCode_OP_OMAP_CMP:
		if err := o.checkOmapCount(len(st.GetKv())); err != nil {
			return nil, err
		}
		if _, err := compare(st.GetCmp(), nil, nil); err != nil {
			return nil, err
		}
		for _, k := range slices.Sorted(maps.Keys(st.GetKv())) {
			if err := o.checkOmapKey(k); err != nil {
				return nil, err
			}
			cur, _, err := o.omapGet(k)
			if err != nil {
				return nil, err
			}
			ok, _ := compare(st.GetCmp(), cur, st.GetKv()[k])
			if !ok {
				return nil, fmt.Errorf("omap %q %v %q is false: %w", k, st.GetCmp(), st.GetKv()[k], ErrCanceled)
			}
		}
	default:
		return nil, fmt.Errorf("unknown op code %d: %w", code, ErrInvalid)
	}
	if err != nil {
		return nil, err
	}
	if IsWrite(code) {
		o.exists = true
		o.mtime = o.stepMtime
	}
	return res, nil
}

// finish turns the operation's changes into a transaction.
func (o *op) finish(v *pb.Eversion) (*pb.Txn, error) {
	txn := &pb.Txn{Oid: o.oid, Remove: o.removed}
	if !o.exists {
		txn.Remove = true
		return txn, nil
	}
	m := &pb.ObjectMeta{
		Size:    o.size,
		Version: &pb.Eversion{Epoch: v.GetEpoch(), Version: v.GetVersion()},
		MtimeNs: o.mtime,
		Xattrs:  o.xattrs,
		Omap:    len(o.omapSet) > 0 || (!o.omapClear && !o.removed && o.disk.GetOmap()),
	}
	txn.Meta = m
	diskChunked := o.disk != nil && !o.disk.GetInlined()
	switch {
	case o.size <= o.s.opts.inlineMax():
		data, err := o.read(0, o.size)
		if err != nil {
			return nil, err
		}
		m.Inlined, m.Inline, m.InlineSum = true, data, o.s.sum(data)
		if diskChunked {
			txn.DropGen = o.disk.GetGen()
		}
	case o.baseChunked():
		// Same generation: write the touched chunks, drop those past a shrink.
		m.Gen = o.disk.GetGen()
		for _, i := range slices.Sorted(maps.Keys(o.dirty)) {
			txn.Chunks = append(txn.Chunks, &pb.Chunk{Index: i, Data: o.dirty[i], Sum: o.s.sum(o.dirty[i])})
		}
		if o.baseLimit < o.s.nchunks(o.disk.GetSize()) {
			txn.DropChunks, txn.DropChunksFrom = true, uint32(o.baseLimit)
		}
	default:
		// A new generation holding every non-empty chunk.
		m.Gen = v.GetVersion()
		if diskChunked {
			if o.disk.GetGen() == m.Gen {
				return nil, fmt.Errorf("pg %s object %q: eversion %d does not give a new generation: %w", o.pg, o.oid, m.Gen, ErrInvalid)
			}
			txn.DropGen = o.disk.GetGen()
		}
		idx := slices.Collect(maps.Keys(o.dirty))
		if o.hasBase() { // an inline base: its few chunks move to the new generation
			for i := range min(o.s.nchunks(o.disk.GetSize()), o.baseLimit) {
				if _, ok := o.dirty[uint32(i)]; !ok {
					idx = append(idx, uint32(i))
				}
			}
		}
		slices.Sort(idx)
		for _, i := range idx {
			c, err := o.chunk(i)
			if err != nil {
				return nil, err
			}
			if len(c) > 0 {
				txn.Chunks = append(txn.Chunks, &pb.Chunk{Index: i, Data: c, Sum: o.s.sum(c)})
			}
		}
	}
	if o.omapClear {
		txn.OmapClear = !o.removed // removal clears the omap already
	}
	txn.OmapRm = slices.Sorted(maps.Keys(o.omapRm))
	if len(o.omapSet) > 0 {
		txn.OmapSet = o.omapSet
	}
	return txn, nil
}
