package mon_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/loligo/loligo/clustermap"
	"github.com/loligo/loligo/crush"
	"github.com/loligo/loligo/internal/pki"
	"github.com/loligo/loligo/internal/testcluster"
	"github.com/loligo/loligo/mon"
	pb "github.com/loligo/loligo/proto/loligopb"
	"github.com/loligo/loligo/rados"
)

// crushText returns a crushtool text map with the new cluster's
// tunables, types and rule, and n devices (class hdd), perHost to a
// host; the hosts go under root, which is "default" (the rule's) or a
// root of their own that nothing uses.
func crushText(n, perHost int, root string) string {
	var b strings.Builder
	b.WriteString(`tunable choose_local_tries 0
tunable choose_local_fallback_tries 0
tunable choose_total_tries 50
tunable chooseleaf_descend_once 1
tunable chooseleaf_vary_r 1
tunable chooseleaf_stable 1
tunable straw_calc_version 1
tunable allowed_bucket_algs 54
type 0 osd
type 1 host
type 11 root
`)
	for i := range n {
		fmt.Fprintf(&b, "device %d osd.%d class hdd\n", i, i)
	}
	id := -2
	var hosts []string
	for h := 0; h*perHost < n; h++ {
		name := fmt.Sprintf("node%d", h)
		hosts = append(hosts, name)
		fmt.Fprintf(&b, "host %s {\n\tid %d\n\talg straw2\n\thash 0\n", name, id)
		id--
		for i := h * perHost; i < min(n, (h+1)*perHost); i++ {
			fmt.Fprintf(&b, "\titem osd.%d weight 1.000\n", i)
		}
		b.WriteString("}\n")
	}
	items := func() {
		for _, h := range hosts {
			fmt.Fprintf(&b, "\titem %s weight %d.000\n", h, perHost)
		}
	}
	b.WriteString("root default {\n\tid -1\n\talg straw2\n\thash 0\n")
	if root == "default" {
		items()
	}
	b.WriteString("}\n")
	if root != "default" {
		fmt.Fprintf(&b, "root %s {\n\tid %d\n\talg straw2\n\thash 0\n", root, id)
		items()
		b.WriteString("}\n")
	}
	b.WriteString(`rule replicated_rule {
	id 0
	type replicated
	min_size 1
	max_size 10
	step take default
	step chooseleaf firstn 0 type host
	step emit
}
`)
	return b.String()
}

func setCrush(text string) *pb.CommandRequest {
	return &pb.CommandRequest{Cmd: &pb.CommandRequest_SetCrushMap{SetCrushMap: &pb.SetCrushMap{Text: text}}, Yes: true}
}

// monEtcdClient connects to the embedded etcd member of a running
// monitor of c, with that monitor's etcd certificate.
func monEtcdClient(t *testing.T, c *testcluster.Cluster) *clientv3.Client {
	t.Helper()
	for _, m := range c.Mons {
		if !m.Running() {
			continue
		}
		tlsConf, err := pki.ClientConfig(m.Config.EtcdCertFile, m.Config.EtcdKeyFile, m.Config.EtcdCAFile)
		if err != nil {
			t.Fatal(err)
		}
		cli, err := clientv3.New(clientv3.Config{Endpoints: []string{m.Config.EtcdClientURL}, TLS: tlsConf,
			DialTimeout: 10 * time.Second, Logger: zap.NewNop()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cli.Close() })
		return cli
	}
	t.Fatal("no monitor runs")
	return nil
}

// leaderKey returns the leader's election key in etcd, its creation
// revision and its value (name and address): a monitor that campaigns
// again holds a new key.
func leaderKey(t *testing.T, c *testcluster.Cluster) (string, int64, string) {
	t.Helper()
	cli := monEtcdClient(t, c)
	resp, err := cli.Get(ctxT(t, 10*time.Second), "/loligo/"+c.Conf.FSID+"/election/", clientv3.WithPrefix(),
		clientv3.WithSort(clientv3.SortByCreateRevision, clientv3.SortAscend), clientv3.WithLimit(1))
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) == 0 {
		t.Fatal("no election key in etcd")
	}
	kv := resp.Kvs[0]
	return string(kv.Key), kv.CreateRevision, string(kv.Value)
}

