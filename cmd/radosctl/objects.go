package main

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/loligo/loligo/rados"
)

// Object I/O: put, get, rm, ls, stat, xattrs, omap, df.

// Variables for tests.
var (
	// ioPiece is the most one read or write call moves.
	ioPiece uint64 = 16 << 20
	// omapPage is how many omap entries one listing call asks for.
	omapPage = 512
)

const (
	// defaultMaxObjectSize is the OSD's default object size limit: put
	// stripes anything larger.
	defaultMaxObjectSize = 128 << 20
	// defaultStripeObject is the size of a striped object's pieces.
	defaultStripeObject = 4 << 20
	// getTries bounds how often get writes a file again because a put
	// replaced the object while it was being read.
	getTries = 5
	// defaultOrphanAge is how long ago the newest piece of an instance
	// that no head names must have been written for orphans to report
	// it: a put under way has such pieces too.
	defaultOrphanAge = 24 * time.Hour
)

// objArgs parses the flags of an object command and checks the number of
// its positional arguments.
func objArgs(topic string, args []string, spec map[string]bool, lo, hi int) (*cmdArgs, error) {
	a, err := parseArgs(topic, args, spec)
	if err == nil {
		err = a.want(lo, hi)
	}
	return a, exactTopic(err)
}

// exactTopic makes a usage error print only the usage line of its own
// command, not those of longer ones it prefixes (stat and status, get and
// getxattr): every command word is followed by a blank in the usage text.
func exactTopic(err error) error {
	var ue *usageError
	if errors.As(err, &ue) && ue.topic != "" && !strings.HasSuffix(ue.topic, " ") {
		ue.topic += " "
	}
	return err
}

// objUsage is a usage error of an object command.
func objUsage(topic, format string, args ...any) error {
	return exactTopic(usagef(topic, format, args...))
}

// sizeFlag returns the value of a size flag, or def if absent.
func sizeFlag(a *cmdArgs, name string, def uint64) (uint64, error) {
	v, ok := a.flags[name]
	if !ok {
		return def, nil
	}
	n, err := parseSize(v)
	if err != nil {
		dash := "--"
		if len(name) == 1 {
			dash = "-"
		}
		return 0, objUsage(a.topic, "%s%s %q: %v", dash, name, v, err)
	}
	return n, nil
}

// parseSize reads a size in bytes: a whole number, optionally followed by
// K, M or G (binary: 4K is 4096; KiB, MiB and GiB are the same). It must
// be above zero.
func parseSize(s string) (uint64, error) {
	num := strings.TrimRight(s, "KMGkmgiBb")
	mult := uint64(1)
	switch strings.ToUpper(s[len(num):]) {
	case "":
	case "K", "KIB":
		mult = 1 << 10
	case "M", "MIB":
		mult = 1 << 20
	case "G", "GIB":
		mult = 1 << 30
	default:
		return 0, fmt.Errorf("want a size such as 4096, 64K, 4M or 1G")
	}
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("want a size such as 4096, 64K, 4M or 1G")
	}
	if n == 0 {
		return 0, fmt.Errorf("want a size above 0")
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("too large")
	}
	return n * mult, nil
}

// openPool connects and opens a pool's I/O context.
func openPool(ctx context.Context, e *env, pool string) (*rados.IOContext, error) {
	c, err := e.conn(ctx)
	if err != nil {
		return nil, err
	}
	ioc, err := c.OpenPool(ctx, pool)
	if err == nil {
		return ioc, nil
	}
	if errors.Is(err, rados.ErrNotFound) {
		// Say which pools there are.
		if m, merr := c.Map(ctx); merr == nil {
			if _, perr := poolByName(m, pool); perr != nil {
				return nil, fmt.Errorf("%v; radosctl pool create %s PG_NUM makes it", perr, pool)
			}
		}
		return nil, fmt.Errorf("pool '%s' does not exist (radosctl pool ls lists the pools)", pool)
	}
	return nil, fmt.Errorf("opening pool '%s': %w", pool, err)
}

// notFound is the error for an object that does not exist.
func notFound(pool, oid string) error {
	return fmt.Errorf("object %s not found in pool %s (radosctl ls %s lists its objects)", displayName(oid), pool, pool)
}

// displayName prints an object name in a message: as it is, or quoted
// with Go escapes when it is not printable UTF-8, so that the bad bytes
// show.
func displayName(oid string) string {
	if !utf8.ValidString(oid) || strings.ContainsFunc(oid, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return strconv.Quote(oid)
	}
	return oid
}

