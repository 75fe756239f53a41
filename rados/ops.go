package rados

import (
	"time"

	pb "github.com/loligo/loligo/proto/loligopb"
)

// CmpOp is how a guard compares a stored value with the given one
// (byte-wise, as bytes.Compare orders them).
type CmpOp int

// Comparisons; the values are the wire's.
const (
	CmpEQ  CmpOp = CmpOp(pb.CmpOp_CMP_EQ)
	CmpNE  CmpOp = CmpOp(pb.CmpOp_CMP_NE)
	CmpGT  CmpOp = CmpOp(pb.CmpOp_CMP_GT)
	CmpGTE CmpOp = CmpOp(pb.CmpOp_CMP_GTE)
	CmpLT  CmpOp = CmpOp(pb.CmpOp_CMP_LT)
	CmpLTE CmpOp = CmpOp(pb.CmpOp_CMP_LTE)
)

func (c CmpOp) String() string {
	switch c {
	case CmpEQ:
		return "=="
	case CmpNE:
		return "!="
	case CmpGT:
		return ">"
	case CmpGTE:
		return ">="
	case CmpLT:
		return "<"
	case CmpLTE:
		return "<="
	}
	return "cmp?"
}

// defaultOmapMax is how many omap entries a listing returns when the
// caller asks for max <= 0.
const defaultOmapMax = 1000

func omapMax(max int) uint32 {
	if max <= 0 {
		return defaultOmapMax
	}
	if max > 1<<31 {
		return 1 << 31
	}
	return uint32(max)
}

// ObjectStat is an object's size, modification time and version.
type ObjectStat struct {
	Size    uint64
	ModTime time.Time
	Version uint64
}

func statFrom(r *pb.StepResult) ObjectStat {
	st := ObjectStat{Size: r.GetSize(), Version: r.GetVersion()}
	if ns := r.GetMtimeNs(); ns != 0 {
		st.ModTime = time.Unix(0, ns)
	}
	return st
}

// guards are the steps WriteOp and ReadOp share.
func cmpXattrStep(name string, op CmpOp, value []byte) *pb.OpStep {
	return &pb.OpStep{Code: pb.OpCode_OP_CMPXATTR, Name: name, Cmp: pb.CmpOp(op), Value: value}
}

func assertVersionStep(v uint64) *pb.OpStep {
	return &pb.OpStep{Code: pb.OpCode_OP_ASSERT_VERSION, Version: v}
}

func assertExistsStep() *pb.OpStep { return &pb.OpStep{Code: pb.OpCode_OP_ASSERT_EXISTS} }

func omapCmpStep(kv map[string][]byte, op CmpOp) *pb.OpStep {
	return &pb.OpStep{Code: pb.OpCode_OP_OMAP_CMP, Kv: kv, Cmp: pb.CmpOp(op)}
}

// WriteOp is a compound write: its steps run in order on one object and
// are applied atomically, all or nothing; a failed guard fails the whole
// operation. Build it with the methods (they return the op for
// chaining) and run it with IOContext.Operate. Data slices are sent as
// they are: do not change them until Operate returns.
type WriteOp struct {
	steps []*pb.OpStep
}

// NewWriteOp returns an empty write operation.
func NewWriteOp() *WriteOp { return &WriteOp{} }

func (w *WriteOp) add(s *pb.OpStep) *WriteOp {
	w.steps = append(w.steps, s)
	return w
}

// Create creates the object; exclusive fails the operation with
// ErrExists if it exists, otherwise an existing object is left as is.
func (w *WriteOp) Create(exclusive bool) *WriteOp {
	return w.add(&pb.OpStep{Code: pb.OpCode_OP_CREATE, Exclusive: exclusive})
}

// Write writes data at off, extending the object if needed.
func (w *WriteOp) Write(data []byte, off uint64) *WriteOp {
	return w.add(&pb.OpStep{Code: pb.OpCode_OP_WRITE, Offset: off, Data: data})
}

// WriteFull replaces the object's data with data.
func (w *WriteOp) WriteFull(data []byte) *WriteOp {
	return w.add(&pb.OpStep{Code: pb.OpCode_OP_WRITE_FULL, Data: data})
}

