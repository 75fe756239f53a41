package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loligo/loligo/internal/pki"
	"github.com/loligo/loligo/mon"
	"github.com/loligo/loligo/rados"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// freeBase finds a port base whose ports base..base+12 are free now.
func freeBase(t *testing.T) int {
	for try := 0; try < 50; try++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		base := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if base > 65000 {
			continue
		}
		ok := true
		for p := base; p <= base+12 && ok; p++ {
			if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p)); err != nil {
				ok = false
			} else {
				l.Close()
			}
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free port range")
	return 0
}

// startUp runs `loligo up` until the returned stop is called, and waits
// for its banner.
func startUp(t *testing.T, dir string, base int) (out *syncBuffer, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out = &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- upCmd(ctx, []string{"--dir", dir, "--osds", "3", "--port-base", fmt.Sprint(base)}, out, io.Discard)
	}()
	deadline := time.After(2 * time.Minute)
	for !strings.Contains(out.String(), "Ctrl-C") {
		select {
		case err := <-done:
			cancel()
			t.Fatalf("loligo up ended before it was ready: %v\n%s", err, out)
		case <-deadline:
			cancel()
			t.Fatalf("loligo up not ready after 2 minutes:\n%s", out)
		case <-time.After(50 * time.Millisecond):
		}
	}
	return out, func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("loligo up: %v", err)
			}
		case <-time.After(time.Minute):
			t.Error("loligo up did not stop within a minute")
		}
	}
}

// `loligo up` (what `make up` runs) makes a cluster that takes objects,
// and run again on its directory resumes it with them.
func TestUpResumes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cluster")
	base := freeBase(t)
	out, stop := startUp(t, dir, base)
	if !strings.Contains(out.String(), "created") {
		t.Errorf("first run does not say it created the cluster:\n%s", out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	data := bytes.Repeat([]byte("squid "), 300000) // 1.8 MB: chunked, ingested
	func() {
		c, err := rados.Connect(ctx, rados.Options{ConfPath: filepath.Join(dir, "loligo.conf")})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io, err := c.OpenPool(ctx, "data")
		if err != nil {
			t.Fatal(err)
		}
		if err := io.WriteFull(ctx, "kept", data); err != nil {
			t.Fatal(err)
		}
		m := c.CurrentMap()
		p, _ := m.PoolByName("data")
		if p.Size != 3 || p.MinSize != 2 {
			t.Errorf("pool data has size %d min_size %d, want 3 and 2", p.Size, p.MinSize)
		}
	}()
	stop()

	// Other ports on the same directory are refused, with what to do,
	// before anything starts (they were quietly ignored).
	err := upCmd(ctx, []string{"--dir", dir, "--osds", "3", "--port-base", fmt.Sprint(base + 100)}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("127.0.0.1:%d", base)) || !strings.Contains(err.Error(), "run without --port-base") {
		t.Errorf("resuming on other ports: %v", err)
	}

	out, stop = startUp(t, dir, base)
	defer stop()
	if !strings.Contains(out.String(), "resumed") {
		t.Errorf("second run does not say it resumed:\n%s", out)
	}
	c, err := rados.Connect(ctx, rados.Options{ConfPath: filepath.Join(dir, "loligo.conf")})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pool, err := c.OpenPool(ctx, "data")
	if err != nil {
		t.Fatal(err)
	}
	got, err := pool.Read(ctx, "kept", 0, 0)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("after resuming: %d bytes, err %v; want the %d written", len(got), err, len(data))
	}
}

// A cluster directory made before the etcd CA (keys/etcd did not exist)
// resumes with its map and objects: `loligo up` makes the etcd CA and
// the monitor's etcd certificate, and the embedded member trusts only
// that CA from then on.
func TestUpResumesOldKeyLayout(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cluster")
	base := freeBase(t)
	_, stop := startUp(t, dir, base)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	connect := func() *rados.Conn {
		c, err := rados.Connect(ctx, rados.Options{ConfPath: filepath.Join(dir, "loligo.conf")})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := connect()
	io, err := c.OpenPool(ctx, "data")
	if err != nil {
		t.Fatal(err)
	}
	if err := io.WriteFull(ctx, "kept", []byte("squid")); err != nil {
		t.Fatal(err)
	}
	before := c.CurrentMap()
	pool, _ := before.PoolByName("data")
	c.Close()
	stop()

	etcdKeys := filepath.Join(dir, "mon.a", "keys", "etcd")
	if _, err := os.Stat(filepath.Join(etcdKeys, "mon.a.crt")); err != nil {
		t.Fatalf("a new cluster has no etcd certificate: %v", err)
	}
	// The old layout: keys/ holds the cluster CA and certificates only.
	if err := os.RemoveAll(etcdKeys); err != nil {
		t.Fatal(err)
	}

	out, stop := startUp(t, dir, base)
	defer stop()
	if !strings.Contains(out.String(), "resumed") {
		t.Errorf("the run on the old layout does not say it resumed:\n%s", out)
	}
	ek := mon.EtcdKeyPaths(filepath.Join(dir, "mon.a"), "a")
	if ok, err := pki.IssuedBy(ek.Cert, ek.CA); err != nil || !ok {
		t.Errorf("after the upgrade: %s from the etcd CA %s: %v, %v", ek.Cert, ek.CA, ok, err)
	}
	c = connect()
	defer c.Close()
	io, err = c.OpenPool(ctx, "data")
	if err != nil {
		t.Fatal(err)
	}
	after := c.CurrentMap()
	t.Logf("map epoch %d before, %d after the upgrade", before.Epoch, after.Epoch)
	if p, err := after.PoolByName("data"); err != nil || p.ID != pool.ID || after.Epoch < before.Epoch {
		t.Errorf("after the upgrade: epoch %d (was %d), pool data %v (was id %d), %v", after.Epoch, before.Epoch, p, pool.ID, err)
	}
	if got, err := io.Read(ctx, "kept", 0, 0); err != nil || string(got) != "squid" {
		t.Errorf("after the upgrade: read %q, %v", got, err)
	}
}