// objErr adds the object's name to an error of an object call, unless
// the error starts with it.
func objErr(err error, verb, pool, oid string) error {
	if errors.Is(err, rados.ErrNotFound) {
		return notFound(pool, oid)
	}
	what := pool + "/" + displayName(oid)
	if strings.HasPrefix(err.Error(), what+": ") {
		return fmt.Errorf("%s %w", verb, err)
	}
	return fmt.Errorf("%s %s: %w", verb, what, err)
}

// transferCtx is the context of a command that moves data: it may take
// longer than --timeout in all, so the timeout bounds each call within it
// instead (the connection's default deadline).
func transferCtx() (context.Context, context.CancelFunc) {
	return context.WithCancel(context.Background())
}

// connectPool opens pool with the connection bounded by --timeout.
func connectPool(e *env, pool string) (*rados.IOContext, error) {
	ctx, cancel := e.ctx()
	defer cancel()
	return openPool(ctx, e, pool)
}

// striper is the object interface put, get, stat and rm use: an object
// is plain or striped, either replacing the other (see rados.Striper).
func striper(ioc *rados.IOContext, objectSize uint64) *rados.Striper {
	return &rados.Striper{IO: ioc, ObjectSize: objectSize, ReadSize: ioPiece}
}

// transferJSON is the -o json result of put and get.
type transferJSON struct {
	Pool    string `json:"pool"`
	Object  string `json:"object"`
	Bytes   uint64 `json:"bytes"`
	Striped bool   `json:"striped"`
}

// put

func putCmd(e *env, args []string) error {
	const topic = "put"
	a, err := objArgs(topic, args, map[string]bool{"max-object-size": true, "object-size": true}, 3, 3)
	if err != nil {
		return err
	}
	maxSize, err := sizeFlag(a, "max-object-size", defaultMaxObjectSize)
	if err != nil {
		return err
	}
	objSize, err := sizeFlag(a, "object-size", defaultStripeObject)
	if err != nil {
		return err
	}
	pool, oid, src := a.pos[0], a.pos[1], a.pos[2]

	// size is the input's size if known in advance (a regular file).
	var r io.Reader
	size := int64(-1)
	name := "standard input"
	if src == "-" {
		r = e.stdin
	} else {
		f, err := os.Open(src)
		if err != nil {
			return err
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		if fi.IsDir() {
			return fmt.Errorf("%s is a directory: put stores one file", src)
		}
		if fi.Mode().IsRegular() {
			size = fi.Size()
		}
		r, name = f, src
	}

	ioc, err := connectPool(e, pool)
	if err != nil {
		return err
	}
	ctx, cancel := transferCtx()
	defer cancel()

	striped := size > int64(maxSize)
	if size < 0 {
		// A stream of unknown length: read up to the limit to decide.
		head, total, err := readHead(r, maxSize+1)
		if err != nil {
			return fmt.Errorf("reading %s: %w", name, err)
		}
		readers := make([]io.Reader, 0, len(head)+1)
		for _, b := range head {
			readers = append(readers, byteReader(b))
		}
		striped = total > maxSize
		if striped {
			readers = append(readers, r)
		}
		r = io.MultiReader(readers...)
	}
	// Either kind replaces the other, and what the name held, as a
	// whole (see rados.Striper).
	s := striper(ioc, objSize)
	var n uint64
	if striped {
		if n, err = s.Put(ctx, oid, r); err != nil {
			return objErr(err, "writing striped object", pool, oid)
		}
	} else {
		if n, err = putPlain(ctx, s, oid, r, maxSize, name); err != nil {
			return objErr(err, "writing", pool, oid)
		}
	}
	if e.json {
		return writeJSON(e, transferJSON{Pool: pool, Object: oid, Bytes: n, Striped: striped})
	}
	return nil
}

func byteReader(b []byte) io.Reader { return &sliceReader{b: b} }

// sliceReader reads a slice and lets it go once read.
type sliceReader struct{ b []byte }

func (s *sliceReader) Read(p []byte) (int, error) {
	if len(s.b) == 0 {
		s.b = nil
		return 0, io.EOF
	}
	n := copy(p, s.b)
	s.b = s.b[n:]
	return n, nil
}

// readHead reads up to limit bytes of r in pieces of at most ioPiece.
func readHead(r io.Reader, limit uint64) (pieces [][]byte, total uint64, err error) {
	for total < limit {
		buf := make([]byte, min(limit-total, ioPiece))
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			pieces = append(pieces, buf[:n])
			total += uint64(n)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return nil, 0, err
		}
	}
	return pieces, total, nil
}

