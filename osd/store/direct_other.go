//go:build !linux

package store

import (
	"errors"

	"github.com/cockroachdb/pebble/objstorage"
)

// Without Linux's O_DIRECT, every sstable goes through the vfs.

const directMin = 1 << 62

var errNoDirect = errors.New("O_DIRECT not supported")

func newDirectWritable(path string, sizeHint int) objstorage.Writable { return nil }
