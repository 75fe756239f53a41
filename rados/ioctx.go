package rados

import (
	"context"
	"fmt"

	"github.com/loligo/loligo/clustermap"
	pb "github.com/loligo/loligo/proto/loligopb"
)

// IOContext is a handle on one pool for object I/O. It is safe for
// concurrent use; every call finds the object's PG and its primary OSD in
// the connection's newest map.
type IOContext struct {
	c    *Conn
	pool int64
	name string
}

// OpenPool returns an I/O context for the named pool, starting to follow
// the cluster map if the connection does not yet.
func (c *Conn) OpenPool(ctx context.Context, name string) (*IOContext, error) {
	ctx, cancel := c.withDeadline(ctx)
	defer cancel()
	m, err := c.ensureMap(ctx)
	if err != nil {
		return nil, err
	}
	p, err := m.PoolByName(name)
	if err != nil {
		// The pool may be newer than the map held: ask for the newest.
		latest, lerr := c.Map(ctx)
		if lerr != nil {
			return nil, lerr
		}
		if p, err = latest.PoolByName(name); err != nil {
			return nil, &Error{Kind: ErrNotFound, Step: -1,
				Msg: fmt.Sprintf("pool %q does not exist in epoch %d (radosctl pool ls lists the pools)", name, latest.Epoch)}
		}
		if err := c.waitEpoch(ctx, latest.Epoch, -1); err != nil {
			if err == errClosed {
				return nil, err
			}
			return nil, &Error{Kind: ErrUnavailable, Step: -1,
				Msg: fmt.Sprintf("pool %q: the connection did not get epoch %d in time", name, latest.Epoch)}
		}
	}
	return &IOContext{c: c, pool: p.ID, name: p.Name}, nil
}

// PoolName is the pool's name.
func (io *IOContext) PoolName() string { return io.name }

// PoolID is the pool's id.
func (io *IOContext) PoolID() int64 { return io.pool }

func (io *IOContext) locate(oid string) func(m *clustermap.Map) (clustermap.PGID, error) {
	return func(m *clustermap.Map) (clustermap.PGID, error) {
		pg, err := m.ObjectPG(io.pool, oid, "")
		if err != nil {
			return pg, io.poolGone(m)
		}
		return pg, nil
	}
}

func (io *IOContext) poolGone(m *clustermap.Map) error {
	return &Error{Kind: ErrNotFound, Step: -1,
		Msg: fmt.Sprintf("pool %q (id %d) no longer exists in epoch %d", io.name, io.pool, m.Epoch)}
}

func isWrite(steps []*pb.OpStep) bool {
	for _, s := range steps {
		if c := s.GetCode(); c >= pb.OpCode_OP_CREATE && c <= pb.OpCode_OP_OMAP_CLEAR {
			return true
		}
	}
	return false
}

// op runs one operation on an object, resending it (with the same
// ReqID) as the map changes or OSDs fail, and maps the result.
func (io *IOContext) op(ctx context.Context, oid string, steps []*pb.OpStep) (*pb.OpReply, error) {
	if err := checkObjectName(io.name, oid); err != nil {
		return nil, err
	}
	what := io.name + "/" + oid
	if len(steps) == 0 {
		return nil, &Error{Kind: ErrInvalid, Msg: what + ": operation has no steps", Step: -1}
	}
	for i, s := range steps {
		if err := checkStepNames(what, i, s); err != nil {
			return nil, err
		}
	}
	req := &pb.OpRequest{Reqid: io.c.newReqID(), Pool: io.pool, Oid: oid, Steps: steps}
	var rep *pb.OpReply
	err := io.c.callPrimary(ctx, pgCall{
		what:   what,
		write:  isWrite(steps),
		locate: io.locate(oid),
		send: func(ctx context.Context, cl pb.OSDClient, epoch uint64, pg clustermap.PGID) (pb.Result, uint64, error) {
			req.Epoch, req.Ps = epoch, pg.Seed
			r, err := cl.Op(ctx, req)
			if err != nil {
				return 0, 0, err
			}
			rep = r
			return r.GetResult(), r.GetRetryEpoch(), nil
		},
	})
	if err != nil {
		return nil, err
	}
	if err := replyError(io.name, oid, steps, rep); err != nil {
		return nil, err
	}
	return rep, nil
}

// Operate runs a compound write on an object and returns the object's
// version afterwards (0 if the operation removed it). On failure nothing
// of it is applied; a failed step's error is an *Error whose Step is the
// step's index.
func (io *IOContext) Operate(ctx context.Context, oid string, op *WriteOp) (uint64, error) {
	rep, err := io.op(ctx, oid, op.steps)
	if err != nil {
		return 0, err
	}
	return rep.GetVersion(), nil
}

// OperateRead runs a compound read on an object and fills in the handles
// its steps returned.
func (io *IOContext) OperateRead(ctx context.Context, oid string, op *ReadOp) error {
	rep, err := io.op(ctx, oid, op.steps)
	if err != nil {
		return err
	}
	op.complete(rep.GetSteps())
	return nil
}

func (io *IOContext) write(ctx context.Context, oid string, op *WriteOp) error {
	_, err := io.Operate(ctx, oid, op)
	return err
}