// putPlain writes r to one object: the first piece replaces what the
// name held, plain or striped, in one operation (so an empty input makes
// an empty object), then the others are written in order, each guarded
// by the version the one before left: a put that replaced the object
// meanwhile is not written into.
func putPlain(ctx context.Context, s *rados.Striper, oid string, r io.Reader, limit uint64, name string) (uint64, error) {
	buf := make([]byte, ioPiece)
	var off, version uint64
	for {
		n, rerr := io.ReadFull(r, buf)
		if rerr != nil && rerr != io.EOF && rerr != io.ErrUnexpectedEOF {
			return off, fmt.Errorf("reading %s: %w", name, rerr)
		}
		if off+uint64(n) > limit {
			return off, fmt.Errorf("%s grew past --max-object-size (%d bytes) while being read; run put again", name, limit)
		}
		var err error
		switch {
		case off == 0:
			version, err = s.WriteFull(ctx, oid, buf[:n])
		case n > 0:
			version, err = s.IO.Operate(ctx, oid, rados.NewWriteOp().AssertVersion(version).Write(buf[:n], off))
			if errors.Is(err, rados.ErrVersion) {
				err = fmt.Errorf("another put, or another change, of the object came after the first %d bytes of this one: the object is that one's (%w)", off, rados.ErrReplaced)
			}
		}
		if err != nil {
			return off, err
		}
		off += uint64(n)
		if rerr != nil {
			return off, nil
		}
	}
}

// get

func getCmd(e *env, args []string) error {
	const topic = "get"
	a, err := objArgs(topic, args, nil, 3, 3)
	if err != nil {
		return err
	}
	pool, oid, dst := a.pos[0], a.pos[1], a.pos[2]
	if dst != "-" {
		if fi, err := os.Stat(dst); err == nil && fi.IsDir() {
			return fmt.Errorf("%s is a directory: give the file to write, such as %s", dst, filepath.Join(dst, filepath.Base(oid)))
		}
	}
	ioc, err := connectPool(e, pool)
	if err != nil {
		return err
	}
	ctx, cancel := transferCtx()
	defer cancel()

	// The object, plain or striped, as one put left it: Get starts again
	// when a put replaces it before any of it is written, and fails with
	// ErrReplaced after; a file is then written again from the start.
	var st rados.StriperStat
	fetch := func(w io.Writer) (uint64, error) {
		var err error
		st, err = striper(ioc, defaultStripeObject).Get(ctx, oid, w)
		return st.Size, err
	}
	if dst == "-" {
		_, err = fetch(e.stdout)
	} else {
		for try := 1; ; try++ {
			_, err = writeFileAtomic(dst, fetch)
			if !errors.Is(err, rados.ErrReplaced) || try == getTries {
				break
			}
		}
	}
	if err != nil {
		return objErr(err, "reading", pool, oid)
	}
	if e.json && dst != "-" {
		return writeJSON(e, transferJSON{Pool: pool, Object: oid, Bytes: st.Size, Striped: st.Striped})
	}
	return nil
}

// writeFileAtomic writes a file through fill: to a temporary file in the
// same directory, renamed over path when complete, so a failure leaves no
// partial file. An existing file keeps its permissions.
func writeFileAtomic(path string, fill func(io.Writer) (uint64, error)) (n uint64, err error) {
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".radosctl-*")
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if n, err = fill(f); err != nil {
		return n, err
	}
	if err = f.Chmod(mode); err != nil {
		return n, err
	}
	if err = f.Sync(); err != nil {
		return n, err
	}
	if err = f.Close(); err != nil {
		return n, err
	}
	return n, os.Rename(f.Name(), path)
}

// rm, ls, stat

