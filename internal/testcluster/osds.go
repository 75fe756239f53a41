package testcluster

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loligo/loligo/clustermap"
	"github.com/loligo/loligo/mon"
	"github.com/loligo/loligo/osd"
	"github.com/loligo/loligo/osd/store"
	pb "github.com/loligo/loligo/proto/loligopb"
)

// OSD is one OSD of a test cluster.
type OSD struct {
	Index  int
	Dir    string
	Config osd.Config
	// O is the OSD as StartOSD started it; nil while stopped. It runs
	// under osd.Serve, which starts a new incarnation after its disk
	// filled up: Current is the newest.
	O      *osd.OSD
	cur    atomic.Pointer[osd.OSD]
	cancel context.CancelFunc
	done   chan error
}

// Current is the newest incarnation of the OSD (nil before the first).
func (o *OSD) Current() *osd.OSD { return o.cur.Load() }

// Running reports whether the OSD runs.
func (o *OSD) Running() bool { return o.O != nil }

// Start starts a monitor and opt.OSDs OSDs (each on its own host bucket,
// its own Pebble directory and loopback port), creates opt.Pool when it
// is set, and waits until every PG of it is active.
func Start(t testing.TB, opt Options) *Cluster {
	t.Helper()
	c := StartMons(t, 1, opt)
	c.opt = opt
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin := c.Client("client.admin", 0)
	if !opt.RealRatios {
		RaiseRatios(t, ctx, admin)
	}
	for range opt.OSDs {
		c.newOSD(ctx)
	}
	t.Cleanup(c.StopOSDs)
	for i := range c.OSDs {
		c.StartOSD(i)
	}
	if opt.Pool != "" {
		pgs := opt.PGNum
		if pgs == 0 {
			pgs = 16
		}
		size := uint32(min(3, opt.OSDs))
		if _, err := admin.Command(ctx, &pb.CommandRequest{Yes: true, Cmd: &pb.CommandRequest_PoolCreate{PoolCreate: &pb.PoolCreate{
			Name: opt.Pool, PgNum: pgs, Type: pb.PoolType_POOL_TYPE_REPLICATED, Size: size}}}); err != nil {
			t.Fatalf("creating pool %s: %v", opt.Pool, err)
		}
		c.WaitActive(time.Minute)
	}
	return c
}

// newOSD creates one more OSD (on its own host bucket) without starting
// it.
func (c *Cluster) newOSD(ctx context.Context) *OSD {
	c.t.Helper()
	i := len(c.OSDs)
	admin := c.Client("client.admin", max(c.Leader(time.Minute), 0))
	dir := filepath.Join(filepath.Dir(c.Dir), fmt.Sprintf("osd.%d", i))
	if c.opt.PrepareOSDDir != nil {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			c.t.Fatal(err)
		}
		c.opt.PrepareOSDDir(i, dir)
	}
	id, err := osd.Create(ctx, admin, dir, c.Conf.FSID, fmt.Sprintf("host%d", i), 0)
	if err != nil {
		c.t.Fatalf("creating osd %d: %v", i, err)
	}
	entity := fmt.Sprintf("osd.%d", id.ID)
	cert, key, err := mon.IssueCert(c.Dir, entity, []string{"127.0.0.1"}, filepath.Join(dir, "keys"), time.Now())
	if err != nil {
		c.t.Fatal(err)
	}
	opt := c.opt
	cfg := osd.Config{
		ID: id.ID, UUID: id.UUID, FSID: c.Conf.FSID, DataDir: dir,
		CAFile: c.Conf.CA, CertFile: cert, KeyFile: key, MonHosts: c.MonHosts(),
		HeartbeatInterval: opt.HeartbeatInterval, HeartbeatGrace: opt.HeartbeatGrace,
		BeaconInterval: opt.BeaconInterval, PeerTimeout: opt.PeerTimeout,
		Logger: c.Mons[0].Config.Logger, // the OSD names itself
	}
	if opt.OSD != nil {
		opt.OSD(i, &cfg)
	}
	od := &OSD{Index: i, Dir: dir, Config: cfg}
	c.OSDs = append(c.OSDs, od)
	return od
}

