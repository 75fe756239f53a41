package rados

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	pb "github.com/loligo/loligo/proto/loligopb"
)

// TestBadNames: names that cannot be sent (a proto string must be UTF-8)
// or that the OSD would refuse are refused before anything is sent,
// with ErrBadName (an ErrInvalid) naming what is wrong.
func TestBadNames(t *testing.T) {
	fc := newFakeCluster(t, 3)
	c := fc.conn(fc.m, time.Second)
	io := fc.ioctx(c)
	ctx := ctxT(t, 30*time.Second)
	s := &Striper{IO: io}
	bad := func(what string, err error, want string) {
		t.Helper()
		if !errors.Is(err, ErrBadName) || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want ErrBadName saying %q", what, err, want)
		}
	}
	for _, tc := range []struct{ oid, want string }{
		{"", "the object name is empty"},
		{"caf\xe9", `"caf\xe9": the object name is not valid UTF-8`},
		{strings.Repeat("x", MaxObjectNameLen+1), "has 2049 bytes, more than the 2048"},
		{"a\x00b", "holds a NUL byte"},
	} {
		bad("write of "+tc.oid, io.WriteFull(ctx, tc.oid, []byte("x")), tc.want)
		_, err := io.Stat(ctx, tc.oid)
		bad("stat of "+tc.oid, err, tc.want)
		_, err = s.Put(ctx, tc.oid, strings.NewReader("x"))
		bad("striped put of "+tc.oid, err, tc.want)
		_, err = s.Get(ctx, tc.oid, &bytes.Buffer{})
		bad("get of "+tc.oid, err, tc.want)
		bad("remove of "+tc.oid, s.Remove(ctx, tc.oid), tc.want)
	}
	bad("xattr name", io.SetXattr(ctx, "o", "user.\xff", nil), `step 0 (setxattr): the xattr name "user.\xff" is not valid UTF-8`)
	_, err := io.GetXattr(ctx, "o", "\xff")
	bad("getxattr", err, "the xattr name")
	bad("omap key", io.OmapSet(ctx, "o", map[string][]byte{"k\xff": nil}), `the omap key "k\xff"`)
	bad("omap rm", io.OmapRmKeys(ctx, "o", []string{"\xfe"}), "the omap key")
	_, _, err = io.OmapGetVals(ctx, "o", "", "p\xff", 0)
	bad("omap prefix", err, "the key prefix")
	_, _, err = io.OmapGetKeys(ctx, "o", "\xff", 0)
	bad("omap start", err, "the start key")
	if n := len(fc.requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
	// Admin requests: every string field, at any depth.
	_, err = c.Command(ctx, &pb.CommandRequest{Cmd: &pb.CommandRequest_PoolCreate{PoolCreate: &pb.PoolCreate{Name: "p\xff"}}})
	bad("pool create", err, `pool_create.name "p\xff" is not valid UTF-8`)
	_, err = c.OSDConfig(ctx, 0, map[string]string{"k": "\xff"})
	bad("osd config", err, `set["k"] "\xff" is not valid UTF-8`)
	_, err = c.OSDConfig(ctx, 0, map[string]string{"\xff": "v"})
	bad("osd config key", err, `set key "\xff"`)
}