func rmCmd(e *env, args []string) error {
	a, err := objArgs("rm", args, nil, 2, -1)
	if err != nil {
		return err
	}
	pool := a.pos[0]
	ctx, cancel := e.ctx()
	defer cancel()
	ioc, err := openPool(ctx, e, pool)
	if err != nil {
		return err
	}
	var errs []error
	removed := []string{}
	for _, oid := range a.pos[1:] {
		if err := striper(ioc, defaultStripeObject).Remove(ctx, oid); err != nil {
			errs = append(errs, objErr(err, "removing", pool, oid))
			continue
		}
		removed = append(removed, oid)
	}
	if e.json {
		if err := writeJSON(e, map[string]any{"pool": pool, "removed": removed}); err != nil {
			return err
		}
	}
	return errors.Join(errs...)
}

func lsCmd(e *env, args []string) error {
	a, err := objArgs("ls", args, map[string]bool{"all": false}, 1, 1)
	if err != nil {
		return err
	}
	pool, all := a.pos[0], a.has("all")
	ctx, cancel := e.ctx()
	defer cancel()
	ioc, err := openPool(ctx, e, pool)
	if err != nil {
		return err
	}
	names := []string{}
	err = ioc.ListObjects(ctx, func(oid string) error {
		if _, _, _, piece := rados.ParsePieceName(oid); piece && !all {
			return nil // a striped object shows as its head
		}
		if e.json {
			names = append(names, oid)
			return nil
		}
		_, err := fmt.Fprintln(e.stdout, oid)
		return err
	})
	if err != nil {
		return fmt.Errorf("listing pool '%s': %w", pool, err)
	}
	if e.json {
		return writeJSON(e, names)
	}
	return nil
}

// orphans

// orphansJSON is the -o json result of orphans.
type orphansJSON struct {
	Pool    string   `json:"pool"`
	Orphans []string `json:"orphans"`
	Removed bool     `json:"removed"`
}

func orphansCmd(e *env, args []string) error {
	const topic = "orphans"
	a, err := objArgs(topic, args, map[string]bool{"rm": false, "min-age": true}, 1, 1)
	if err != nil {
		return err
	}
	minAge := defaultOrphanAge
	if v, ok := a.flags["min-age"]; ok {
		if minAge, err = time.ParseDuration(v); err != nil || minAge < 0 {
			return objUsage(topic, "--min-age %q: want a duration such as 30m, 24h or 0s", v)
		}
	}
	pool, rm := a.pos[0], a.has("rm")
	ioc, err := connectPool(e, pool)
	if err != nil {
		return err
	}
	ctx, cancel := transferCtx()
	defer cancel()
	out := orphansJSON{Pool: pool, Orphans: []string{}, Removed: rm}
	err = striper(ioc, defaultStripeObject).Orphans(ctx, minAge, func(oid string) error {
		if rm {
			if err := ioc.Remove(ctx, oid); err != nil && !errors.Is(err, rados.ErrNotFound) {
				return fmt.Errorf("removing %s/%s: %w", pool, displayName(oid), err)
			}
		}
		if e.json {
			out.Orphans = append(out.Orphans, oid)
			return nil
		}
		_, err := fmt.Fprintln(e.stdout, oid)
		return err
	})
	if err != nil {
		return fmt.Errorf("looking for orphan pieces in pool '%s': %w", pool, err)
	}
	if e.json {
		return writeJSON(e, out)
	}
	return nil
}

// statJSON is the -o json form of stat. A striped object has no mtime
// and version of its own.
type statJSON struct {
	Pool    string `json:"pool"`
	Object  string `json:"object"`
	Size    uint64 `json:"size"`
	MTime   string `json:"mtime"`
	Version uint64 `json:"version"`
	Striped bool   `json:"striped"`
}

func statCmd(e *env, args []string) error {
	a, err := objArgs("stat", args, nil, 2, 2)
	if err != nil {
		return err
	}
	pool, oid := a.pos[0], a.pos[1]
	ctx, cancel := e.ctx()
	defer cancel()
	ioc, err := openPool(ctx, e, pool)
	if err != nil {
		return err
	}
	st, err := striper(ioc, defaultStripeObject).Stat(ctx, oid)
	if err != nil {
		return objErr(err, "stat", pool, oid)
	}
	out := statJSON{Pool: pool, Object: oid, Size: st.Size, Striped: st.Striped}
	if !st.Striped {
		out.MTime, out.Version = jsonTime(st.ModTime), st.Version
	}
	if e.json {
		return writeJSON(e, out)
	}
	if out.Striped {
		_, err = fmt.Fprintf(e.stdout, "%s/%s striped, size %d\n", pool, oid, out.Size)
	} else {
		_, err = fmt.Fprintf(e.stdout, "%s/%s mtime %s, size %d, version %d\n", pool, oid, cephTime(st.ModTime), st.Size, st.Version)
	}
	return err
}