// Create creates an object; exclusive fails with ErrExists if it
// exists.
func (io *IOContext) Create(ctx context.Context, oid string, exclusive bool) error {
	return io.write(ctx, oid, NewWriteOp().Create(exclusive))
}

// Write writes data at off, creating the object if needed.
func (io *IOContext) Write(ctx context.Context, oid string, data []byte, off uint64) error {
	return io.write(ctx, oid, NewWriteOp().Write(data, off))
}

// WriteFull replaces the object's data with data, creating it if needed.
func (io *IOContext) WriteFull(ctx context.Context, oid string, data []byte) error {
	return io.write(ctx, oid, NewWriteOp().WriteFull(data))
}

// Append writes data at the object's end, creating it if needed.
func (io *IOContext) Append(ctx context.Context, oid string, data []byte) error {
	return io.write(ctx, oid, NewWriteOp().Append(data))
}

// Truncate sets the object's size.
func (io *IOContext) Truncate(ctx context.Context, oid string, size uint64) error {
	return io.write(ctx, oid, NewWriteOp().Truncate(size))
}

// Zero zeroes length bytes at off.
func (io *IOContext) Zero(ctx context.Context, oid string, off, length uint64) error {
	return io.write(ctx, oid, NewWriteOp().Zero(off, length))
}

// Remove removes the object; ErrNotFound if it does not exist.
func (io *IOContext) Remove(ctx context.Context, oid string) error {
	return io.write(ctx, oid, NewWriteOp().Remove())
}

// Read reads length bytes at off (length 0: to the end); fewer at the
// object's end. The returned slice is the reply's own.
func (io *IOContext) Read(ctx context.Context, oid string, off, length uint64) ([]byte, error) {
	op := NewReadOp()
	r := op.Read(off, length)
	if err := io.OperateRead(ctx, oid, op); err != nil {
		return nil, err
	}
	return r.Data, nil
}

// Stat returns the object's size, modification time and version.
func (io *IOContext) Stat(ctx context.Context, oid string) (ObjectStat, error) {
	op := NewReadOp()
	r := op.Stat()
	if err := io.OperateRead(ctx, oid, op); err != nil {
		return ObjectStat{}, err
	}
	return r.ObjectStat, nil
}

// GetXattr returns an xattr's value; ErrNoData if the object has no such
// xattr.
func (io *IOContext) GetXattr(ctx context.Context, oid, name string) ([]byte, error) {
	op := NewReadOp()
	r := op.GetXattr(name)
	if err := io.OperateRead(ctx, oid, op); err != nil {
		return nil, err
	}
	return r.Value, nil
}

// SetXattr sets an xattr, creating the object if needed.
func (io *IOContext) SetXattr(ctx context.Context, oid, name string, value []byte) error {
	return io.write(ctx, oid, NewWriteOp().SetXattr(name, value))
}

// RmXattr removes an xattr.
func (io *IOContext) RmXattr(ctx context.Context, oid, name string) error {
	return io.write(ctx, oid, NewWriteOp().RmXattr(name))
}

// GetXattrs returns every xattr of the object.
func (io *IOContext) GetXattrs(ctx context.Context, oid string) (map[string][]byte, error) {
	op := NewReadOp()
	r := op.GetXattrs()
	if err := io.OperateRead(ctx, oid, op); err != nil {
		return nil, err
	}
	return r.Attrs, nil
}

// OmapGetKeys returns up to max (<= 0: 1000) omap keys after startAfter
// in order; more says that keys follow.
func (io *IOContext) OmapGetKeys(ctx context.Context, oid, startAfter string, max int) (keys []string, more bool, err error) {
	op := NewReadOp()
	r := op.OmapGetKeys(startAfter, max)
	if err := io.OperateRead(ctx, oid, op); err != nil {
		return nil, false, err
	}
	return r.Keys, r.More, nil
}

// OmapGetVals returns up to max (<= 0: 1000) omap entries after
// startAfter whose keys start with prefix; more says that entries follow.
func (io *IOContext) OmapGetVals(ctx context.Context, oid, startAfter, prefix string, max int) (vals map[string][]byte, more bool, err error) {
	op := NewReadOp()
	r := op.OmapGetVals(startAfter, prefix, max)
	if err := io.OperateRead(ctx, oid, op); err != nil {
		return nil, false, err
	}
	return r.Vals, r.More, nil
}

// OmapGetValsByKeys returns the omap entries of the given keys that
// exist.
func (io *IOContext) OmapGetValsByKeys(ctx context.Context, oid string, keys []string) (map[string][]byte, error) {
	op := NewReadOp()
	r := op.OmapGetValsByKeys(keys)
	if err := io.OperateRead(ctx, oid, op); err != nil {
		return nil, err
	}
	return r.Vals, nil
}

// OmapSet sets omap entries, creating the object if needed.
func (io *IOContext) OmapSet(ctx context.Context, oid string, kv map[string][]byte) error {
	return io.write(ctx, oid, NewWriteOp().OmapSet(kv))
}

// OmapRmKeys removes omap entries.
func (io *IOContext) OmapRmKeys(ctx context.Context, oid string, keys []string) error {
	return io.write(ctx, oid, NewWriteOp().OmapRmKeys(keys))
}

// OmapClear removes every omap entry.
func (io *IOContext) OmapClear(ctx context.Context, oid string) error {
	return io.write(ctx, oid, NewWriteOp().OmapClear())
}