// chunkKeys counts the stored map chunks and their bytes.
func chunkKeys(t *testing.T, cli *clientv3.Client, fsid string) (n, bytes int) {
	t.Helper()
	resp, err := cli.Get(ctxT(t, 10*time.Second), "/loligo/"+fsid+"/chunks/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range resp.Kvs {
		bytes += len(kv.Value)
	}
	return len(resp.Kvs), bytes
}

// TestLargeCrushMapStored is issue 13's case: a valid CRUSH map of
// 60,000 devices under an unused root makes a map of 2.7 MB, above
// etcd's request limit. It is stored (in chunks) and served, no
// leadership changes, the next change commits, and the map and its
// epoch read back from etcd's history after the monitor restarts.
func TestLargeCrushMapStored(t *testing.T) {
	c := testcluster.StartMons(t, 1, testcluster.Options{})
	cl := c.Client("client.admin", 0)
	key, rev, _ := leaderKey(t, c)
	start := getMap(t, cl, 0).Epoch

	text := crushText(60000, 10, "unused")
	t0 := time.Now()
	rep, err := cl.Command(ctxT(t, 2*time.Minute), setCrush(text))
	if err != nil {
		t.Fatalf("setcrushmap of 60,000 devices: %v", err)
	}
	t.Logf("setcrushmap of 60,000 devices (%d bytes of text): %v", len(text), time.Since(t0))
	if rep.GetEpoch() != start+1 {
		t.Fatalf("setcrushmap made epoch %d, want %d", rep.GetEpoch(), start+1)
	}
	if k, r, _ := leaderKey(t, c); k != key || r != rev {
		t.Fatalf("the leader campaigned again: key %s@%d, was %s@%d", k, r, key, rev)
	}
	if rep, err := cl.Command(ctxT(t, time.Minute), poolCreate("after", 8)); err != nil || rep.GetEpoch() != start+2 {
		t.Fatalf("the next change: epoch %d, %v (want %d)", rep.GetEpoch(), err, start+2)
	}
	raw, err := cl.GetMap(ctxT(t, time.Minute), &pb.GetMapRequest{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the map with 60,000 devices: %d bytes", proto.Size(raw.GetMap()))
	if n := len(raw.GetMap().GetCrush().GetDevices()); n != 60000 {
		t.Fatalf("the served map has %d devices", n)
	}

	// A chunk nothing names (as a leader that lost the election while
	// writing leaves) is swept when the next leadership starts.
	cli := monEtcdClient(t, c)
	orphan := "/loligo/" + c.Conf.FSID + "/chunks/" + strings.Repeat("0", 64)
	if _, err := cli.Put(ctxT(t, 10*time.Second), orphan, "left over"); err != nil {
		t.Fatal(err)
	}
	n, _ := chunkKeys(t, cli, c.Conf.FSID)

	c.Stop(0)
	c.Restart(0)
	if c.Leader(time.Minute) != 0 {
		t.Fatal("no leader after the restart")
	}
	cl = c.Client("client.admin", 0)
	cli = monEtcdClient(t, c)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		resp, err := cli.Get(ctxT(t, 10*time.Second), orphan)
		if err == nil && len(resp.Kvs) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the chunk nothing names was not swept")
		}
	}
	if after, _ := chunkKeys(t, cli, c.Conf.FSID); after != n-1 {
		t.Fatalf("%d chunks after the sweep, want %d", after, n-1)
	}
	m := getMap(t, cl, 0)
	if _, ok := m.Crush.ItemName(59999); !ok || m.Epoch != start+2 {
		t.Fatalf("after a restart: epoch %d, device 59999 named: %v", m.Epoch, ok)
	}
	// The epoch of the CRUSH change, from etcd's history, chunks and all.
	if old := getMap(t, cl, start+1); old.Epoch != start+1 {
		t.Fatalf("GetMap(%d) gave epoch %d", start+1, old.Epoch)
	} else if _, ok := old.Crush.ItemName(59999); !ok {
		t.Fatal("the old epoch lost its CRUSH map")
	}
	// Its incremental, which carries the CRUSH map, read from etcd.
	ups := collectUpdates(t, cl, start, start+2)
	if inc := ups[0].GetIncremental(); inc.GetEpoch() != start+1 || len(inc.GetNewCrush().GetDevices()) != 60000 {
		t.Fatalf("the incremental to epoch %d: epoch %d with %d devices", start+1, inc.GetEpoch(), len(inc.GetNewCrush().GetDevices()))
	}
}

