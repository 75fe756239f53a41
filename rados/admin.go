package rados

import (
	"context"
	"fmt"

	"github.com/loligo/loligo/clustermap"
	pb "github.com/loligo/loligo/proto/loligopb"
)

// Admin calls for PGs and OSDs, as librados offers pg and osd commands:
// radosctl's pg and tell verbs are built on them.

// PGDump returns the monitors' newest report of every PG (pool 0: all
// pools).
func (c *Conn) PGDump(ctx context.Context, pool int64) (*pb.PGDumpReply, error) {
	return monCall(ctx, c, func(ctx context.Context, cl pb.MonClient) (*pb.PGDumpReply, error) {
		return cl.PGDump(ctx, &pb.PGDumpRequest{Pool: pool})
	})
}

// PGCommand runs a PG command (query, scrub, deep-scrub, repair,
// list-inconsistent) on the PG's acting primary, following the map as
// object ops do. With wait, a scrub or repair is waited for (bounded by
// ctx, not by the op timeout). A reply whose result is not OK comes back
// as an *Error.
func (c *Conn) PGCommand(ctx context.Context, pg clustermap.PGID, cmd pb.PGCmd, wait bool) (*pb.PGCommandReply, error) {
	var rep *pb.PGCommandReply
	err := c.callPrimary(ctx, pgCall{
		what:   fmt.Sprintf("pg %s", pg),
		locate: func(*clustermap.Map) (clustermap.PGID, error) { return pg, nil },
		send: func(actx context.Context, cl pb.OSDClient, epoch uint64, pg clustermap.PGID) (pb.Result, uint64, error) {
			if wait {
				// A waited scrub may take longer than one op.
				actx = ctx
			}
			r, err := cl.PGCommand(actx, &pb.PGCommandRequest{Pool: pg.Pool, Ps: pg.Seed, Epoch: epoch, Cmd: cmd, Wait: wait})
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
	if rep.GetResult() != pb.Result_OK {
		return rep, resultError(rep.GetResult(), rep.GetMessage())
	}
	return rep, nil
}

// OSDConfig reads an OSD's runtime settings and, when set is not empty,
// changes them first (all or none).
func (c *Conn) OSDConfig(ctx context.Context, osd int32, set map[string]string) (*pb.ConfigReply, error) {
	req := &pb.ConfigRequest{Set: set}
	if err := checkStrings(fmt.Sprintf("osd.%d config", osd), req); err != nil {
		return nil, err
	}
	m, err := c.ensureMap(ctx)
	if err != nil {
		return nil, err
	}
	st := m.OSDs[osd]
	if st == nil {
		return nil, &Error{Kind: ErrNotFound, Msg: fmt.Sprintf("osd.%d does not exist in epoch %d", osd, m.Epoch), Step: -1}
	}
	if !st.Up || st.Addr == "" {
		return nil, &Error{Kind: ErrUnavailable, Msg: fmt.Sprintf("osd.%d is down in epoch %d", osd, m.Epoch), Step: -1}
	}
	cl, err := c.osdClient(st.Addr)
	if err != nil {
		return nil, err
	}
	ctx, cancel := c.withDeadline(ctx)
	defer cancel()
	rep, err := cl.Config(ctx, req)
	if err != nil {
		return nil, convertOSD(err, fmt.Sprintf("osd.%d (%s)", osd, st.Addr))
	}
	if rep.GetResult() != pb.Result_OK {
		return rep, resultError(rep.GetResult(), rep.GetMessage())
	}
	return rep, nil
}

// resultError makes an *Error of an admin reply's result.
func resultError(r pb.Result, msg string) error {
	kind := resultKind(r)
	if kind == nil {
		return nil
	}
	if msg == "" {
		msg = kind.Error()
	}
	return &Error{Kind: kind, Msg: msg, Step: -1}
}
