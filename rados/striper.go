package rados

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
)

// A striped object is a head object under the object's own name and
// pieces holding its data. Each put writes its pieces under a fresh
// instance, a random id, then switches the head to it in one guarded
// operation, and only then removes the pieces of the instance it
// replaced: a reader finds one instance in the head and reads its
// pieces, which never change.

const (
	// layoutXattr, on a head, makes it a striped object's: it names the
	// instance, the size and the piece size (stripeLayout.encode). A
	// head without it is a plain object, its data its own.
	layoutXattr = "striper.layout"
	// pieceSep joins a striped object's name and its instance in its
	// pieces' names: NAME.~INSTANCE.%08x.
	pieceSep = ".~"
	// instanceLen is the length of an instance id: 16 hex digits.
	instanceLen = 16
	// MaxStripedNameLen is the longest name of a striped object: its
	// pieces' names add up to 35 bytes to it (".~", the instance, a dot
	// and up to 16 hex digits of the piece number) and must be names.
	MaxStripedNameLen = MaxObjectNameLen - len(pieceSep) - instanceLen - 1 - 16
)

const (
	defaultStripeObjectSize = 4 << 20
	defaultStripeConcurrent = 8
	defaultStripeReadSize   = 16 << 20
	// switchTries bounds the tries of a head switch that lost a race
	// to another writer's (each loss is another writer's success).
	switchTries = 100
	// readTries bounds the restarts of a read whose object was replaced
	// before any of it was passed on.
	readTries = 10
)

// StripeName is the name of piece objectno of the striped object
// prefix: the prefix, a dot and the number in (at least) 8 hex digits,
// as the file system names file data ("%x.%08x" of the inode number).
// Striped objects were stored so before they had instances (see
// Striper).
func StripeName(prefix string, objectno uint64) string {
	return fmt.Sprintf("%s.%08x", prefix, objectno)
}

// pieceName is the name of piece n of instance inst of the striped
// object name.
func pieceName(name, inst string, n uint64) string {
	return fmt.Sprintf("%s%s%s.%08x", name, pieceSep, inst, n)
}

// ParsePieceName tells whether oid is the name of a piece of a striped
// object (NAME.~INSTANCE.%08x), and if so whose, of which instance, and
// which piece. It goes by the name alone: an object that is not a piece
// may have such a name.
func ParsePieceName(oid string) (name, instance string, n uint64, ok bool) {
	dot := strings.LastIndexByte(oid, '.')
	if dot < 0 {
		return "", "", 0, false
	}
	num, rest := oid[dot+1:], oid[:dot]
	if len(num) < 8 || len(num) > 16 || !isLowerHex(num) || len(rest) <= len(pieceSep)+instanceLen {
		return "", "", 0, false
	}
	inst := rest[len(rest)-instanceLen:]
	name, ok = strings.CutSuffix(rest[:len(rest)-instanceLen], pieceSep)
	if !ok || name == "" || !isLowerHex(inst) {
		return "", "", 0, false
	}
	n, err := strconv.ParseUint(num, 16, 64)
	if err != nil || fmt.Sprintf("%08x", n) != num {
		return "", "", 0, false
	}
	return name, inst, n, true
}