// Append writes data at the object's end.
func (w *WriteOp) Append(data []byte) *WriteOp {
	return w.add(&pb.OpStep{Code: pb.OpCode_OP_APPEND, Data: data})
}

// Truncate sets the object's size.
func (w *WriteOp) Truncate(size uint64) *WriteOp {
	return w.add(&pb.OpStep{Code: pb.OpCode_OP_TRUNCATE, Offset: size})
}

// Zero zeroes length bytes at off.
func (w *WriteOp) Zero(off, length uint64) *WriteOp {
	return w.add(&pb.OpStep{Code: pb.OpCode_OP_ZERO, Offset: off, Length: length})
}

// Remove removes the object with its xattrs and omap.
func (w *WriteOp) Remove() *WriteOp { return w.add(&pb.OpStep{Code: pb.OpCode_OP_REMOVE}) }

// SetXattr sets an extended attribute.
func (w *WriteOp) SetXattr(name string, value []byte) *WriteOp {
	return w.add(&pb.OpStep{Code: pb.OpCode_OP_SETXATTR, Name: name, Value: value})
}

// RmXattr removes an extended attribute.
func (w *WriteOp) RmXattr(name string) *WriteOp {
	return w.add(&pb.OpStep{Code: pb.OpCode_OP_RMXATTR, Name: name})
}

// OmapSet sets omap entries.
func (w *WriteOp) OmapSet(kv map[string][]byte) *WriteOp {
	return w.add(&pb.OpStep{Code: pb.OpCode_OP_OMAP_SET, Kv: kv})
}

// OmapRmKeys removes omap entries.
func (w *WriteOp) OmapRmKeys(keys []string) *WriteOp {
	return w.add(&pb.OpStep{Code: pb.OpCode_OP_OMAP_RM_KEYS, Keys: keys})
}

// OmapClear removes every omap entry.
func (w *WriteOp) OmapClear() *WriteOp { return w.add(&pb.OpStep{Code: pb.OpCode_OP_OMAP_CLEAR}) }

// CmpXattr guards the operation: the xattr (empty if absent) must
// compare to value as op says, else the operation fails with
// ErrCanceled.
func (w *WriteOp) CmpXattr(name string, op CmpOp, value []byte) *WriteOp {
	return w.add(cmpXattrStep(name, op, value))
}

// AssertVersion guards the operation: the object's version must be v,
// else it fails with ErrVersion.
func (w *WriteOp) AssertVersion(v uint64) *WriteOp { return w.add(assertVersionStep(v)) }

// AssertExists guards the operation: the object must exist, else it
// fails with ErrNotFound.
func (w *WriteOp) AssertExists() *WriteOp { return w.add(assertExistsStep()) }

// OmapCmp guards the operation: each key's omap value (empty if absent)
// must compare to the given value as op says, else it fails with
// ErrCanceled.
func (w *WriteOp) OmapCmp(kv map[string][]byte, op CmpOp) *WriteOp {
	return w.add(omapCmpStep(kv, op))
}

// ReadOp is a compound read: its steps run in order on one object. The
// methods that read return handles that IOContext.OperateRead fills in
// when the whole operation succeeds; guards fail the operation.
type ReadOp struct {
	steps []*pb.OpStep
	fill  []func(*pb.StepResult)
}

// NewReadOp returns an empty read operation.
func NewReadOp() *ReadOp { return &ReadOp{} }

func (r *ReadOp) add(s *pb.OpStep, fill func(*pb.StepResult)) {
	r.steps = append(r.steps, s)
	r.fill = append(r.fill, fill)
}

// ReadResult holds the data of a Read step.
type ReadResult struct{ Data []byte }

// StatResult holds the outcome of a Stat step.
type StatResult struct{ ObjectStat }

// XattrResult holds the value of a GetXattr step.
type XattrResult struct{ Value []byte }

// XattrsResult holds every xattr, from a GetXattrs step.
type XattrsResult struct{ Attrs map[string][]byte }

// OmapKeysResult holds a page of omap keys; More says that keys follow.
type OmapKeysResult struct {
	Keys []string
	More bool
}

// OmapValsResult holds omap entries; More says that entries follow.
type OmapValsResult struct {
	Vals map[string][]byte
	More bool
}