// TestOversizedChangeRefused: with a limit on the map's size, a change
// that passes it is refused with an error naming the size and the
// limit, and nothing else happens: the changes batched with it commit
// (those before it in its epoch, those after it in the next), and the
// leader keeps its election key.
func TestOversizedChangeRefused(t *testing.T) {
	const limit = 1 << 20
	c := testcluster.StartMons(t, 1, testcluster.Options{MaxMapSize: limit})
	cl := c.Client("client.admin", 0)
	key, rev, _ := leaderKey(t, c)
	start := getMap(t, cl, 0).Epoch
	leader := c.Mons[0].M

	// Hold the leader at its next batch until three changes are queued
	// behind one another: pool a, the oversized CRUSH map, pool b.
	entered, release := make(chan struct{}), make(chan struct{})
	var once atomic.Bool
	mon.SetBatchHook(func(int) {
		if once.CompareAndSwap(false, true) {
			close(entered)
			<-release
		}
	})
	t.Cleanup(func() { mon.SetBatchHook(nil) })
	type answer struct {
		rep *pb.CommandReply
		err error
	}
	send := func(req *pb.CommandRequest) chan answer {
		ch := make(chan answer, 1)
		go func() {
			rep, err := cl.Command(ctxT(t, 2*time.Minute), req)
			ch <- answer{rep, err}
		}()
		return ch
	}
	waitQueued := func(n int) {
		for deadline := time.Now().Add(time.Minute); mon.QueuedProposals(leader) < n; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%d changes queued, want %d", mon.QueuedProposals(leader), n)
			}
		}
	}
	a := send(poolCreate("a", 8))
	<-entered
	big := send(setCrush(crushText(30000, 10, "unused")))
	waitQueued(1)
	b := send(poolCreate("b", 8))
	waitQueued(2)
	close(release)

	ra, rbig, rb := <-a, <-big, <-b
	if ra.err != nil || ra.rep.GetEpoch() != start+1 {
		t.Fatalf("pool a: epoch %d, %v (want %d)", ra.rep.GetEpoch(), ra.err, start+1)
	}
	if status.Code(rbig.err) != codes.InvalidArgument || !strings.Contains(rbig.err.Error(), fmt.Sprint(limit)) {
		t.Fatalf("the oversized map: %v; want InvalidArgument naming the limit (%d bytes)", rbig.err, limit)
	}
	t.Logf("refused: %v", status.Convert(rbig.err).Message())
	if rb.err != nil || rb.rep.GetEpoch() != start+2 {
		t.Fatalf("pool b: epoch %d, %v (want %d)", rb.rep.GetEpoch(), rb.err, start+2)
	}
	// And a change after it.
	if rep, err := cl.Command(ctxT(t, time.Minute), flagCmd("noout", true)); err != nil || rep.GetEpoch() != start+3 {
		t.Fatalf("the next change: epoch %d, %v (want %d)", rep.GetEpoch(), err, start+3)
	}
	if k, r, _ := leaderKey(t, c); k != key || r != rev || !leader.IsLeader() {
		t.Fatalf("the leader campaigned again: key %s@%d, was %s@%d", k, r, key, rev)
	}
	m := getMap(t, cl, 0)
	_, pa := m.PoolByName("a")
	_, pb2 := m.PoolByName("b")
	if _, big := m.Crush.ItemName(29999); big || pa != nil || pb2 != nil {
		t.Fatalf("epoch %d: the refused map went in (%v), or a pool is missing (%v, %v)", m.Epoch, big, pa, pb2)
	}
	// A dry run of it says it is too big, too.
	dry := setCrush(crushText(30000, 10, "unused"))
	dry.DryRun = true
	if _, err := cl.Command(ctxT(t, time.Minute), dry); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("dry run of the oversized map: %v", err)
	}
}