func isLowerHex(s string) bool {
	for i := range len(s) {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// newInstance returns a fresh instance id.
func newInstance() string {
	var b [instanceLen / 2]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// Striper stores objects of any size under one name, as a plain object
// (WriteFull) or a striped one (Put), either replacing the other.
//
// A striped object NAME is a head object NAME, without data, whose
// xattr striper.layout names an instance, the size and the piece size,
// and pieces NAME.~INSTANCE.%08x of ObjectSize bytes (the last one
// shorter; at least piece 0). Put writes the pieces of a new instance,
// then switches the head to it in one operation guarded by the layout
// it read (compare-and-swap; another writer's switch in between makes it
// read the head again and retry), then removes the pieces of the
// instance it replaced. A plain object is a head without the xattr;
// WriteFull writes it and drops the xattr in one such operation. So
// the object changes as a whole: a reader sees one put's whole object,
// the one before or the one after; concurrent puts leave one of them,
// whole. Get reads the head once, then the pieces of its instance; when
// one is missing because a put replaced the object and removed them, it
// starts again from the new head if it has passed nothing on yet, and
// fails with ErrReplaced otherwise.
//
// Either kind of put leaves the head's other xattrs and its omap as
// they are, as IOContext.WriteFull does.
//
// A put that fails removes the pieces it wrote; one that stops (a
// crash, a lost connection) leaves them, and a put whose old pieces
// could not be removed leaves those: Orphans finds both.
//
// Names: pieces are named after their object, so that a piece leads to
// its head by its name alone (Orphans; ParsePieceName). A striped
// object's name may therefore have at most MaxStripedNameLen bytes, so
// that its pieces' names fit; Put refuses a longer one before writing
// anything (a plain object may have any name up to MaxObjectNameLen).
// Put and WriteFull refuse a name that has the form of a piece's. Objects striped before instances existed (pieces
// NAME.%08x, StripeName, with the xattrs striper.size and
// striper.object_size on piece 0, and no head) are still read when
// there is no head NAME, and removed by Remove and by a put of the name.
//
// A Striper is safe for concurrent use if its fields are not changed.
type Striper struct {
	IO *IOContext
	// ObjectSize is the size of the pieces Put writes (default 4 MiB).
	// Get, Stat and Remove use the size recorded with the object.
	ObjectSize uint64
	// Concurrency bounds the pieces in flight (default 8).
	Concurrency int
	// ReadSize is the most one read of a plain object's data asks for
	// (default 16 MiB).
	ReadSize uint64
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

func (s *Striper) readSize() uint64 {
	if s.ReadSize == 0 {
		return defaultStripeReadSize
	}
	return s.ReadSize
}

// what names an object in errors.
func (s *Striper) what(name string) string { return s.IO.name + "/" + quoteName(name) }

func (s *Striper) notFound(name string) error {
	return &Error{Kind: ErrNotFound, Step: -1, Msg: s.what(name) + ": no such object"}
}

// StriperStat is what Striper.Stat and Striper.Get tell of an object.
type StriperStat struct {
	// Size is the object's size. ModTime and Version are its head's: for
	// a striped object, when a put switched the head to it (zero for
	// one striped before instances existed).
	ObjectStat
	// Striped says whether the data is in pieces, not in the head.
	Striped bool
}

// stripeLayout is a striped object's instance, size and piece size. An
// empty instance is an object striped before instances existed.
type stripeLayout struct {
	instance         string
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

// piece is the name of piece n of the object name.
func (l stripeLayout) piece(name string, n uint64) string {
	if l.instance == "" {
		return StripeName(name, n)
	}
	return pieceName(name, l.instance, n)
}

// encode is the value of the layout xattr.
func (l stripeLayout) encode() []byte {
	return fmt.Appendf(nil, "v1 instance=%s size=%d object_size=%d", l.instance, l.size, l.objectSize)
}

// parseLayout reads the layout xattr.
func parseLayout(b []byte) (l stripeLayout, err error) {
	f := strings.Fields(string(b))
	if len(f) != 4 || f[0] != "v1" {
		return l, fmt.Errorf("want v1 instance=ID size=N object_size=N")
	}
	var ok bool
	l.instance, ok = strings.CutPrefix(f[1], "instance=")
	if !ok || len(l.instance) != instanceLen || !isLowerHex(l.instance) {
		return l, fmt.Errorf("bad instance %q", f[1])
	}
	sz, ok1 := strings.CutPrefix(f[2], "size=")
	osz, ok2 := strings.CutPrefix(f[3], "object_size=")
	if l.size, err = strconv.ParseUint(sz, 10, 64); !ok1 || err != nil {
		return l, fmt.Errorf("bad size %q", f[2])
	}
	if l.objectSize, err = strconv.ParseUint(osz, 10, 64); !ok2 || err != nil || l.objectSize == 0 {
		return l, fmt.Errorf("bad object size %q", f[3])
	}
	return l, nil
}

// head is what one read of a head object found.
type head struct {
	exists bool
	stat   ObjectStat
	// raw is the layout xattr as stored; nil: none (a plain object, or
	// no head). A switch compares it.
	raw []byte
	// layout is raw parsed; striped says it is.
	layout  stripeLayout
	striped bool
	// bad is why raw does not parse.
	bad error
	// data is the start of a plain head's data, when asked for.
	data []byte
}

// readHead reads name's head in one operation: its size, version,
// layout xattr and, with dataLen, up to dataLen bytes of its data.
func (s *Striper) readHead(ctx context.Context, name string, dataLen uint64) (head, error) {
	op := NewReadOp()
	st := op.Stat()
	xa := op.GetXattrs()
	var rd *ReadResult
	if dataLen > 0 {
		rd = op.Read(0, dataLen)
	}
	err := s.IO.OperateRead(ctx, name, op)
	if errors.Is(err, ErrNotFound) {
		return head{}, nil
	}
	if err != nil {
		return head{}, err
	}
	h := head{exists: true, stat: st.ObjectStat}
	if rd != nil {
		h.data = rd.Data
	}
	raw, ok := xa.Attrs[layoutXattr]
	if !ok {
		return h, nil
	}
	h.raw = raw
	if h.layout, err = parseLayout(raw); err != nil {
		h.bad = &Error{Kind: ErrInvalid, Step: -1, Msg: fmt.Sprintf("%s: bad %s xattr %q: %v", s.what(name), layoutXattr, raw, err)}
		return h, nil
	}
	h.striped = true
	return h, nil
}

// switchHead makes name's head hold data and, with raw, the layout xattr
// raw (nil: a plain object) in one operation guarded by the layout xattr
// it read, and tries again from a new read while another writer's switch
// comes first. It returns the head it replaced and the head's version;
// on failure, sent says whether the failed attempt got as far as sending
// the switch.
func (s *Striper) switchHead(ctx context.Context, name string, data, raw []byte) (old head, version uint64, sent bool, err error) {
	for try := 1; ; try++ {
		if old, err = s.readHead(ctx, name, 0); err != nil {
			return old, 0, false, err
		}
		// WriteFull comes first: it makes the object exist, so that the
		// guard compares with an absent xattr rather than failing.
		op := NewWriteOp().WriteFull(data).CmpXattr(layoutXattr, CmpEQ, old.raw)
		switch {
		case raw != nil:
			op.SetXattr(layoutXattr, raw)
		case old.raw != nil:
			op.RmXattr(layoutXattr)
		}
		version, err = s.IO.Operate(ctx, name, op)
		if errors.Is(err, ErrCanceled) && try < switchTries {
			continue
		}
		return old, version, true, err
	}
}

// dropReplaced removes, best effort, what a switch made unreachable: the
// pieces of the striped object it replaced, or an object striped before
// instances existed, hidden by the new head.
func (s *Striper) dropReplaced(ctx context.Context, name string, old head) {
	switch {
	case old.striped:
		s.removePieces(ctx, name, old.layout)
	case !old.exists:
		s.removeLegacy(ctx, name)
	}
}

// removePieces removes the pieces of a layout; absent ones are no error.
func (s *Striper) removePieces(ctx context.Context, name string, l stripeLayout) error {
	return forEach(ctx, s.concurrency(), l.pieces(), func(ctx context.Context, n uint64) error {
		err := s.IO.Remove(ctx, l.piece(name, n))
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		return err
	})
}

// checkHeadName refuses to put an object under a piece's name: ls
// would hide it, and Orphans would take it for an orphan.
func (s *Striper) checkHeadName(name string) error {
	if err := checkObjectName(s.IO.name, name); err != nil {
		return err
	}
	if head, _, _, ok := ParsePieceName(name); ok {
		return &Error{Kind: ErrBadName, Step: -1,
			Msg: fmt.Sprintf("%s: names of the form NAME.~INSTANCE.%%08x (16 hex digits of instance) are those of the pieces of striped objects (this one of %s): give it another name",
				s.what(name), quoteName(head))}
	}
	return nil
}

// checkStripedName refuses a name that no striped object may have.
func (s *Striper) checkStripedName(name string) error {
	if err := s.checkHeadName(name); err != nil {
		return err
	}
	if len(name) > MaxStripedNameLen {
		return &Error{Kind: ErrBadName, Step: -1,
			Msg: fmt.Sprintf("%s: the name has %d bytes, more than the %d a striped object's may have (its pieces' names add up to %d bytes to it): give it a shorter name, or store it as a plain object",
				s.what(name), len(name), MaxStripedNameLen, MaxObjectNameLen-MaxStripedNameLen)}
	}
	return nil
}

// WriteFull stores data as the plain object name, replacing what the
// name held, plain or striped, in one operation; then it removes the
// replaced striped object's pieces. It returns the object's version,
// which writes that continue the object can guard (AssertVersion) to
// stop at a concurrent put.
func (s *Striper) WriteFull(ctx context.Context, name string, data []byte) (uint64, error) {
	if err := s.checkHeadName(name); err != nil {
		return 0, err
	}
	if data == nil {
		data = []byte{}
	}
	old, v, _, err := s.switchHead(ctx, name, data, nil)
	if err != nil {
		return 0, err
	}
	s.dropReplaced(ctx, name, old)
	return v, nil
}

// Put stores what r yields as the striped object name, replacing what
// the name held, plain or striped, and returns its size. It writes the
// pieces of a new instance, up to Concurrency in parallel, then switches
// the head (see Striper). Until then the name holds what it held; if Put
// fails, it still does, and the pieces written are removed (unless the
// switch's outcome is unknown: then they are left for Orphans).
func (s *Striper) Put(ctx context.Context, name string, r io.Reader) (uint64, error) {
	if err := s.checkStripedName(name); err != nil {
		return 0, err
	}
	l, err := s.writePieces(ctx, name, newInstance(), r)
	if err != nil {
		return 0, err
	}
	raw := l.encode()
	old, _, sent, err := s.switchHead(ctx, name, nil, raw)
	if err != nil {
		if !sent || !errors.Is(err, ErrUnavailable) {
			// The head was not switched: nothing refers to the pieces.
			s.removePieces(context.WithoutCancel(ctx), name, l)
			return 0, err
		}
		// The switch may have been applied, or may still be: only a head
		// that names the instance tells. Else the pieces are left.
		if h, herr := s.readHead(ctx, name, 0); herr != nil || !bytes.Equal(h.raw, raw) {
			return 0, err
		}
	}
	s.dropReplaced(ctx, name, old)
	return l.size, nil
}

// writePieces writes what r yields as the pieces of instance inst, up to
// Concurrency at a time; on failure it removes those it started.
func (s *Striper) writePieces(ctx context.Context, name, inst string, r io.Reader) (stripeLayout, error) {
	l := stripeLayout{instance: inst, objectSize: s.objectSize()}
	conc := s.concurrency()
	wctx, cancel := context.WithCancel(ctx)
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
	started := uint64(0)
	for n := uint64(0); ; n++ {
		var buf []byte
		select {
		case buf = <-free:
		case <-wctx.Done():
		}
		if wctx.Err() != nil {
			break
		}
		if buf == nil {
			buf = make([]byte, l.objectSize)
		}
		got, rerr := io.ReadFull(r, buf)
		if rerr != nil && rerr != io.EOF && rerr != io.ErrUnexpectedEOF {
			fail(fmt.Errorf("%s: put: reading the data: %w", s.what(name), rerr))
			break
		}
		if got == 0 && n > 0 {
			break
		}
		l.size += uint64(got)
		oid, op := l.piece(name, n), NewWriteOp().WriteFull(buf[:got])
		started = n + 1
		wg.Go(func() {
			defer func() { free <- buf }()
			if _, err := s.IO.Operate(wctx, oid, op); err != nil {
				fail(err)
			}
		})
		if got < len(buf) {
			break
		}
	}
	wg.Wait()
	err := firstErr
	if err == nil && wctx.Err() != nil {
		err = &Error{Kind: ErrUnavailable, Step: -1, Msg: fmt.Sprintf("%s: put: %v", s.what(name), wctx.Err())}
	}
	if err != nil {
		// Nothing refers to these pieces: remove them, even when ctx ended.
		started := stripeLayout{instance: inst, size: started * l.objectSize, objectSize: l.objectSize}
		s.removePieces(context.WithoutCancel(ctx), name, started)
		return l, err
	}
	return l, nil
}

// errChanged is what a read that found its object replaced returns
// within Get.
var errChanged = errors.New("replaced while being read")

// countWriter counts what passes.
type countWriter struct {
	w io.Writer
	n uint64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += uint64(n)
	return n, err
}

// Get writes the object name, plain or striped, to w and returns what
// Stat would. A striped object's pieces are read up to Concurrency
// ahead, in parallel, and written in order; a plain object's data in
// reads of ReadSize, each guarded by the version the first one saw.
// When the object is replaced while being read (see Striper), Get
// starts again if it has written nothing to w yet, else it fails with
// ErrReplaced.
func (s *Striper) Get(ctx context.Context, name string, w io.Writer) (StriperStat, error) {
	cw := &countWriter{w: w}
	for try := 1; ; try++ {
		st, err := s.get(ctx, name, cw)
		if err != errChanged {
			return st, err
		}
		if cw.n == 0 && try < readTries {
			continue
		}
		return StriperStat{}, &Error{Kind: ErrReplaced, Step: -1,
			Msg: fmt.Sprintf("%s: replaced by another put while being read (%d times; %d bytes of it were passed on): read it again",
				s.what(name), try, cw.n)}
	}
}

func (s *Striper) get(ctx context.Context, name string, w io.Writer) (StriperStat, error) {
	h, err := s.readHead(ctx, name, s.readSize())
	switch {
	case err != nil:
		return StriperStat{}, err
	case !h.exists:
		return s.getLegacy(ctx, name, w)
	case h.bad != nil:
		return StriperStat{}, h.bad
	case !h.striped:
		return s.getPlain(ctx, name, h, w)
	}
	st := StriperStat{ObjectStat: h.stat, Striped: true}
	st.Size = h.layout.size
	return st, s.getPieces(ctx, name, h.layout, h.raw, w)
}

// getPlain writes a plain head's data: what the head's read returned,
// then the rest in reads guarded by its version.
func (s *Striper) getPlain(ctx context.Context, name string, h head, w io.Writer) (StriperStat, error) {
	st := StriperStat{ObjectStat: h.stat}
	size := h.stat.Size
	data := h.data[:min(uint64(len(h.data)), size)]
	for off := uint64(0); ; {
		if _, err := w.Write(data); err != nil {
			return st, err
		}
		off += uint64(len(data))
		if off >= size {
			return st, nil
		}
		op := NewReadOp().AssertVersion(h.stat.Version)
		rd := op.Read(off, min(size-off, s.readSize()))
		err := s.IO.OperateRead(ctx, name, op)
		if errors.Is(err, ErrVersion) || errors.Is(err, ErrNotFound) {
			return st, errChanged
		}
		if err != nil {
			return st, err
		}
		if data = rd.Data; len(data) == 0 {
			return st, &Error{Kind: ErrIO, Step: -1,
				Msg: fmt.Sprintf("%s: version %d read empty at %d of %d bytes", s.what(name), h.stat.Version, off, size)}
		}
	}
}

// getPieces writes the pieces of layout l in order, reading up to
// Concurrency ahead. raw is the head's layout xattr (nil for an object
// striped before instances): a missing piece is errChanged if the head
// no longer has it.
func (s *Striper) getPieces(ctx context.Context, name string, l stripeLayout, raw []byte, w io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		data []byte
		err  error
	}
	pieces := l.pieces()
	// queue holds the pieces in flight, in order; its size bounds them.
	queue := make(chan chan result, s.concurrency())
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(queue)
		for n := range pieces {
			ch := make(chan result, 1)
			select {
			case queue <- ch:
			case <-ctx.Done():
				return
			}
			wg.Go(func() {
				data, err := s.IO.Read(ctx, l.piece(name, n), 0, l.pieceLen(n))
				ch <- result{data, err}
			})
		}
	})
	var werr error
	n := uint64(0)
	for ch := range queue {
		r := <-ch
		if werr == nil {
			switch {
			case errors.Is(r.err, ErrNotFound):
				werr = s.missingPiece(ctx, name, l, raw, n)
			case r.err != nil:
				werr = r.err
			case uint64(len(r.data)) < l.pieceLen(n):
				werr = &Error{Kind: ErrIO, Step: -1,
					Msg: fmt.Sprintf("%s: piece %s has %d bytes, the striped object's layout says %d",
						s.what(name), quoteName(l.piece(name, n)), len(r.data), l.pieceLen(n))}
			default:
				_, werr = w.Write(r.data)
			}
			if werr != nil {
				cancel()
			}
		}
		n++
	}
	wg.Wait()
	return werr
}

// missingPiece is the error of a piece that is not there: errChanged if
// the head moved on meanwhile (a put replaced the object and removed
// the piece), else a damaged object.
func (s *Striper) missingPiece(ctx context.Context, name string, l stripeLayout, raw []byte, n uint64) error {
	if raw != nil {
		h, err := s.readHead(ctx, name, 0)
		if err != nil {
			return err
		}
		if !bytes.Equal(h.raw, raw) {
			return errChanged
		}
	}
	return &Error{Kind: ErrIO, Step: -1,
		Msg: fmt.Sprintf("%s: piece %d (%s) of the striped object is missing", s.what(name), n, quoteName(l.piece(name, n)))}
}

// Stat returns an object's size, plain or striped, and its head's
// modification time and version.
func (s *Striper) Stat(ctx context.Context, name string) (StriperStat, error) {
	h, err := s.readHead(ctx, name, 0)
	switch {
	case err != nil:
		return StriperStat{}, err
	case !h.exists:
		l, found, err := s.legacyLayout(ctx, name)
		if err != nil {
			return StriperStat{}, err
		}
		if !found {
			return StriperStat{}, s.notFound(name)
		}
		return StriperStat{ObjectStat: ObjectStat{Size: l.size}, Striped: true}, nil
	case h.bad != nil:
		return StriperStat{}, h.bad
	}
	st := StriperStat{ObjectStat: h.stat, Striped: h.striped}
	if h.striped {
		st.Size = h.layout.size
	}
	return st, nil
}

// Remove removes an object, plain or striped: the head, in one
// operation guarded by the layout it read (a put switching the head in
// between makes it read again), then the pieces. An error after the
// head is gone says what was left.
func (s *Striper) Remove(ctx context.Context, name string) error {
	for try := 1; ; try++ {
		h, err := s.readHead(ctx, name, 0)
		if err != nil {
			return err
		}
		if !h.exists {
			found, err := s.removeLegacy(ctx, name)
			if err == nil && !found {
				err = s.notFound(name)
			}
			return err
		}
		_, err = s.IO.Operate(ctx, name, NewWriteOp().CmpXattr(layoutXattr, CmpEQ, h.raw).Remove())
		if (errors.Is(err, ErrCanceled) || errors.Is(err, ErrNotFound)) && try < switchTries {
			continue
		}
		if err != nil {
			return err
		}
		if h.striped {
			if err := s.removePieces(ctx, name, h.layout); err != nil {
				return fmt.Errorf("%s: removed, but not all of its pieces (Striper.Orphans finds those left): %w", s.what(name), err)
			}
		}
		// An object striped before instances, hidden by the head, would
		// show again.
		if _, err := s.removeLegacy(ctx, name); err != nil {
			return fmt.Errorf("%s: removed, but not the pieces of an older striped object of the name: %w", s.what(name), err)
		}
		return nil
	}
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
