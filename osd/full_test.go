package osd_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/loligo/loligo/internal/testcluster"
	"github.com/loligo/loligo/osd"
	pb "github.com/loligo/loligo/proto/loligopb"
	"github.com/loligo/loligo/rados"
)

// tmpfsSize is the file system each OSD of TestFullDisk gets.
const tmpfsSize = 64 << 20

// TestFullDisk runs three OSDs on 64 MiB tmpfs mounts the test makes
// (root only) through Ceph's fullness model:
//   - with low ratios set (radosctl osd set-*-ratio), writes fill the
//     OSDs: health shows OSD_NEARFULL, then OSD_FULL and POOL_FULL, and
//     the next write fails at once with rados.ErrFull naming the full
//     OSD, while deletes still go through;
//   - raised ratios let writes in again;
//   - then one OSD's disk fills behind its back (a file the test writes,
//     with its failsafe off): its store meets ENOSPC, it marks itself
//     down saying its disk is full, the others take over, and once the
//     file is gone it starts again on its own (a new incarnation) and
//     is caught up;
//
// and at the end every acknowledged write reads back.
func TestFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting tmpfs needs root")
	}
	const victimIdx = 2
	c := smallDisks(t, 3, func(i int, cfg *osd.Config) {
		if i == victimIdx {
			cfg.FailsafeRatio = 1 // its disk fills behind its back below
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	conn, err := rados.Connect(ctx, rados.Options{ConfPath: c.ConfPath, OpTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io, err := conn.OpenPool(ctx, "data")
	if err != nil {
		t.Fatal(err)
	}
	mon := adminOf(t, ctx, c)
	ratio, health, waitHealth := mon.ratio, mon.checks, mon.waitChecks
	led := &testcluster.Ledger{}
	// 1 MiB that does not compress.
	obj := func(i int) []byte {
		r := rand.New(rand.NewPCG(uint64(i), 9))
		b := make([]byte, 1<<20)
		for j := 0; j < len(b); j += 8 {
			binary.LittleEndian.PutUint64(b[j:], r.Uint64())
		}
		return b
	}

	// Low ratios: 64 MiB disks are full at 32 MiB.
	ratio(pb.OSDFullness_OSD_FULLNESS_NEARFULL, 0.25)
	ratio(pb.OSDFullness_OSD_FULLNESS_BACKFILLFULL, 0.40)
	ratio(pb.OSDFullness_OSD_FULLNESS_FULL, 0.50)
	seen := map[string]bool{}
	var fullErr error
	n := 0
	for ; n < 60 && fullErr == nil; n++ {
		oid := fmt.Sprintf("o%03d", n)
		led.Sending(oid, obj(n))
		err := io.WriteFull(ctx, oid, obj(n))
		switch {
		case err == nil:
			led.Acked(oid, obj(n))
		case errors.Is(err, rados.ErrFull):
			fullErr = err
		default:
			t.Fatalf("write %s: %v", oid, err)
		}
		// Let the monitor judge the OSDs between writes, as time would.
		time.Sleep(300 * time.Millisecond)
		for code := range health() {
			seen[code] = true
		}
	}
	if fullErr == nil {
		for _, od := range c.OSDs {
			var st syscall.Statfs_t
			_ = syscall.Statfs(od.Dir, &st)
			t.Logf("%s: %d of %d blocks free; map: %v", od.Dir, st.Bavail, st.Blocks, od.Current().Map().OSDs[od.Config.ID].Fullness)
		}
		t.Fatalf("60 MiB written to 64 MiB disks with the full ratio at 0.5, and no write refused (health seen %v)", seen)
	}
	t.Logf("write %d refused: %v", n-1, fullErr)
	if !strings.Contains(fullErr.Error(), "full") {
		t.Errorf("the error does not say the OSD is full: %v", fullErr)
	}
	h := health()
	for code := range h {
		seen[code] = true
	}
	for _, code := range []string{"OSD_NEARFULL", "OSD_FULL", "POOL_FULL"} {
		if !seen[code] {
			t.Errorf("health never showed %s (seen %v)", code, seen)
		}
	}
	// Deletes and truncates go through on a full pool.
	removed := map[string]bool{}
	for i := 0; i < 4; i++ {
		oid := fmt.Sprintf("o%03d", i)
		if err := io.Remove(ctx, oid); err != nil {
			t.Fatalf("removing %s from a full pool: %v", oid, err)
		}
		removed[oid] = true
	}
	led.Sending("o004", obj(4)[:10])
	if err := io.Truncate(ctx, "o004", 10); err != nil {
		t.Fatalf("truncating o004 in a full pool: %v", err)
	}
	led.Acked("o004", obj(4)[:10])

	// Raised ratios take the pool out of full.
	ratio(pb.OSDFullness_OSD_FULLNESS_FULL, 0.95)
	ratio(pb.OSDFullness_OSD_FULLNESS_BACKFILLFULL, 0.90)
	ratio(pb.OSDFullness_OSD_FULLNESS_NEARFULL, 0.85)
	waitHealth("OSD_FULL and POOL_FULL cleared", func(h map[string]*pb.HealthCheck) bool {
		return h["OSD_FULL"] == nil && h["POOL_FULL"] == nil
	})
	oid := "after-raise"
	led.Sending(oid, obj(1000))
	if err := io.WriteFull(ctx, oid, obj(1000)); err != nil {
		t.Fatalf("write after raising the ratios: %v", err)
	}
	led.Acked(oid, obj(1000))
	c.WaitClean(time.Minute)

	// The victim's disk fills behind its back.
	victim := c.OSDs[victimIdx]
	id := victim.Config.ID
	first := victim.Current()
	junk := filepath.Join(victim.Dir, "junk")
	fillDisk(t, junk)
	t.Logf("osd.%d's disk filled", id)
	down := false
	for i := 0; i < 40 && !down; i++ {
		oid := fmt.Sprintf("p%03d", i)
		d := obj(2000 + i)
		led.Sending(oid, d)
		if err := io.WriteFull(ctx, oid, d); err != nil {
			t.Logf("write %s: %v", oid, err)
		} else {
			led.Acked(oid, d)
		}
		if ch := health()["OSD_DOWN"]; ch != nil && len(ch.GetDetail()) > 0 {
			down = strings.Contains(ch.GetDetail()[0], fmt.Sprintf("osd.%d ", id))
		}
	}
	h = waitHealth(fmt.Sprintf("osd.%d down for a full disk", id), func(h map[string]*pb.HealthCheck) bool {
		ch := h["OSD_DOWN"]
		return ch != nil && len(ch.GetDetail()) > 0 && strings.Contains(ch.GetDetail()[0], "disk is full")
	})
	t.Logf("health: %s", h["OSD_DOWN"].GetDetail()[0])
	// The others serve meanwhile.
	oid = "while-down"
	led.Sending(oid, obj(3000))
	if err := io.WriteFull(ctx, oid, obj(3000)); err != nil {
		t.Fatalf("write while osd.%d is down: %v", id, err)
	}
	led.Acked(oid, obj(3000))
	// Space freed: it comes back on its own, as a new incarnation.
	if err := os.Remove(junk); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for victim.Current() == first || !booted(victim.Current()) {
		if time.Now().After(deadline) {
			t.Fatalf("osd.%d did not start again after space was freed", id)
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.WaitClean(2 * time.Minute)
	for oid := range removed {
		if _, err := io.Stat(ctx, oid); !errors.Is(err, rados.ErrNotFound) {
			t.Errorf("%s was removed, yet stat says %v", oid, err)
		}
	}
	for _, oid := range led.Objects() {
		if removed[oid] {
			continue
		}
		got, err := io.Read(ctx, oid, 0, 2<<20)
		if errors.Is(err, rados.ErrNotFound) {
			got, err = nil, nil
		}
		if err != nil || !led.Allowed(oid, got, got != nil) {
			t.Errorf("%s: %d bytes, %v: not its last acknowledged write", oid, len(got), err)
		}
	}
	t.Logf("%d writes acknowledged; all read back", led.Acknowledged())
}

// smallDisks starts n OSDs, each on a tmpfs of tmpfsSize the test mounts
// (root only), with a pool "data" of 8 PGs; more may change OSD i's
// config.
func smallDisks(t *testing.T, n int, more func(i int, cfg *osd.Config)) *testcluster.Cluster {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting tmpfs needs root")
	}
	return testcluster.Start(t, testcluster.Options{OSDs: n, Pool: "data", PGNum: 8,
		HeartbeatInterval: 200 * time.Millisecond, HeartbeatGrace: 2 * time.Second, BeaconInterval: 200 * time.Millisecond,
		PrepareOSDDir: func(i int, dir string) {
			if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d", tmpfsSize)); err != nil {
				t.Skipf("mounting tmpfs on %s: %v", dir, err)
			}
			t.Cleanup(func() {
				if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
					t.Logf("unmounting %s: %v", dir, err)
				}
			})
		},
		OSD: func(i int, cfg *osd.Config) {
			cfg.Store.MemTableSize, cfg.Store.CacheSize = 1<<20, 1<<20
			cfg.StatsInterval = 300 * time.Millisecond
			cfg.SpaceRetry = 200 * time.Millisecond
			if more != nil {
				more(i, cfg)
			}
		}})
}

// TestBackfillTooFull: no backfill targets a backfillfull OSD. With
// every OSD past the backfillfull ratio, an OSD marked out leaves PGs
// whose backfill waits (backfill_toofull, PG_BACKFILL_FULL in health);
// raising the ratio lets it finish.
func TestBackfillTooFull(t *testing.T) {
	// A short log: a new member is backfilled, not log-recovered.
	c := smallDisks(t, 4, func(_ int, cfg *osd.Config) { cfg.Store.LogEntries = 8 })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	conn, err := rados.Connect(ctx, rados.Options{ConfPath: c.ConfPath})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io, err := conn.OpenPool(ctx, "data")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 128 {
		b := make([]byte, 32<<10)
		for j := range b {
			b[j] = byte(i*31 + j*7 + j>>9)
		}
		if err := io.WriteFull(ctx, fmt.Sprintf("o%02d", i), b); err != nil {
			t.Fatal(err)
		}
	}
	mon := adminOf(t, ctx, c)
	ratio, waitChecks := mon.ratio, mon.waitChecks
	// A few MiB of 64 are past 1%: every OSD is backfillfull, none full.
	ratio(pb.OSDFullness_OSD_FULLNESS_NEARFULL, 0.005)
	ratio(pb.OSDFullness_OSD_FULLNESS_BACKFILLFULL, 0.01)
	waitChecks("OSD_BACKFILLFULL on every OSD", func(h map[string]*pb.HealthCheck) bool {
		return h["OSD_BACKFILLFULL"] != nil && len(h["OSD_BACKFILLFULL"].GetDetail()) == 4
	})
	out := c.OSDs[3].Config.ID
	mon.command(&pb.CommandRequest{Yes: true, Cmd: &pb.CommandRequest_OsdState{OsdState: &pb.OSDSetState{Ids: []int32{out}, State: pb.OSDSetState_STATE_OUT}}})
	waitChecks("PG_BACKFILL_FULL", func(h map[string]*pb.HealthCheck) bool { return h["PG_BACKFILL_FULL"] != nil })
	// Nothing moved meanwhile, and the PGs still serve.
	if err := io.WriteFull(ctx, "during", []byte("x")); err != nil {
		t.Fatalf("write while backfill waits: %v", err)
	}
	ratio(pb.OSDFullness_OSD_FULLNESS_BACKFILLFULL, 0.9)
	ratio(pb.OSDFullness_OSD_FULLNESS_NEARFULL, 0.85)
	c.WaitClean(2 * time.Minute)
	waitChecks("PG_BACKFILL_FULL cleared", func(h map[string]*pb.HealthCheck) bool { return h["PG_BACKFILL_FULL"] == nil })
}

// admin is the monitor as a test's admin: commands, ratios, health.
type admin struct {
	t   *testing.T
	ctx context.Context
	cl  pb.MonClient
}

func adminOf(t *testing.T, ctx context.Context, c *testcluster.Cluster) *admin {
	return &admin{t: t, ctx: ctx, cl: c.Client("client.admin", 0)}
}

func (a *admin) command(req *pb.CommandRequest) {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(a.ctx, 30*time.Second)
	defer cancel()
	if _, err := a.cl.Command(ctx, req); err != nil {
		a.t.Fatal(err)
	}
}

// ratio sets one of the map's fullness ratios.
func (a *admin) ratio(which pb.OSDFullness, r float64) {
	a.t.Helper()
	a.command(&pb.CommandRequest{Cmd: &pb.CommandRequest_SetFullRatio{SetFullRatio: &pb.SetFullRatio{Which: which, Ratio: r}}})
}

// checks are the health checks now, by code.
func (a *admin) checks() map[string]*pb.HealthCheck {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(a.ctx, 10*time.Second)
	defer cancel()
	st, err := a.cl.Status(ctx, &pb.StatusRequest{})
	if err != nil {
		a.t.Fatal(err)
	}
	out := map[string]*pb.HealthCheck{}
	for _, ch := range st.GetChecks() {
		out[ch.GetCode()] = ch
	}
	return out
}

// waitChecks waits (up to a minute) until ok holds for the checks.
func (a *admin) waitChecks(what string, ok func(map[string]*pb.HealthCheck) bool) map[string]*pb.HealthCheck {
	a.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		h := a.checks()
		if ok(h) {
			return h
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("no %s within a minute: %v", what, h)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// booted reports whether o's map shows it up.
func booted(o *osd.OSD) bool {
	select {
	case <-o.Booted():
		return true
	default:
		return false
	}
}

// fillDisk writes path until its file system has no space left.
func fillDisk(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 256<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				break
			}
			t.Fatal(err)
		}
	}
	// The last partial blocks too.
	for _, n := range []int{64 << 10, 4 << 10, 512} {
		for {
			if _, err := f.Write(buf[:n]); err != nil {
				break
			}
		}
	}
}