// TestEtcdWriteFailureKeepsLeadership: an epoch's write that fails
// without a lost guard does not end the leadership. When etcd certainly
// did not write it, the change is refused as not made and can be
// retried; when the answer was lost after etcd wrote it, the leader
// reads the map back and reports the change as made.
func TestEtcdWriteFailureKeepsLeadership(t *testing.T) {
	c := testcluster.StartMons(t, 1, testcluster.Options{})
	cl := c.Client("client.admin", 0)
	key, rev, _ := leaderKey(t, c)
	start := getMap(t, cl, 0).Epoch
	var failBefore, failAfter atomic.Bool
	mon.SetCommitHook(func(applied bool) error {
		if !applied && failBefore.Swap(false) {
			return errors.New("injected: etcd unreachable")
		}
		if applied && failAfter.Swap(false) {
			return errors.New("injected: the answer was lost")
		}
		return nil
	})
	t.Cleanup(func() { mon.SetCommitHook(nil) })

	failBefore.Store(true)
	_, err := cl.Command(ctxT(t, time.Minute), poolCreate("p", 8))
	if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "not made") {
		t.Fatalf("a change whose write failed: %v; want Unavailable, not made", err)
	}
	if m := getMap(t, cl, 0); m.Epoch != start {
		t.Fatalf("epoch %d after a failed write, want %d", m.Epoch, start)
	}
	if rep, err := cl.Command(ctxT(t, time.Minute), poolCreate("p", 8)); err != nil || rep.GetEpoch() != start+1 {
		t.Fatalf("the retry: epoch %d, %v (want %d)", rep.GetEpoch(), err, start+1)
	}

	failAfter.Store(true)
	if rep, err := cl.Command(ctxT(t, time.Minute), poolCreate("q", 8)); err != nil || rep.GetEpoch() != start+2 {
		t.Fatalf("a change written whose answer was lost: epoch %d, %v (want %d)", rep.GetEpoch(), err, start+2)
	}
	if rep, err := cl.Command(ctxT(t, time.Minute), flagCmd("noout", true)); err != nil || rep.GetEpoch() != start+3 {
		t.Fatalf("the next change: epoch %d, %v (want %d)", rep.GetEpoch(), err, start+3)
	}
	if k, r, _ := leaderKey(t, c); k != key || r != rev {
		t.Fatalf("the leader campaigned again: key %s@%d, was %s@%d", k, r, key, rev)
	}
}

// build10k makes m a cluster of 10,000 booted OSDs on 1,000 hosts (class
// hdd, CRUSH map compiled from crushtool text) with 100 pools.
func build10k(m *clustermap.Map) error {
	cm, err := crush.Compile(crushText(10000, 10, "default"))
	if err != nil {
		return err
	}
	m.Crush = cm
	for i := range int32(10000) {
		m.OSDs[i] = &clustermap.OSD{ID: i, UUID: fmt.Sprintf("%08x-8f1c-4e2b-9a57-%012x", 0x5eed0000+i, 0x1000000+int64(i)*7919),
			Up: true, Weight: crush.WeightOne, PrimaryAffinity: crush.WeightOne,
			Addr:   fmt.Sprintf("10.%d.%d.%d:%d", 1+i/10000, (i/100)%100, i%100, 6800+i%10),
			UpFrom: m.Epoch + 1}
	}
	for i := int64(1); i <= 100; i++ {
		m.Pools[m.PoolMax+i] = &clustermap.Pool{ID: m.PoolMax + i, Name: fmt.Sprintf("pool%03d", i), Type: clustermap.PoolReplicated,
			Size: 3, MinSize: 2, PGNum: 32, PGPNum: 32, CrushRule: 0, Flags: clustermap.FlagHashPSPool}
	}
	m.PoolMax += 100
	return nil
}

