package osd_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/loligo/loligo/internal/testcluster"
	"github.com/loligo/loligo/rados"
)

// With size 3 and min_size 2: one OSD down keeps every PG taking
// writes; two down stops them (each PG keeps one copy, below min_size)
// until one returns, and nothing acknowledged is lost.
func TestMinSizeAvailability(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{OSDs: 3, Pool: "data", PGNum: 8,
		HeartbeatInterval: 200 * time.Millisecond, HeartbeatGrace: 2 * time.Second})
	ctx := context.Background()
	patient, err := rados.Connect(ctx, rados.Options{ConfPath: c.ConfPath, OpTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer patient.Close()
	hasty, err := rados.Connect(ctx, rados.Options{ConfPath: c.ConfPath, OpTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer hasty.Close()
	io, err := patient.OpenPool(ctx, "data")
	if err != nil {
		t.Fatal(err)
	}
	hio, err := hasty.OpenPool(ctx, "data")
	if err != nil {
		t.Fatal(err)
	}
	// Enough objects to touch every PG.
	const n = 40
	write := func(io *rados.IOContext, round string) error {
		for i := range n {
			if err := io.WriteFull(ctx, fmt.Sprintf("o%d", i), []byte(round+fmt.Sprint(i))); err != nil {
				return fmt.Errorf("o%d: %w", i, err)
			}
		}
		return nil
	}
	if err := write(io, "all up "); err != nil {
		t.Fatal(err)
	}

	c.StopOSD(0)
	if err := write(io, "one down "); err != nil {
		t.Fatalf("a write failed with one OSD of three down: %v", err)
	}

	c.StopOSD(1)
	err = hio.WriteFull(ctx, "o0", []byte("two down"))
	if err == nil {
		t.Fatal("a write was acknowledged with two OSDs of three down (min_size 2)")
	}
	if !errors.Is(err, rados.ErrUnavailable) {
		t.Errorf("write with two down: %v, want an unavailable error", err)
	}

	c.StartOSD(1)
	if err := write(io, "one back "); err != nil {
		t.Fatalf("a write failed after an OSD returned: %v", err)
	}
	c.StartOSD(0)
	c.WaitClean(2 * time.Minute)
	for i := range n {
		got, err := io.Read(ctx, fmt.Sprintf("o%d", i), 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprint("one back ", i); string(got) != want {
			t.Errorf("o%d = %q, want %q", i, got, want)
		}
	}
}