// xattrs and omap

// entryJSON is an xattr or omap entry in -o json output. A value that is
// valid UTF-8 is in value; any other in value_base64.
type entryJSON struct {
	Pool   string  `json:"pool,omitempty"`
	Object string  `json:"object,omitempty"`
	Name   *string `json:"name,omitempty"`
	Key    *string `json:"key,omitempty"`
	Value  *string `json:"value,omitempty"`
	Base64 *string `json:"value_base64,omitempty"`
}

func (j *entryJSON) setValue(v []byte) {
	s := string(v)
	if utf8.Valid(v) {
		j.Value = &s
		return
	}
	b := base64.StdEncoding.EncodeToString(v)
	j.Base64 = &b
}

// objCmd opens the pool of an object command whose arguments are POOL OBJ
// ARG..., and calls f with a context bounded by --timeout.
func objCmd(e *env, topic string, args []string, n int, f func(ctx context.Context, ioc *rados.IOContext, pool, oid string, rest []string) error) error {
	a, err := objArgs(topic, args, nil, n, n)
	if err != nil {
		return err
	}
	ctx, cancel := e.ctx()
	defer cancel()
	ioc, err := openPool(ctx, e, a.pos[0])
	if err != nil {
		return err
	}
	return f(ctx, ioc, a.pos[0], a.pos[1], a.pos[2:])
}

// done reports a successful change: nothing, or with -o json what was
// changed.
func done(e *env, pool, oid, nameOrKey string, isKey bool) error {
	if !e.json {
		return nil
	}
	out := entryJSON{Pool: pool, Object: oid}
	if isKey {
		out.Key = &nameOrKey
	} else if nameOrKey != "" {
		out.Name = &nameOrKey
	}
	return writeJSON(e, out)
}

// missingEntry tells a missing object from a missing xattr or omap key of
// an existing one.
func missingEntry(ctx context.Context, ioc *rados.IOContext, pool, oid, what string) error {
	if _, err := ioc.Stat(ctx, oid); err != nil {
		return objErr(err, "stat", pool, oid)
	}
	return fmt.Errorf("object %s in pool %s has no %s", oid, pool, what)
}

func setxattrCmd(e *env, args []string) error {
	return objCmd(e, "setxattr", args, 4, func(ctx context.Context, ioc *rados.IOContext, pool, oid string, rest []string) error {
		if err := ioc.SetXattr(ctx, oid, rest[0], []byte(rest[1])); err != nil {
			return objErr(err, "setting an xattr of", pool, oid)
		}
		return done(e, pool, oid, rest[0], false)
	})
}

func getxattrCmd(e *env, args []string) error {
	return objCmd(e, "getxattr", args, 3, func(ctx context.Context, ioc *rados.IOContext, pool, oid string, rest []string) error {
		v, err := ioc.GetXattr(ctx, oid, rest[0])
		if errors.Is(err, rados.ErrNoData) || errors.Is(err, rados.ErrNotFound) {
			return missingEntry(ctx, ioc, pool, oid, fmt.Sprintf("xattr %q (radosctl listxattr %s %s lists them)", rest[0], pool, oid))
		}
		if err != nil {
			return objErr(err, "getting an xattr of", pool, oid)
		}
		if e.json {
			out := entryJSON{Pool: pool, Object: oid, Name: &rest[0]}
			out.setValue(v)
			return writeJSON(e, out)
		}
		_, err = e.stdout.Write(v)
		return err
	})
}

func listxattrCmd(e *env, args []string) error {
	return objCmd(e, "listxattr", args, 2, func(ctx context.Context, ioc *rados.IOContext, pool, oid string, _ []string) error {
		m, err := ioc.GetXattrs(ctx, oid)
		if err != nil {
			return objErr(err, "listing the xattrs of", pool, oid)
		}
		names := sortedKeys(m)
		if e.json {
			return writeJSON(e, append([]string{}, names...))
		}
		for _, n := range names {
			fmt.Fprintln(e.stdout, n)
		}
		return nil
	})
}