// TestTenThousandOSDMap: a map of 10,000 OSDs and 100 pools is stored,
// served by every monitor and to a rados client's subscription, kept
// across a leader's stop and a monitor's restart, and changed afterwards
// by writing a few chunks, not the whole map again.
func TestTenThousandOSDMap(t *testing.T) {
	// No beacons come from these OSDs: they must stay up for the test.
	c := testcluster.StartMons(t, 3, testcluster.Options{BeaconGrace: time.Hour})
	li := c.Leader(time.Minute)
	cli := monEtcdClient(t, c)

	t0 := time.Now()
	epoch, err := mon.ProposeForTest(ctxT(t, 2*time.Minute), c.Mons[li].M, build10k)
	if err != nil {
		t.Fatal(err)
	}
	stored := time.Since(t0)
	admin := c.Client("client.admin", li)
	raw, err := admin.GetMap(ctxT(t, time.Minute), &pb.GetMapRequest{})
	if err != nil {
		t.Fatal(err)
	}
	size := proto.Size(raw.GetMap())
	nChunks, chunkBytes := chunkKeys(t, cli, c.Conf.FSID)
	t.Logf("10,000 OSDs, 100 pools: epoch %d, map %d bytes, applied and stored in %v; %d chunks of %d bytes in etcd",
		epoch, size, stored, nChunks, chunkBytes)
	if len(raw.GetMap().GetOsds()) != 10000 || raw.GetMap().GetEpoch() != epoch {
		t.Fatalf("the leader serves epoch %d with %d OSDs", raw.GetMap().GetEpoch(), len(raw.GetMap().GetOsds()))
	}
	// Every monitor serves it (the followers read it from etcd).
	for i := range c.Mons {
		cl := c.Client("client.admin", i)
		deadline := time.Now().Add(time.Minute)
		for {
			rep, err := cl.GetMap(ctxT(t, time.Minute), &pb.GetMapRequest{})
			if err == nil && rep.GetMap().GetEpoch() >= epoch {
				if !proto.Equal(rep.GetMap(), raw.GetMap()) {
					t.Fatalf("mon.%s serves a different map", c.Mons[i].Name)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("mon.%s does not serve epoch %d: %v", c.Mons[i].Name, epoch, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	// A rados client follows the map by subscription.
	conn, err := rados.Connect(ctxT(t, time.Minute), rados.Options{ConfPath: c.ConfPath, MonHosts: c.MonHosts()})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.OpenPool(ctxT(t, time.Minute), "pool100"); err != nil {
		t.Fatal(err)
	}
	waitClient := func(e uint64) {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
			if m := conn.CurrentMap(); m != nil && m.Epoch >= e {
				if len(m.OSDs) != 10000 || len(m.Pools) != 100 {
					t.Fatalf("the client's epoch %d has %d OSDs and %d pools", m.Epoch, len(m.OSDs), len(m.Pools))
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the rados client did not see epoch %d", e)
			}
		}
	}
	waitClient(epoch)

	// A small change writes a few chunks: the map's start (its epoch)
	// and end (its time), and the changed flags near the end.
	t0 = time.Now()
	if rep, err := admin.Command(ctxT(t, time.Minute), flagCmd("noout", true)); err != nil || rep.GetEpoch() != epoch+1 {
		t.Fatalf("a change to the large map: epoch %d, %v", rep.GetEpoch(), err)
	}
	n2, bytes2 := chunkKeys(t, cli, c.Conf.FSID)
	t.Logf("setting a flag: %v; %d chunks of %d bytes in etcd", time.Since(t0), n2, bytes2)
	if bytes2 > chunkBytes+3*256<<10 {
		t.Fatalf("a flag change stored %d more chunk bytes", bytes2-chunkBytes)
	}
	waitClient(epoch + 1)

	// The leader stops; another loads the map and makes the next change.
	c.Stop(li)
	t0 = time.Now()
	nl := c.Leader(time.Minute)
	if nl < 0 {
		t.Fatal("no new leader")
	}
	admin = c.Client("client.admin", nl)
	rep, err := retry(t, time.Minute, func(ctx context.Context) (*pb.CommandReply, error) {
		return admin.Command(ctx, flagCmd("noout", false))
	})
	if err != nil || rep.GetEpoch() != epoch+2 {
		t.Fatalf("the new leader's first change: epoch %d, %v", rep.GetEpoch(), err)
	}
	t.Logf("a new leader elected and its first change made in %v", time.Since(t0))
	waitClient(epoch + 2)

	// The stopped monitor restarts and reads the map from etcd.
	t0 = time.Now()
	c.Restart(li)
	t.Logf("the stopped monitor restarted and serves the map in %v", time.Since(t0))
	cl := c.Client("client.admin", li)
	if m := getMap(t, cl, 0); m.Epoch < epoch+2 || len(m.OSDs) != 10000 {
		t.Fatalf("after a restart: epoch %d, %d OSDs", m.Epoch, len(m.OSDs))
	}
	if m := getMap(t, cl, epoch); m.Epoch != epoch || len(m.OSDs) != 10000 {
		t.Fatalf("GetMap(%d): epoch %d, %d OSDs", epoch, m.Epoch, len(m.OSDs))
	}
	// Stop them together: one by one, the last etcd member, without a
	// quorum, takes some 9 s to stop.
	conn.Close()
	var wg sync.WaitGroup
	for i := range c.Mons {
		wg.Go(func() { c.Stop(i) })
	}
	wg.Wait()
}