// AddOSD creates and starts one more OSD, as `loligo osd --create` on a
// new host does; CRUSH gives it its share of the PGs.
func (c *Cluster) AddOSD() *OSD {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	od := c.newOSD(ctx)
	c.StartOSD(od.Index)
	return od
}

// StartOSD starts OSD i (again) on its data directory and waits until it
// is up in the map.
func (c *Cluster) StartOSD(i int) {
	c.t.Helper()
	od := c.OSDs[i]
	if od.O != nil {
		return
	}
	od.Config.MonHosts = c.MonHosts()
	ctx, cancel := context.WithCancel(context.Background())
	od.cancel, od.done = cancel, make(chan error, 1)
	first := make(chan *osd.OSD, 1)
	go func() {
		od.done <- osd.Serve(ctx, od.Config, func(o *osd.OSD) {
			od.cur.Store(o)
			select {
			case first <- o:
			default:
			}
		})
	}()
	var o *osd.OSD
	select {
	case o = <-first:
	case err := <-od.done:
		c.t.Fatalf("osd.%d: %v", od.Config.ID, err)
	}
	od.O = o
	select {
	case <-o.Booted():
	case err := <-od.done:
		od.O = nil
		c.t.Fatalf("osd.%d stopped while booting: %v", od.Config.ID, err)
	case <-time.After(time.Minute):
		c.t.Fatalf("osd.%d did not boot within a minute", od.Config.ID)
	}
}

// StopOSD stops OSD i cleanly (it marks itself down) and waits for it.
func (c *Cluster) StopOSD(i int) {
	od := c.OSDs[i]
	if od.O == nil {
		return
	}
	od.cancel()
	select {
	case err := <-od.done:
		if err != nil {
			c.t.Logf("osd.%d stopped: %v", od.Config.ID, err)
		}
	case <-time.After(time.Minute):
		c.t.Errorf("osd.%d did not stop within a minute", od.Config.ID)
	}
	od.O = nil
}

// StopOSDs stops every OSD, then checks each one's store for
// inconsistencies.
func (c *Cluster) StopOSDs() {
	for i := range c.OSDs {
		c.StopOSD(i)
	}
	for _, od := range c.OSDs {
		so := od.Config.Store
		so.Dir = filepath.Join(od.Dir, "store")
		so.ChecksumKey = osd.ChecksumKey(c.Conf.FSID)
		st, err := store.Open(so)
		if err != nil {
			c.t.Errorf("osd.%d: reopening the store for a check: %v", od.Config.ID, err)
			continue
		}
		rep, err := st.Check()
		if err != nil {
			c.t.Errorf("osd.%d: check: %v", od.Config.ID, err)
		} else {
			for _, p := range rep.Problems {
				c.t.Errorf("osd.%d: store inconsistency: pg %s object %q: %s", od.Config.ID, p.PG, p.OID, p.What)
			}
		}
		st.Close()
	}
}

// OSDByID returns the test OSD with map id.
func (c *Cluster) OSDByID(id int32) *OSD {
	for _, od := range c.OSDs {
		if od.Config.ID == id {
			return od
		}
	}
	return nil
}