func rmxattrCmd(e *env, args []string) error {
	return objCmd(e, "rmxattr", args, 3, func(ctx context.Context, ioc *rados.IOContext, pool, oid string, rest []string) error {
		err := ioc.RmXattr(ctx, oid, rest[0])
		if errors.Is(err, rados.ErrNoData) {
			return missingEntry(ctx, ioc, pool, oid, fmt.Sprintf("xattr %q", rest[0]))
		}
		if err != nil {
			return objErr(err, "removing an xattr of", pool, oid)
		}
		return done(e, pool, oid, rest[0], false)
	})
}

func setomapvalCmd(e *env, args []string) error {
	return objCmd(e, "setomapval", args, 4, func(ctx context.Context, ioc *rados.IOContext, pool, oid string, rest []string) error {
		if err := ioc.OmapSet(ctx, oid, map[string][]byte{rest[0]: []byte(rest[1])}); err != nil {
			return objErr(err, "setting an omap value of", pool, oid)
		}
		return done(e, pool, oid, rest[0], true)
	})
}

func getomapvalCmd(e *env, args []string) error {
	return objCmd(e, "getomapval", args, 3, func(ctx context.Context, ioc *rados.IOContext, pool, oid string, rest []string) error {
		key := rest[0]
		m, err := ioc.OmapGetValsByKeys(ctx, oid, []string{key})
		if err != nil {
			return objErr(err, "getting an omap value of", pool, oid)
		}
		v, ok := m[key]
		if !ok {
			return missingEntry(ctx, ioc, pool, oid, fmt.Sprintf("omap key %q (radosctl listomapkeys %s %s lists them)", key, pool, oid))
		}
		if e.json {
			out := entryJSON{Pool: pool, Object: oid, Key: &key}
			out.setValue(v)
			return writeJSON(e, out)
		}
		_, err = io.WriteString(e.stdout, hexValue(v))
		return err
	})
}

// hexValue prints a value as rados does: its length, then a hex dump
// ending with the offset past its end.
func hexValue(v []byte) string {
	return fmt.Sprintf("value (%d bytes) :\n%s%08x\n", len(v), hex.Dump(v), len(v))
}

func listomapkeysCmd(e *env, args []string) error {
	return objCmd(e, "listomapkeys", args, 2, func(ctx context.Context, ioc *rados.IOContext, pool, oid string, _ []string) error {
		keys := []string{}
		after := ""
		for {
			page, more, err := ioc.OmapGetKeys(ctx, oid, after, omapPage)
			if err != nil {
				return objErr(err, "listing the omap keys of", pool, oid)
			}
			if e.json {
				keys = append(keys, page...)
			} else {
				for _, k := range page {
					fmt.Fprintln(e.stdout, k)
				}
			}
			if !more || len(page) == 0 {
				break
			}
			after = page[len(page)-1]
		}
		if e.json {
			return writeJSON(e, keys)
		}
		return nil
	})
}

func listomapvalsCmd(e *env, args []string) error {
	return objCmd(e, "listomapvals", args, 2, func(ctx context.Context, ioc *rados.IOContext, pool, oid string, _ []string) error {
		out := []entryJSON{}
		after := ""
		for {
			page, more, err := ioc.OmapGetVals(ctx, oid, after, "", omapPage)
			if err != nil {
				return objErr(err, "listing the omap values of", pool, oid)
			}
			keys := sortedKeys(page)
			for _, k := range keys {
				if e.json {
					ent := entryJSON{Key: &k}
					ent.setValue(page[k])
					out = append(out, ent)
				} else {
					fmt.Fprintf(e.stdout, "%s\n%s\n", k, hexValue(page[k]))
				}
			}
			if !more || len(keys) == 0 {
				break
			}
			after = keys[len(keys)-1]
		}
		if e.json {
			return writeJSON(e, out)
		}
		return nil
	})
}

func rmomapkeyCmd(e *env, args []string) error {
	return objCmd(e, "rmomapkey", args, 3, func(ctx context.Context, ioc *rados.IOContext, pool, oid string, rest []string) error {
		if err := ioc.OmapRmKeys(ctx, oid, []string{rest[0]}); err != nil {
			return objErr(err, "removing an omap key of", pool, oid)
		}
		return done(e, pool, oid, rest[0], true)
	})
}

// df

type dfPoolJSON struct {
	Name    string `json:"name"`
	ID      int64  `json:"id"`
	Objects uint64 `json:"objects"`
	Used    uint64 `json:"bytes_used"`
}

