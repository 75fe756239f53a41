package osd_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/loligo/loligo/internal/testcluster"
	pb "github.com/loligo/loligo/proto/loligopb"
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

// Marking out one OSD of three leaves CRUSH nowhere to put the third
// copy: a pg_temp keeps the out OSD acting, and every PG settles as
// active+clean+remapped (and stays there, no peering loop) while writes
// go on; marked in again, the PGs return to active+clean.
func TestOutWithoutReplacement(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{OSDs: 3, Pool: "data", PGNum: 8,
		HeartbeatInterval: 200 * time.Millisecond, HeartbeatGrace: 2 * time.Second})
	ctx := context.Background()
	conn, err := rados.Connect(ctx, rados.Options{ConfPath: c.ConfPath})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io, err := conn.OpenPool(ctx, "data")
	if err != nil {
		t.Fatal(err)
	}
	setState := func(st pb.OSDSetState_State) {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if _, err := c.Client("client.admin", 0).Command(cctx, &pb.CommandRequest{Yes: true,
			Cmd: &pb.CommandRequest_OsdState{OsdState: &pb.OSDSetState{Ids: []int32{2}, State: st}}}); err != nil {
			t.Fatal(err)
		}
	}
	setState(pb.OSDSetState_STATE_OUT)
	states := func() map[string]int {
		out := map[string]int{}
		for _, od := range c.OSDs {
			for _, s := range od.O.PGStates() {
				if s != "replica" && s != "stray" {
					out[s]++
				}
			}
		}
		return out
	}
	deadline := time.Now().Add(time.Minute)
	for states()["active+clean+remapped"] != 8 {
		if time.Now().After(deadline) {
			t.Fatalf("PGs after osd out 2: %v, want 8 active+clean+remapped", states())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := io.WriteFull(ctx, "while-out", []byte("x")); err != nil {
		t.Fatal(err)
	}
	// Settled: a second later every PG is still in the same state since
	// the same moment (it did not peer again).
	since := map[string]int64{}
	for _, od := range c.OSDs {
		for id, ts := range od.O.PGSince() {
			since[fmt.Sprint(od.Config.ID, id)] = ts
		}
	}
	time.Sleep(time.Second)
	for _, od := range c.OSDs {
		for id, ts := range od.O.PGSince() {
			if k := fmt.Sprint(od.Config.ID, id); since[k] != ts {
				t.Errorf("osd.%d pg %s changed state after settling (peering again?)", od.Config.ID, id)
			}
		}
	}
	setState(pb.OSDSetState_STATE_IN)
	c.WaitClean(time.Minute)
}
