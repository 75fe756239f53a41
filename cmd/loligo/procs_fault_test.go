package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/loligo/loligo/clustermap"
	"github.com/loligo/loligo/internal/config"
	"github.com/loligo/loligo/internal/pki"
	"github.com/loligo/loligo/internal/testcluster"
	"github.com/loligo/loligo/internal/transport"
	"github.com/loligo/loligo/osd"
	"github.com/loligo/loligo/osd/store"
	pb "github.com/loligo/loligo/proto/loligopb"
	"github.com/loligo/loligo/rados"
)

// The fault-injection suite on the multi-process cluster: writers record
// every acknowledged write while the test SIGKILLs OSD processes (the
// supervisor restarts them after 1 s), one at a time, mid-write. At the
// second step the monitor (with its embedded etcd) is SIGKILLed with the
// OSD, so the OSD's death must be noticed, reported and peered around
// by a monitor that is itself restarting. At the
// end every PG must be active+clean on its own, every object must read
// back as its last acknowledged write (or a later write whose outcome
// the client never learnt), a deep scrub of every PG must find nothing,
// and every OSD's store must pass Check.
//
// Seeds: LOLIGO_FAULT_SEEDS=1,2,3 (default 1); replay one with
// go test -run 'TestProcsSIGKILL/seed=N' ./cmd/loligo/.
// LOLIGO_KEEP_DIR=DIR keeps the cluster directory (with the daemons'
// logs) under DIR.
func TestProcsSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a multi-process cluster under faults")
	}
	seeds := testcluster.FaultSeeds(t, 1)
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			procsFaults(t, seed, faultSpec{osds: 3, pool: "data", kill: 1, killMon: true})
		})
	}
}

// The same suite on an erasure-coded pool (k=2, m=2, min_size 3, one
// shard per host) on 5 OSDs, with m=2 OSDs SIGKILLed at the same moment
// at each step. PGs with two shards on the killed OSDs fall below
// min_size until one of them is back: writes to them wait (the writers'
// timeouts are 60 s).
//
// Replay one seed with
// go test -run 'TestProcsSIGKILLErasure/seed=N' ./cmd/loligo/.
func TestProcsSIGKILLErasure(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a multi-process cluster under faults")
	}
	seeds := testcluster.FaultSeeds(t, 1)
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			procsFaults(t, seed, faultSpec{osds: 5, pool: "ecdata", kill: 2,
				ec: &ecPoolSpec{k: 2, m: 2, pgNum: 16}})
		})
	}
}

// faultSpec says what procsFaults runs.
type faultSpec struct {
	osds int         // OSDs of the cluster
	pool string      // the pool the writers write to
	ec   *ecPoolSpec // if set, pool is created as an erasure-coded pool
	kill int         // distinct OSDs SIGKILLed at the same moment per step
	// killMon also SIGKILLs the monitor at the second step, with the OSDs.
	killMon bool
}

// ecPoolSpec is an erasure-coded pool: profile k+m with one shard per
// host, pgNum PGs, min_size the default (k+1).
type ecPoolSpec struct {
	k, m  int
	pgNum uint32
}