type dfOSDJSON struct {
	ID          int32   `json:"id"`
	Up          bool    `json:"up"`
	Used        uint64  `json:"bytes_used"`
	Avail       uint64  `json:"bytes_avail"`
	PercentUsed float64 `json:"percent_used"`
}

type dfJSON struct {
	Pools []dfPoolJSON `json:"pools"`
	OSDs  []dfOSDJSON  `json:"osds"`
	Total struct {
		Used        uint64  `json:"bytes_used"`
		Avail       uint64  `json:"bytes_avail"`
		PercentUsed float64 `json:"percent_used"`
	} `json:"total"`
}

// percentUsed is used as a percentage of used+avail, to two places.
func percentUsed(used, avail uint64) float64 {
	if used+avail == 0 {
		return 0
	}
	return math.Round(float64(used)/float64(used+avail)*10000) / 100
}

// humanBytes prints a byte count for people: B, KiB, MiB, ... with one
// decimal below 10 units and none above.
func humanBytes(n uint64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	v := float64(n) / 1024
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if v < 10 {
		// Truncate rather than round, so that a value just under the
		// next unit never prints as it (1023.6 KiB as "1024 KiB").
		return fmt.Sprintf("%.1f %s", math.Floor(v*10)/10, units[i])
	}
	return fmt.Sprintf("%.0f %s", math.Floor(v), units[i])
}

func dfCmd(e *env, args []string) error {
	if _, err := objArgs("df", args, nil, 0, 0); err != nil {
		return err
	}
	ctx, cancel := e.ctx()
	defer cancel()
	c, err := e.conn(ctx)
	if err != nil {
		return err
	}
	st, err := c.ClusterStats(ctx)
	if err != nil {
		return fmt.Errorf("getting the cluster's usage: %w", err)
	}
	m, err := c.Map(ctx)
	if err != nil {
		return err
	}
	out := dfJSON{Pools: []dfPoolJSON{}, OSDs: []dfOSDJSON{}}
	seen := map[string]bool{}
	for _, id := range m.PoolIDs() {
		p := m.Pools[id]
		ps := st.Pools[p.Name]
		seen[p.Name] = true
		out.Pools = append(out.Pools, dfPoolJSON{Name: p.Name, ID: int64(p.ID), Objects: ps.Objects, Used: ps.Bytes})
	}
	// Pools the stats know and this map does not (just created or
	// removed) come last, without an id.
	for _, name := range sortedKeys(st.Pools) {
		if !seen[name] {
			ps := st.Pools[name]
			out.Pools = append(out.Pools, dfPoolJSON{Name: name, ID: -1, Objects: ps.Objects, Used: ps.Bytes})
		}
	}
	osds := slices.Clone(st.OSDs)
	slices.SortFunc(osds, func(a, b rados.OSDStat) int { return int(a.ID) - int(b.ID) })
	for _, o := range osds {
		out.OSDs = append(out.OSDs, dfOSDJSON{ID: o.ID, Up: o.Up, Used: o.Used, Avail: o.Avail, PercentUsed: percentUsed(o.Used, o.Avail)})
		out.Total.Used += o.Used
		out.Total.Avail += o.Avail
	}
	out.Total.PercentUsed = percentUsed(out.Total.Used, out.Total.Avail)
	if e.json {
		return writeJSON(e, out)
	}
	return writeDF(e.stdout, &out)
}

// writeDF prints df's tables.
func writeDF(w io.Writer, d *dfJSON) error {
	fmt.Fprintln(w, "POOLS:")
	t := newTable("NAME", "ID>", "OBJECTS>", "USED>")
	for _, p := range d.Pools {
		id := strconv.FormatInt(p.ID, 10)
		if p.ID < 0 {
			id = "-"
		}
		t.add(p.Name, id, strconv.FormatUint(p.Objects, 10), humanBytes(p.Used))
	}
	if err := t.write(w); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nOSDS:")
	t = newTable("ID>", "UP", "USED>", "AVAIL>", "%USE>")
	for _, o := range d.OSDs {
		up := "down"
		if o.Up {
			up = "up"
		}
		t.add(fmt.Sprintf("osd.%d", o.ID), up, humanBytes(o.Used), humanBytes(o.Avail), fmt.Sprintf("%.2f", o.PercentUsed))
	}
	t.add("TOTAL", "", humanBytes(d.Total.Used), humanBytes(d.Total.Avail), fmt.Sprintf("%.2f", d.Total.PercentUsed))
	return t.write(w)
}