// WaitActive waits until the running OSDs hold the monitors' newest map
// (as of the call) and every PG of every replicated pool in it is active
// on its primary.
func (c *Cluster) WaitActive(timeout time.Duration) *clustermap.Map {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	leader := max(c.Leader(timeout), 0)
	rep, err := c.Client("client.admin", leader).GetMap(ctx, &pb.GetMapRequest{})
	if err != nil {
		c.t.Fatalf("the monitor's map: %v", err)
	}
	for {
		m, ok := c.allActive()
		if ok && m.Epoch < rep.GetMap().GetEpoch() {
			ok = false
		}
		if ok {
			return m
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("PGs not active after %v:\n%s", timeout, c.pgReport())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WaitClean waits until every PG is active+clean on its primary in the
// monitor's newest map (every member in step, nothing to recover or
// backfill), and returns that map. On timeout it fails the test with
// every PG's state.
func (c *Cluster) WaitClean(timeout time.Duration) *clustermap.Map {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		leader := max(c.Leader(timeout), 0)
		rep, err := c.Client("client.admin", leader).GetMap(ctx, &pb.GetMapRequest{})
		cancel()
		if err == nil {
			m, ok := c.allActive()
			if ok && m.Epoch >= rep.GetMap().GetEpoch() && osd.AllClean(m, c.running()) {
				return m
			}
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("PGs not active+clean after %v:\n%s", timeout, c.pgReport())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// pgReport lists what every running OSD says of its PGs.
func (c *Cluster) pgReport() string {
	var b strings.Builder
	for _, od := range c.OSDs {
		if od.O == nil {
			fmt.Fprintf(&b, "osd.%d: stopped\n", od.Config.ID)
			continue
		}
		var epoch uint64
		if m := od.O.Map(); m != nil {
			epoch = m.Epoch
		}
		st := od.O.PGStates()
		ids := slices.SortedFunc(maps.Keys(st), func(a, b store.PGID) int {
			return cmp.Or(cmp.Compare(a.Pool, b.Pool), cmp.Compare(a.PS, b.PS))
		})
		fmt.Fprintf(&b, "osd.%d (epoch %d):", od.Config.ID, epoch)
		for _, id := range ids {
			if s := st[id]; s != "replica" && s != "stray" {
				fmt.Fprintf(&b, " %s=%s", id, s)
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

func (c *Cluster) allActive() (*clustermap.Map, bool) {
	var newest *clustermap.Map
	for _, od := range c.OSDs {
		if od.O == nil {
			continue
		}
		if m := od.O.Map(); m != nil && (newest == nil || m.Epoch > newest.Epoch) {
			newest = m
		}
	}
	if newest == nil {
		return nil, false
	}
	for _, od := range c.OSDs {
		if o := od.Current(); od.O != nil && (o.Map() == nil || o.Map().Epoch < newest.Epoch) {
			return nil, false
		}
	}
	return newest, osd.AllActive(newest, c.running())
}

// running lists the OSDs that run.
func (c *Cluster) running() []*osd.OSD {
	var out []*osd.OSD
	for _, od := range c.OSDs {
		if od.O != nil {
			out = append(out, od.Current())
		}
	}
	return out
}

// RaiseRatios sets the fullness ratios of the cluster mon serves to 0.99
// (nearfull), 0.995 (backfillfull) and 0.999 (full), so that tests on a
// host whose disk is nearly full still test what they mean to.
func RaiseRatios(t testing.TB, ctx context.Context, mon pb.MonClient) {
	t.Helper()
	for _, r := range []struct {
		which pb.OSDFullness
		ratio float64
	}{
		{pb.OSDFullness_OSD_FULLNESS_FULL, 0.999},
		{pb.OSDFullness_OSD_FULLNESS_BACKFILLFULL, 0.995},
		{pb.OSDFullness_OSD_FULLNESS_NEARFULL, 0.99},
	} {
		if _, err := mon.Command(ctx, &pb.CommandRequest{Cmd: &pb.CommandRequest_SetFullRatio{
			SetFullRatio: &pb.SetFullRatio{Which: r.which, Ratio: r.ratio}}}); err != nil {
			t.Fatalf("raising the fullness ratios: %v", err)
		}
	}
}

// FaultSeeds returns the seeds a fault-injection test runs with: the
// comma-separated LOLIGO_FAULT_SEEDS when set, else def. A failing seed
// replays alone with -run 'TestName/seed=N'.
func FaultSeeds(t testing.TB, def ...uint64) []uint64 {
	t.Helper()
	s := os.Getenv("LOLIGO_FAULT_SEEDS")
	if s == "" {
		return def
	}
	var seeds []uint64
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.ParseUint(strings.TrimSpace(f), 10, 64)
		if err != nil {
			t.Fatalf("LOLIGO_FAULT_SEEDS=%q: %v", s, err)
		}
		seeds = append(seeds, n)
	}
	return seeds
}
