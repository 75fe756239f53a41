package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
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
// end every PG must be active+clean on its own, every object must read
// back as its last acknowledged write (or a later write whose outcome
// the client never learnt), a deep scrub of every PG must find nothing,
// and every OSD's store must pass Check.
//
// Seeds: LOLIGO_FAULT_SEEDS=1,2,3 (default 1); replay one with
// go test -run 'TestProcsSIGKILL/seed=N' ./cmd/loligo/.
func TestProcsSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a multi-process cluster under faults")
	}
	seeds := testcluster.FaultSeeds(t, 1)
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { procsFaults(t, seed) })
	}
}

func procsFaults(t *testing.T, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 0x5161))
	dir := filepath.Join(t.TempDir(), "cluster")
	p := startProcs(t, dir, freeBase(t), "1s")
	conf := filepath.Join(dir, "loligo.conf")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	conn, err := rados.Connect(ctx, rados.Options{ConfPath: conf})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io, err := conn.OpenPool(ctx, "data")
	if err != nil {
		t.Fatal(err)
	}

	led := &testcluster.Ledger{}
	wctx, stopWriters := context.WithCancel(ctx)
	var wg sync.WaitGroup
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
				}
			}
		})
	}
	for step := range 3 {
		time.Sleep(time.Duration(1000+r.IntN(2000)) * time.Millisecond)
		name := fmt.Sprintf("osd.%d", r.IntN(3))
		pid, ok := livePid(dir, name)
		if !ok {
			t.Fatalf("step %d: %s does not run; pid files %v", step, name, pidFiles(dir))
		}
		t.Logf("step %d: SIGKILL %s (pid %d)", step, name, pid)
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		// The supervisor starts it again after 1 s; let it rejoin before
		// the next kill, so at most one OSD is gone at a time.
		waitFor(t, time.Minute, name+" restarted", func() bool {
			np, ok := livePid(dir, name)
			return ok && np != pid
		})
		time.Sleep(3 * time.Second)
	}
	stopWriters()
	wg.Wait()
	t.Logf("%d writes acknowledged", led.Acknowledged())
	if n := led.Acknowledged(); n < 5 {
		t.Errorf("only %d writes were acknowledged", n)
	}

	mc, closeMon := adminMonClient(t, conf)
	defer closeMon()
	waitFor(t, 3*time.Minute, "active+clean", func() bool {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		st, err := mc.Status(sctx, &pb.StatusRequest{})
		return err == nil && st.GetPgs().GetPgs() > 0 && st.GetPgs().GetStates()["active+clean"] == st.GetPgs().GetPgs()
	})
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
	deepScrubAll(t, ctx, conf, mc)
	p.stop(t)
	checkStores(t, dir, conf)
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

// deepScrubAll deep-scrubs every PG of pool data on its primary and
// fails the test on any inconsistency.
func deepScrubAll(t *testing.T, ctx context.Context, confPath string, mc pb.MonClient) {
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
	pool, err := m.PoolByName("data")
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