// Read reads length bytes at off (0: to the end). Reading past the end
// returns what there is.
func (r *ReadOp) Read(off, length uint64) *ReadResult {
	res := &ReadResult{}
	r.add(&pb.OpStep{Code: pb.OpCode_OP_READ, Offset: off, Length: length},
		func(s *pb.StepResult) { res.Data = s.GetData() })
	return res
}

// Stat reads the object's size, modification time and version.
func (r *ReadOp) Stat() *StatResult {
	res := &StatResult{}
	r.add(&pb.OpStep{Code: pb.OpCode_OP_STAT}, func(s *pb.StepResult) { res.ObjectStat = statFrom(s) })
	return res
}

// GetXattr reads one xattr; an absent one fails the operation with
// ErrNoData.
func (r *ReadOp) GetXattr(name string) *XattrResult {
	res := &XattrResult{}
	r.add(&pb.OpStep{Code: pb.OpCode_OP_GETXATTR, Name: name}, func(s *pb.StepResult) { res.Value = s.GetData() })
	return res
}

// GetXattrs reads every xattr.
func (r *ReadOp) GetXattrs() *XattrsResult {
	res := &XattrsResult{}
	r.add(&pb.OpStep{Code: pb.OpCode_OP_GETXATTRS}, func(s *pb.StepResult) { res.Attrs = nonNil(s.GetKv()) })
	return res
}

// OmapGetKeys lists up to max (<= 0: 1000) omap keys after startAfter,
// in order.
func (r *ReadOp) OmapGetKeys(startAfter string, max int) *OmapKeysResult {
	res := &OmapKeysResult{}
	r.add(&pb.OpStep{Code: pb.OpCode_OP_OMAP_GET_KEYS, StartAfter: startAfter, Max: omapMax(max)},
		func(s *pb.StepResult) { res.Keys, res.More = s.GetKeys(), s.GetMore() })
	return res
}

// OmapGetVals lists up to max (<= 0: 1000) omap entries after
// startAfter whose keys start with prefix.
func (r *ReadOp) OmapGetVals(startAfter, prefix string, max int) *OmapValsResult {
	res := &OmapValsResult{}
	r.add(&pb.OpStep{Code: pb.OpCode_OP_OMAP_GET_VALS, StartAfter: startAfter, Prefix: prefix, Max: omapMax(max)},
		func(s *pb.StepResult) { res.Vals, res.More = nonNil(s.GetKv()), s.GetMore() })
	return res
}

// OmapGetValsByKeys reads the omap entries of the given keys; absent
// keys are left out.
func (r *ReadOp) OmapGetValsByKeys(keys []string) *OmapValsResult {
	res := &OmapValsResult{}
	r.add(&pb.OpStep{Code: pb.OpCode_OP_OMAP_GET_VALS_BY_KEYS, Keys: keys},
		func(s *pb.StepResult) { res.Vals = nonNil(s.GetKv()) })
	return res
}

// CmpXattr guards the operation (see WriteOp.CmpXattr).
func (r *ReadOp) CmpXattr(name string, op CmpOp, value []byte) *ReadOp {
	r.add(cmpXattrStep(name, op, value), nil)
	return r
}

// AssertVersion guards the operation (see WriteOp.AssertVersion).
func (r *ReadOp) AssertVersion(v uint64) *ReadOp {
	r.add(assertVersionStep(v), nil)
	return r
}

// AssertExists guards the operation (see WriteOp.AssertExists).
func (r *ReadOp) AssertExists() *ReadOp {
	r.add(assertExistsStep(), nil)
	return r
}

// OmapCmp guards the operation (see WriteOp.OmapCmp).
func (r *ReadOp) OmapCmp(kv map[string][]byte, op CmpOp) *ReadOp {
	r.add(omapCmpStep(kv, op), nil)
	return r
}

// complete fills the handles from a successful reply's step results.
func (r *ReadOp) complete(results []*pb.StepResult) {
	for i, f := range r.fill {
		if f == nil {
			continue
		}
		var s *pb.StepResult
		if i < len(results) {
			s = results[i]
		}
		f(s) // the getters of a nil StepResult return zero values
	}
}

func nonNil(m map[string][]byte) map[string][]byte {
	if m == nil {
		return map[string][]byte{}
	}
	return m
}
