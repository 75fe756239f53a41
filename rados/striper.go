package rados

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
)

// The xattrs on piece 0 that make a striped object complete.
const (
	striperSizeXattr       = "striper.size"
	striperObjectSizeXattr = "striper.object_size"
)

const (
	defaultStripeObjectSize = 4 << 20
	defaultStripeConcurrent = 8
)

// StripeName is the name of piece objectno of the striped object
// prefix: the prefix, a dot and the number in (at least) 8 hex digits,
// as the file system names file data ("%x.%08x" of the inode number).
func StripeName(prefix string, objectno uint64) string {
	return fmt.Sprintf("%s.%08x", prefix, objectno)
}

// Striper stores large objects as pieces of ObjectSize bytes (the last
// one shorter) named StripeName(name, n). Piece 0 always exists and
// carries the size and piece size in the xattrs striper.size and
// striper.object_size, set once every piece is written: an object
// without them is incomplete and reads as not found.
type Striper struct {
	IO *IOContext
	// ObjectSize is the size of the pieces Put writes (default 4 MiB).
	// Get, Stat and Remove use the size recorded with the object.
	ObjectSize uint64
	// Concurrency bounds the pieces in flight (default 8).
	Concurrency int
}

func (s *Striper) objectSize() uint64 {
	if s.ObjectSize == 0 {
		return defaultStripeObjectSize
	}
	return s.ObjectSize
}

func (s *Striper) concurrency() int {
	if s.Concurrency <= 0 {
		return defaultStripeConcurrent
	}
	return s.Concurrency
}

// stripeLayout is a striped object's size and piece size.
type stripeLayout struct {
	size, objectSize uint64
}

// pieces is how many pieces the object has (at least piece 0).
func (l stripeLayout) pieces() uint64 {
	if l.size == 0 {
		return 1
	}
	return (l.size + l.objectSize - 1) / l.objectSize
}

// pieceLen is the length of piece n.
func (l stripeLayout) pieceLen(n uint64) uint64 {
	off := n * l.objectSize
	if off >= l.size {
		return 0
	}
	return min(l.objectSize, l.size-off)
}

// parseLayout reads the layout from piece 0's xattrs; ok is false when
// they are absent (an incomplete object, or not a striped one).
func parseLayout(attrs map[string][]byte) (l stripeLayout, ok bool, err error) {
	sz, ok1 := attrs[striperSizeXattr]
	osz, ok2 := attrs[striperObjectSizeXattr]
	if !ok1 || !ok2 {
		return l, false, nil
	}
	if l.size, err = strconv.ParseUint(string(sz), 10, 64); err != nil {
		return l, false, fmt.Errorf("bad %s %q", striperSizeXattr, sz)
	}
	if l.objectSize, err = strconv.ParseUint(string(osz), 10, 64); err != nil || l.objectSize == 0 {
		return l, false, fmt.Errorf("bad %s %q", striperObjectSizeXattr, osz)
	}
	return l, true, nil
}

// layout reads piece 0's xattrs (and, with withData, its data).
func (s *Striper) layout(ctx context.Context, name string, withData bool) (l stripeLayout, complete bool, data []byte, err error) {
	op := NewReadOp()
	xa := op.GetXattrs()
	var rd *ReadResult
	if withData {
		rd = op.Read(0, 0)
	}
	if err := s.IO.OperateRead(ctx, StripeName(name, 0), op); err != nil {
		return l, false, nil, err
	}
	l, complete, err = parseLayout(xa.Attrs)
	if err != nil {
		return l, false, nil, &Error{Kind: ErrInvalid, Step: -1, Msg: fmt.Sprintf("%s/%s: %v", s.IO.name, StripeName(name, 0), err)}
	}
	if rd != nil {
		data = rd.Data
	}
	return l, complete, data, nil
}

func (s *Striper) notComplete(name string) error {
	return &Error{Kind: ErrNotFound, Step: -1,
		Msg: fmt.Sprintf("%s/%s: striped object is incomplete (a put did not finish) or not striped: no %s xattr",
			s.IO.name, StripeName(name, 0), striperSizeXattr)}
}

// Stat returns a striped object's size.
func (s *Striper) Stat(ctx context.Context, name string) (uint64, error) {
	l, ok, _, err := s.layout(ctx, name, false)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, s.notComplete(name)
	}
	return l.size, nil
}

