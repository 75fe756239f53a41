package rados

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Objects striped before instances existed: pieces StripeName(NAME, n)
// written in place, piece 0 carrying the size and piece size in the
// xattrs striper.size and striper.object_size (set once every piece was
// written), and no head object. Nothing writes them any more; a Striper
// reads them when the name has no head, and removes them (Remove, and a
// put that creates the head, which would hide them). Piece 0 without
// the xattrs (a put that did not finish) is left alone: a plain object
// may have such a name.

const (
	legacySizeXattr       = "striper.size"
	legacyObjectSizeXattr = "striper.object_size"
)

// parseLegacyLayout reads piece 0's xattrs; ok is false when they are
// absent.
func parseLegacyLayout(attrs map[string][]byte) (l stripeLayout, ok bool, err error) {
	sz, ok1 := attrs[legacySizeXattr]
	osz, ok2 := attrs[legacyObjectSizeXattr]
	if !ok1 || !ok2 {
		return l, false, nil
	}
	if l.size, err = strconv.ParseUint(string(sz), 10, 64); err != nil {
		return l, false, fmt.Errorf("bad %s %q", legacySizeXattr, sz)
	}
	if l.objectSize, err = strconv.ParseUint(string(osz), 10, 64); err != nil || l.objectSize == 0 {
		return l, false, fmt.Errorf("bad %s %q", legacyObjectSizeXattr, osz)
	}
	return l, true, nil
}

// legacyLayout reads the layout of the object name striped before
// instances; found is false when there is none.
func (s *Striper) legacyLayout(ctx context.Context, name string) (l stripeLayout, found bool, err error) {
	p0 := StripeName(name, 0)
	if len(p0) > MaxObjectNameLen {
		return l, false, nil // no such piece can have been stored
	}
	attrs, err := s.IO.GetXattrs(ctx, p0)
	if errors.Is(err, ErrNotFound) {
		return l, false, nil
	}
	if err != nil {
		return l, false, err
	}
	if l, found, err = parseLegacyLayout(attrs); err != nil {
		return l, false, &Error{Kind: ErrInvalid, Step: -1, Msg: fmt.Sprintf("%s: piece %s: %v", s.what(name), quoteName(p0), err)}
	}
	return l, found, nil
}

// getLegacy writes the object name striped before instances to w.
func (s *Striper) getLegacy(ctx context.Context, name string, w io.Writer) (StriperStat, error) {
	l, found, err := s.legacyLayout(ctx, name)
	if err != nil {
		return StriperStat{}, err
	}
	if !found {
		return StriperStat{}, s.notFound(name)
	}
	st := StriperStat{ObjectStat: ObjectStat{Size: l.size}, Striped: true}
	return st, s.getPieces(ctx, name, l, nil, w)
}

// removeLegacy removes the object name striped before instances, piece
// 0 last (so that a remove cut short can be done again); found is false
// when there is none.
func (s *Striper) removeLegacy(ctx context.Context, name string) (found bool, err error) {
	l, found, err := s.legacyLayout(ctx, name)
	if err != nil || !found {
		return false, err
	}
	err = forEach(ctx, s.concurrency(), l.pieces()-1, func(ctx context.Context, i uint64) error {
		err := s.IO.Remove(ctx, l.piece(name, i+1))
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		return err
	})
	if err == nil {
		err = s.IO.Remove(ctx, l.piece(name, 0))
		if errors.Is(err, ErrNotFound) {
			err = nil
		}
	}
	return true, err
}
