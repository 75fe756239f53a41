package store

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"github.com/cockroachdb/pebble/objstorage"
)

// Large objects' sstables are written with O_DIRECT: the file is built in
// memory, its aligned part written straight to the device and only the
// unaligned tail through the page cache, then fdatasync'd. On this
// project's machines buffered writes plus fsync reach a fifth of the
// device's direct-write bandwidth (the kernel's writeback is the
// bottleneck), and the OSD reads large data rarely enough that skipping
// the page cache costs little. BlueStore writes large data the same way.

const directAlign = 4096

// directBufs recycles the in-memory sstable images (a few MiB each).
var directBufs sync.Pool

// directWritable is an objstorage.Writable that writes the whole file at
// Finish.
type directWritable struct {
	path string
	raw  []byte // the allocation; buf is its aligned part
	buf  []byte
}

// newDirectWritable returns a writer for path, or nil when O_DIRECT is
// not available for the store's file system (the caller then writes
// through the vfs).
func newDirectWritable(path string, sizeHint int) *directWritable {
	w := &directWritable{path: path}
	if v, ok := directBufs.Get().(*directWritable); ok && cap(v.buf) >= sizeHint {
		w.raw, w.buf = v.raw, v.buf[:0]
	} else {
		w.grow(sizeHint)
	}
	return w
}

func alignedSlice(n int) (raw, buf []byte) {
	raw = make([]byte, n+directAlign)
	off := 0
	if r := int(uintptr(unsafe.Pointer(&raw[0])) % directAlign); r != 0 {
		off = directAlign - r
	}
	return raw, raw[off : off : off+n]
}

func (w *directWritable) grow(min int) {
	n := max(2*cap(w.buf), min, 1<<20)
	raw, buf := alignedSlice(n)
	buf = append(buf, w.buf...)
	w.raw, w.buf = raw, buf
}

func (w *directWritable) Write(p []byte) error {
	if len(w.buf)+len(p) > cap(w.buf) {
		w.grow(len(w.buf) + len(p))
	}
	w.buf = append(w.buf, p...)
	return nil
}

func (w *directWritable) Finish() error {
	defer w.release()
	return writeDirect(w.path, w.buf)
}

func (w *directWritable) Abort() {
	w.release()
	_ = os.Remove(w.path)
}

func (w *directWritable) release() {
	if w.raw != nil && cap(w.buf) <= 64<<20 {
		directBufs.Put(&directWritable{raw: w.raw, buf: w.buf[:0]})
	}
	w.raw, w.buf = nil, nil
}

var _ objstorage.Writable = (*directWritable)(nil)

// errNoDirect means the file system refuses O_DIRECT (tmpfs does).
var errNoDirect = errors.New("O_DIRECT not supported")

// writeDirect writes data (starting at an aligned address) to a new file
// at path and makes it durable.
func writeDirect(path string, data []byte) (err error) {
	fd, err := syscall.Open(path, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_TRUNC|syscall.O_DIRECT|syscall.O_CLOEXEC, 0o644)
	if errors.Is(err, syscall.EINVAL) {
		return errNoDirect
	}
	if err != nil {
		return &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer func() {
		if cerr := syscall.Close(fd); err == nil && cerr != nil {
			err = &os.PathError{Op: "close", Path: path, Err: cerr}
		}
	}()
	aligned := len(data) &^ (directAlign - 1)
	if err := pwriteAll(fd, data[:aligned], 0); err != nil {
		if errors.Is(err, syscall.EINVAL) {
			return errNoDirect
		}
		return &os.PathError{Op: "write", Path: path, Err: err}
	}
	if aligned < len(data) {
		// The tail is not a whole block: write it through the page cache.
		flags, _, e := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFL, 0)
		if e != 0 {
			return &os.PathError{Op: "fcntl", Path: path, Err: e}
		}
		if _, _, e := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_SETFL, flags&^syscall.O_DIRECT); e != 0 {
			return &os.PathError{Op: "fcntl", Path: path, Err: e}
		}
		if err := pwriteAll(fd, data[aligned:], int64(aligned)); err != nil {
			return &os.PathError{Op: "write", Path: path, Err: err}
		}
	}
	if err := syscall.Fdatasync(fd); err != nil {
		return &os.PathError{Op: "fdatasync", Path: path, Err: err}
	}
	return nil
}

func pwriteAll(fd int, p []byte, off int64) error {
	for len(p) > 0 {
		n, err := syscall.Pwrite(fd, p, off)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("short write")
		}
		p, off = p[n:], off+int64(n)
	}
	return nil
}

// directMin is the smallest sstable written with O_DIRECT.
const directMin = 256 << 10