// Put stores what r yields as the striped object name, replacing an
// earlier one: it removes the earlier object's size xattrs, writes the
// pieces in parallel (WriteFull), removes the pieces an earlier, bigger
// object had beyond the new ones, and records the size last. While it
// runs, and if it fails, the object reads as not found.
func (s *Striper) Put(ctx context.Context, name string, r io.Reader) (uint64, error) {
	old, hadOld, _, err := s.layout(ctx, name, false)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return 0, err
	}
	if hadOld {
		// First of all, the object stops looking complete: the old size
		// must not describe new pieces if the put fails half way.
		op := NewWriteOp().RmXattr(striperSizeXattr).RmXattr(striperObjectSizeXattr)
		if _, err := s.IO.Operate(ctx, StripeName(name, 0), op); err != nil {
			return 0, err
		}
	}
	osz := s.objectSize()
	conc := s.concurrency()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
			cancel()
		}
		mu.Unlock()
	}
	// free holds the buffers not in flight: at most conc pieces are.
	free := make(chan []byte, conc)
	for range conc {
		free <- nil
	}
	var size uint64
	for n := uint64(0); ; n++ {
		var buf []byte
		select {
		case buf = <-free:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		if buf == nil {
			buf = make([]byte, osz)
		}
		got, rerr := io.ReadFull(r, buf)
		if rerr != nil && rerr != io.EOF && rerr != io.ErrUnexpectedEOF {
			fail(rerr)
			break
		}
		if got == 0 && n > 0 {
			break
		}
		size += uint64(got)
		op := NewWriteOp().WriteFull(buf[:got])
		wg.Go(func() {
			defer func() { free <- buf }()
			if _, err := s.IO.Operate(ctx, StripeName(name, n), op); err != nil {
				fail(err)
			}
		})
		if got < len(buf) {
			break
		}
	}
	wg.Wait()
	if firstErr != nil {
		return 0, firstErr
	}
	if err := ctx.Err(); err != nil {
		return 0, &Error{Kind: ErrUnavailable, Step: -1, Msg: fmt.Sprintf("%s/%s: put: %v", s.IO.name, name, err)}
	}
	l := stripeLayout{size: size, objectSize: osz}
	if hadOld {
		from, to := l.pieces(), old.pieces()
		if from < to {
			err := forEach(ctx, conc, to-from, func(ctx context.Context, i uint64) error {
				err := s.IO.Remove(ctx, StripeName(name, from+i))
				if errors.Is(err, ErrNotFound) {
					return nil
				}
				return err
			})
			if err != nil {
				return 0, err
			}
		}
	}
	op := NewWriteOp().
		SetXattr(striperSizeXattr, []byte(strconv.FormatUint(size, 10))).
		SetXattr(striperObjectSizeXattr, []byte(strconv.FormatUint(osz, 10)))
	if _, err := s.IO.Operate(ctx, StripeName(name, 0), op); err != nil {
		return 0, err
	}
	return size, nil
}

// Get writes the striped object name to w and returns its size. It
// reads up to Concurrency pieces ahead, in parallel, and writes them in
// order.
func (s *Striper) Get(ctx context.Context, name string, w io.Writer) (uint64, error) {
	l, ok, first, err := s.layout(ctx, name, true)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, s.notComplete(name)
	}
	if err := s.checkPiece(name, l, 0, first); err != nil {
		return 0, err
	}
	if _, err := w.Write(first[:l.pieceLen(0)]); err != nil {
		return 0, err
	}
	pieces := l.pieces()
	if pieces == 1 {
		return l.size, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		data []byte
		err  error
	}
	conc := s.concurrency()
	// queue holds the pieces in flight, in order; its size bounds them.
	queue := make(chan chan result, conc)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(queue)
		for n := uint64(1); n < pieces; n++ {
			ch := make(chan result, 1)
			select {
			case queue <- ch:
			case <-ctx.Done():
				return
			}
			wg.Go(func() {
				data, err := s.IO.Read(ctx, StripeName(name, n), 0, l.pieceLen(n))
				ch <- result{data, err}
			})
		}
	})
	var werr error
	n := uint64(0)
	for ch := range queue {
		n++
		r := <-ch
		if werr != nil {
			continue
		}
		switch {
		case r.err != nil:
			werr = r.err
		default:
			if werr = s.checkPiece(name, l, n, r.data); werr == nil {
				_, werr = w.Write(r.data)
			}
		}
		if werr != nil {
			cancel()
		}
	}
	wg.Wait()
	if werr != nil {
		return 0, werr
	}
	return l.size, nil
}

func (s *Striper) checkPiece(name string, l stripeLayout, n uint64, data []byte) error {
	if want := l.pieceLen(n); uint64(len(data)) < want {
		return &Error{Kind: ErrIO, Step: -1,
			Msg: fmt.Sprintf("%s/%s: piece has %d bytes, the striped object's size says %d (changed while read?)",
				s.IO.name, StripeName(name, n), len(data), want)}
	}
	return nil
}

// Remove removes a striped object: its pieces, piece 0 last. An
// incomplete object (a put that did not finish) is removed too, its
// pieces found by number until one is missing.
func (s *Striper) Remove(ctx context.Context, name string) error {
	l, ok, _, err := s.layout(ctx, name, false)
	if err != nil {
		return err
	}
	if ok {
		pieces := l.pieces()
		err := forEach(ctx, s.concurrency(), pieces-1, func(ctx context.Context, i uint64) error {
			err := s.IO.Remove(ctx, StripeName(name, i+1))
			if errors.Is(err, ErrNotFound) {
				return nil
			}
			return err
		})
		if err != nil {
			return err
		}
	} else {
		for n := uint64(1); ; n++ {
			err := s.IO.Remove(ctx, StripeName(name, n))
			if errors.Is(err, ErrNotFound) {
				break
			}
			if err != nil {
				return err
			}
		}
	}
	err = s.IO.Remove(ctx, StripeName(name, 0))
	if errors.Is(err, ErrNotFound) && ok {
		return nil // removed by someone else meanwhile
	}
	return err
}

// forEach runs f(0..n-1) with at most conc at a time and returns the
// first error (the others' context is canceled then).
func forEach(ctx context.Context, conc int, n uint64, f func(ctx context.Context, i uint64) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, conc)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := f(ctx, i); err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
					cancel()
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = &Error{Kind: ErrUnavailable, Step: -1, Msg: ctx.Err().Error()}
	}
	return firstErr
}