func procsFaults(t *testing.T, seed uint64, spec faultSpec) {
	start := time.Now()
	r := rand.New(rand.NewPCG(seed, 0x5161))
	dir := clusterDir(t)
	p := startProcs(t, dir, freeBaseFor(t, spec.osds), spec.osds, "1s")
	t.Logf("cluster of %d OSDs up after %s", spec.osds, time.Since(start).Round(time.Millisecond))
	conf := filepath.Join(dir, "loligo.conf")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	conn, err := rados.Connect(ctx, rados.Options{ConfPath: conf})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	mc, closeMon := adminMonClient(t, conf)
	defer closeMon()
	if spec.ec != nil {
		createECPool(t, ctx, conn, spec.pool, *spec.ec)
		waitActiveClean(t, ctx, mc, time.Minute)
		t.Logf("erasure pool %s (k=%d m=%d, %d PGs) active+clean after %s",
			spec.pool, spec.ec.k, spec.ec.m, spec.ec.pgNum, time.Since(start).Round(time.Millisecond))
	}
	io, err := conn.OpenPool(ctx, spec.pool)
	if err != nil {
		t.Fatal(err)
	}

	led := &testcluster.Ledger{}
	wctx, stopWriters := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var logMu sync.Mutex       // guards failed and seen
	failed := map[string]int{} // failed writes by error, for the log
	for w := range 2 {
		wr := rand.New(rand.NewPCG(seed, uint64(w)+100))
		wg.Go(func() {
			for wctx.Err() == nil {
				oid := fmt.Sprintf("k%d-%d", w, wr.IntN(8))
				data := make([]byte, 1<<10+wr.IntN(600<<10))
				for j := range data {
					data[j] = byte(wr.Uint32())
				}
				led.Sending(oid, data)
				octx, cancel := context.WithTimeout(wctx, 60*time.Second)
				err := io.WriteFull(octx, oid, data)
				cancel()
				if err == nil {
					led.Acked(oid, data)
				} else if wctx.Err() == nil {
					logMu.Lock()
					failed[err.Error()]++
					logMu.Unlock()
				}
			}
		})
	}
	// What the monitor reports while the faults go on, for the log: every
	// PG state seen, with the most PGs seen in it at once.
	seen := map[string]uint32{}
	wg.Go(func() {
		for wctx.Err() == nil {
			sctx, cancel := context.WithTimeout(wctx, 5*time.Second)
			st, err := mc.Status(sctx, &pb.StatusRequest{})
			cancel()
			if err == nil {
				logMu.Lock()
				for state, n := range st.GetPgs().GetStates() {
					seen[state] = max(seen[state], n)
				}
				logMu.Unlock()
			}
			select {
			case <-wctx.Done():
			case <-time.After(250 * time.Millisecond):
			}
		}
	})
	for step := range 3 {
		time.Sleep(time.Duration(1000+r.IntN(2000)) * time.Millisecond)
		var names []string
		for _, v := range r.Perm(spec.osds)[:spec.kill] {
			names = append(names, fmt.Sprintf("osd.%d", v))
		}
		if spec.killMon && step == 1 {
			names = append(names, "mon.a")
		}
		pids := make([]int, len(names))
		for i, name := range names {
			pid, ok := livePid(dir, name)
			if !ok {
				t.Fatalf("step %d: %s does not run; pid files %v", step, name, pidFiles(dir))
			}
			pids[i] = pid
		}
		t.Logf("step %d (%s, %d acked): SIGKILL %v (pids %v)", step,
			time.Since(start).Round(time.Millisecond), led.Acknowledged(), names, pids)
		for i, pid := range pids {
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatalf("SIGKILL %s: %v", names[i], err)
			}
		}
		// The supervisor starts them again after 1 s; let them rejoin
		// before the next kill, so at most spec.kill OSDs (and the
		// monitor) are gone at a time.
		for i, name := range names {
			waitFor(t, time.Minute, name+" restarted", func() bool {
				np, ok := livePid(dir, name)
				return ok && np != pids[i]
			})
		}
		time.Sleep(3 * time.Second)
	}
	stopWriters()
	wg.Wait()
	t.Logf("%d writes acknowledged after %s", led.Acknowledged(), time.Since(start).Round(time.Millisecond))
	for e, n := range failed {
		t.Logf("write failed %d times: %s", n, e)
	}
	t.Logf("PG states seen during the faults (most PGs at once): %v", seen)
	if n := led.Acknowledged(); n < 5 {
		t.Errorf("only %d writes were acknowledged", n)
	}

	waitActiveClean(t, ctx, mc, 3*time.Minute)
	t.Logf("active+clean after %s", time.Since(start).Round(time.Millisecond))
	for _, oid := range led.Objects() {
		data, err := io.Read(ctx, oid, 0, 1<<20)
		if err != nil && !errors.Is(err, rados.ErrNotFound) {
			t.Errorf("%s: %v", oid, err)
			continue
		}
		if !led.Allowed(oid, data, err == nil) {
			t.Errorf("%s reads back %d bytes that are not its last acknowledged write", oid, len(data))
		}
	}
	deepScrubAll(t, ctx, conf, mc, spec.pool)
	t.Logf("deep scrub of %s done after %s", spec.pool, time.Since(start).Round(time.Millisecond))
	p.stop(t)
	checkStores(t, dir, conf)
	t.Logf("done after %s", time.Since(start).Round(time.Millisecond))
}

// createECPool creates the erasure-code profile NAME-profile and the
// erasure-coded pool name from it.
func createECPool(t *testing.T, ctx context.Context, conn *rados.Conn, name string, ec ecPoolSpec) {
	t.Helper()
	profile := name + "-profile"
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := conn.Command(cctx, &pb.CommandRequest{Cmd: &pb.CommandRequest_EcProfileSet{EcProfileSet: &pb.ECProfileSet{
		Name: profile,
		Params: map[string]string{"k": strconv.Itoa(ec.k), "m": strconv.Itoa(ec.m),
			"crush-failure-domain": "host"},
	}}}); err != nil {
		t.Fatalf("erasure-code profile %s: %v", profile, err)
	}
	if _, err := conn.Command(cctx, &pb.CommandRequest{Cmd: &pb.CommandRequest_PoolCreate{PoolCreate: &pb.PoolCreate{
		Name: name, PgNum: ec.pgNum, Type: pb.PoolType_POOL_TYPE_ERASURE, EcProfile: profile,
	}}}); err != nil {
		t.Fatalf("pool %s: %v", name, err)
	}
}

// waitActiveClean waits until the monitor reports every PG of every pool
// of its newest map active+clean.
func waitActiveClean(t *testing.T, ctx context.Context, mc pb.MonClient, timeout time.Duration) {
	t.Helper()
	var last string
	deadline := time.Now().Add(timeout)
	for {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ok, what := func() (bool, string) {
			rep, err := mc.GetMap(sctx, &pb.GetMapRequest{})
			if err != nil {
				return false, err.Error()
			}
			m, err := clustermap.FromProto(rep.GetMap())
			if err != nil {
				return false, err.Error()
			}
			var want uint32
			for _, p := range m.Pools {
				want += p.PGNum
			}
			st, err := mc.Status(sctx, &pb.StatusRequest{})
			if err != nil {
				return false, err.Error()
			}
			pgs := st.GetPgs()
			return pgs.GetPgs() == want && pgs.GetStates()["active+clean"] == want,
				fmt.Sprintf("epoch %d, %d PGs in the map, status: %d PGs %v", m.Epoch, want, pgs.GetPgs(), pgs.GetStates())
		}()
		cancel()
		if ok {
			return
		}
		last = what
		if time.Now().After(deadline) {
			t.Fatalf("not every PG active+clean after %s: %s", timeout, last)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for active+clean: %v; %s", ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func adminMonClient(t *testing.T, confPath string) (pb.MonClient, func()) {
	t.Helper()
	conf, err := config.Load(confPath)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := conf.Keys("client.admin")
	if err != nil {
		t.Fatal(err)
	}
	tc, err := pki.ClientConfig(keys.Cert, keys.Key, conf.CA)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := transport.Dial(conf.MonHosts[0], tc)
	if err != nil {
		t.Fatal(err)
	}
	return pb.NewMonClient(cc), func() { cc.Close() }
}

// deepScrubAll deep-scrubs every PG of poolName on its primary and
// fails the test on any inconsistency.
func deepScrubAll(t *testing.T, ctx context.Context, confPath string, mc pb.MonClient, poolName string) {
	t.Helper()
	conf, err := config.Load(confPath)
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := conf.Keys("client.admin")
	tc, err := pki.ClientConfig(keys.Cert, keys.Key, conf.CA)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := mc.GetMap(ctx, &pb.GetMapRequest{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := clustermap.FromProto(rep.GetMap())
	if err != nil {
		t.Fatal(err)
	}
	pool, err := m.PoolByName(poolName)
	if err != nil {
		t.Fatal(err)
	}
	for ps := range pool.PGNum {
		pl, _ := m.Place(clustermap.PGID{Pool: pool.ID, Seed: ps})
		cc, err := transport.Dial(m.OSDs[pl.ActingPrimary].Addr, tc)
		if err != nil {
			t.Fatal(err)
		}
		sctx, cancel := context.WithTimeout(ctx, time.Minute)
		res, err := pb.NewOSDClient(cc).PGCommand(sctx, &pb.PGCommandRequest{Pool: pool.ID, Ps: ps, Epoch: m.Epoch, Cmd: pb.PGCmd_PG_CMD_DEEP_SCRUB, Wait: true})
		cancel()
		cc.Close()
		if err != nil || res.GetResult() != pb.Result_OK {
			t.Errorf("deep scrub of pg %d.%x: %v %s", pool.ID, ps, err, res.GetMessage())
			continue
		}
		for _, inc := range res.GetInconsistent() {
			t.Errorf("deep scrub of pg %d.%x: %s: %v", pool.ID, ps, inc.GetOid(), inc.GetErrors())
		}
	}
}

// checkStores opens every OSD's store after the cluster stopped and
// fails the test on any problem Check reports.
func checkStores(t *testing.T, dir, confPath string) {
	t.Helper()
	conf, err := config.Load(confPath)
	if err != nil {
		t.Fatal(err)
	}
	dirs, _ := filepath.Glob(filepath.Join(dir, "osd.*"))
	if len(dirs) == 0 {
		t.Fatalf("no OSD directories in %s", dir)
	}
	for _, d := range dirs {
		st, err := store.Open(store.Options{Dir: filepath.Join(d, "store"), ChecksumKey: osd.ChecksumKey(conf.FSID)})
		if err != nil {
			t.Errorf("%s: %v", d, err)
			continue
		}
		rep, err := st.Check()
		if err != nil {
			t.Errorf("%s: check: %v", d, err)
		}
		for _, p := range rep.Problems {
			t.Errorf("%s: pg %s object %q: %s", d, p.PG, p.OID, p.What)
		}
		st.Close()
	}
}
