package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/loligo/loligo/clustermap"
	"github.com/loligo/loligo/crush"
	"github.com/loligo/loligo/internal/testcluster"
	pb "github.com/loligo/loligo/proto/loligopb"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (if the change is intended, rewrite it with go test -update):\n--- got\n%s--- want\n%s", path, got, want)
	}
}

// admin runs radosctl against a test cluster.
type admin struct {
	t    *testing.T
	c    *testcluster.Cluster
	conf string
}

func (a *admin) run(args ...string) (stdout, stderr string, code int) {
	a.t.Helper()
	var o, e bytes.Buffer
	code = runEnv(append([]string{"--conf", a.conf, "--timeout", "20s"}, args...), &o, &e, func(string) string { return "" })
	return o.String(), e.String(), code
}

// ok runs a command that must succeed and returns its output.
func (a *admin) ok(args ...string) string {
	a.t.Helper()
	out, errOut, code := a.run(args...)
	if code != 0 {
		a.t.Fatalf("radosctl %s: exit %d, stderr:\n%s", strings.Join(args, " "), code, errOut)
	}
	return out
}

// json runs a command with -o json that must succeed and decodes its
// output into v.
func (a *admin) json(v any, args ...string) {
	a.t.Helper()
	out := a.ok(append([]string{"-o", "json"}, args...)...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		a.t.Fatalf("radosctl -o json %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// fails runs a command that must exit with code and say want on stderr.
func (a *admin) fails(code int, want string, args ...string) {
	a.t.Helper()
	out, errOut, got := a.run(args...)
	if got != code || !strings.Contains(errOut, want) {
		a.t.Errorf("radosctl %s: exit %d, stdout %q, stderr %q; want exit %d and %q",
			strings.Join(args, " "), got, out, errOut, code, want)
	}
}

func (a *admin) epoch() uint64 {
	a.t.Helper()
	var d struct {
		Epoch uint64 `json:"epoch"`
	}
	out := a.ok("-o", "json", "osd", "dump")
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		a.t.Fatal(err)
	}
	return d.Epoch
}

// clusterMap reads the newest map directly from the monitor.
func (a *admin) clusterMap(ctx context.Context) *clustermap.Map {
	a.t.Helper()
	rep, err := a.c.Client("client.admin", 0).GetMap(ctx, &pb.GetMapRequest{})
	if err != nil {
		a.t.Fatal(err)
	}
	m, err := clustermap.FromProto(rep.GetMap())
	if err != nil {
		a.t.Fatal(err)
	}
	return m
}

func osdUUID(i int) string { return fmt.Sprintf("00000000-0000-0000-0000-%012d", i) }

// startAdmin starts a one-monitor cluster with four OSDs, osd.N on host
// hN, class hdd: osd.0..2 booted (up, in), osd.3 never booted (down, out).
func startAdmin(t *testing.T) *admin {
	c := testcluster.StartMons(t, 1, testcluster.Options{BeaconGrace: time.Hour, DownOutInterval: -1})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The monitor serves a map before it leads; until then it refuses
	// changes with Unavailable (rados.Conn retries, a raw client does not).
	if c.Leader(30*time.Second) < 0 {
		t.Fatal("no monitor leads")
	}
	for i := range 4 {
		cl := c.Client(fmt.Sprintf("osd.%d", i), 0)
		r, err := cl.OSDCreate(ctx, &pb.OSDCreateRequest{Uuid: osdUUID(i), Host: fmt.Sprintf("h%d", i), Weight: 0x10000, DeviceClass: "hdd"})
		if err != nil {
			t.Fatal(err)
		}
		if r.GetId() != int32(i) {
			t.Fatalf("created osd.%d, want osd.%d", r.GetId(), i)
		}
		if i < 3 {
			if _, err := cl.OSDBoot(ctx, &pb.OSDBootRequest{Id: r.GetId(), Uuid: osdUUID(i), Addr: "127.0.0.1:6800"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The monitor learns who leads from etcd a moment after it leads.
	cl := c.Client("client.admin", 0)
	for {
		st, err := cl.Status(ctx, &pb.StatusRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if st.GetLeader() != "" {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("no leader reported")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return &admin{t: t, c: c, conf: c.ConfPath}
}

// scrub replaces what differs between runs (fsid, times, ports).
func scrub(a *admin, s string) string {
	s = strings.ReplaceAll(s, a.c.Conf.FSID, "FSID")
	s = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(\+0000|Z)`).ReplaceAllString(s, "TIME")
	return regexp.MustCompile(`127\.0\.0\.1:\d+`).ReplaceAllLiteralString(s, "127.0.0.1:PORT")
}

// TestAdmin runs every admin command against one cluster. The subtests
// run in order and share the cluster's state.
func TestAdmin(t *testing.T) {
	a := startAdmin(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	t.Run("status", func(t *testing.T) {
		a.t = t
		out := a.ok("status")
		for _, want := range []string{"id:     " + a.c.Conf.FSID, "health: HEALTH_WARN\n            1 hosts down\n",
			"mon: 1 daemons: a (leader)\n", "osd: 4 osds: 3 up (since ", "s), 3 in; epoch e", "pools:   0 pools, 0 pgs\n",
			// The OSDs booted here are not running: their usage is unknown.
			"    objects: 0 objects, 0 B\n    usage:   unknown: "} {
			if !strings.Contains(out, want) {
				t.Errorf("status lacks %q:\n%s", want, out)
			}
		}
		var st struct {
			FSID   string      `json:"fsid"`
			Epoch  uint64      `json:"epoch"`
			Health string      `json:"health"`
			Checks []checkJSON `json:"checks"`
			Leader string      `json:"leader"`
			Mons   []monJSON   `json:"mons"`
			OSDs   struct{ Total, Up, In int }
			Pools  struct {
				Count int `json:"count"`
				PGs   int `json:"pgs"`
			} `json:"pools"`
			PGs   *pgSummaryJSON `json:"pgs"`
			Usage *usageJSON     `json:"usage"`
		}
		a.json(&st, "status")
		if st.FSID != a.c.Conf.FSID || st.Epoch == 0 || st.Health != "HEALTH_WARN" || len(st.Checks) != 1 ||
			st.Checks[0].Code != "OSD_HOST_DOWN" || st.Leader != "a" || len(st.Mons) != 1 || !st.Mons[0].Leader ||
			st.OSDs.Total != 4 || st.OSDs.Up != 3 || st.OSDs.In != 3 || st.Pools.Count != 0 ||
			st.PGs == nil || st.PGs.PGs != 0 || st.PGs.States == nil || st.Usage != nil {
			t.Errorf("status -o json: %+v", st)
		}
	})

	t.Run("health", func(t *testing.T) {
		a.t = t
		if out := a.ok("health"); out != "HEALTH_WARN 1 hosts down\n[WRN] OSD_HOST_DOWN: 1 hosts down\n" {
			t.Errorf("health:\n%s", out)
		}
		golden(t, "health_detail.txt", a.ok("health", "detail"))
		var h struct {
			Health string      `json:"health"`
			Checks []checkJSON `json:"checks"`
		}
		a.json(&h, "health", "detail")
		if h.Health != "HEALTH_WARN" || len(h.Checks) != 1 || h.Checks[0].Severity != "HEALTH_WARN" ||
			len(h.Checks[0].Detail) != 1 || h.Checks[0].Hint == "" {
			t.Errorf("health -o json: %+v", h)
		}
		a.fails(2, `health takes only the word detail, not "details"`, "health", "details")
	})

	t.Run("mon stat", func(t *testing.T) {
		a.t = t
		out := a.ok("mon", "stat")
		if !regexp.MustCompile(`^1 mons at \{a=127\.0\.0\.1:\d+\}, leader a, alive a\n$`).MatchString(out) {
			t.Errorf("mon stat: %q", out)
		}
		var ms struct {
			FSID   string    `json:"fsid"`
			Leader string    `json:"leader"`
			Mons   []monJSON `json:"mons"`
		}
		a.json(&ms, "mon", "stat")
		if ms.FSID != a.c.Conf.FSID || ms.Leader != "a" || len(ms.Mons) != 1 || ms.Mons[0].Name != "a" || !ms.Mons[0].Alive {
			t.Errorf("mon stat -o json: %+v", ms)
		}
		a.fails(2, "mon takes the subcommand stat", "mon")
	})

	t.Run("pool create", func(t *testing.T) {
		a.t = t
		if out := a.ok("pool", "create", "data", "16"); !regexp.MustCompile(`^pool 'data' created \(epoch \d+\)\n$`).MatchString(out) {
			t.Errorf("pool create: %q", out)
		}
		// Flags anywhere after the command words.
		var r replyJSON
		a.json(&r, "pool", "create", "--size", "2", "rbd", "8", "--min-size=1")
		if r.DryRun || r.Epoch == 0 || r.Message != "pool 'rbd' created" || r.ID == nil || *r.ID != 2 || r.Movement != nil {
			t.Errorf("pool create -o json: %+v", r)
		}
		a.fails(1, "already exists: pool \"data\" (id 1)", "pool", "create", "data", "8")
		a.fails(1, "--size 0: a pool needs at least one copy", "pool", "create", "bad", "8", "--size", "0")
		a.fails(1, "pg_num 0: use 1..65536", "pool", "create", "bad", "0")
		a.fails(1, "size 11: a replicated pool has 1..10 copies", "pool", "create", "bad", "8", "--size", "11")
		a.fails(1, `CRUSH rule "nope"`, "pool", "create", "bad", "8", "--rule", "nope")
		a.fails(2, `PG_NUM "many"`, "pool", "create", "bad", "many")
		a.fails(2, `pool type "mirrored"`, "pool", "create", "bad", "8", "mirrored")
		a.fails(2, `--size "two"`, "pool", "create", "bad", "8", "--size", "two")
		a.fails(2, "--size needs a value", "pool", "create", "bad", "8", "--size")
		a.fails(2, "unknown flag --sise", "pool", "create", "bad", "8", "--sise", "2")
	})

	t.Run("osd tree", func(t *testing.T) {
		a.t = t
		golden(t, "osd_tree.txt", a.ok("osd", "tree"))
		golden(t, "osd_tree.json", a.ok("-o", "json", "osd", "tree"))
		var tree struct {
			Nodes []treeNodeJSON `json:"nodes"`
			Stray []treeNodeJSON `json:"stray"`
		}
		a.json(&tree, "osd", "tree")
		if len(tree.Nodes) != 9 || len(tree.Stray) != 0 {
			t.Errorf("osd tree -o json: %d nodes, %d stray", len(tree.Nodes), len(tree.Stray))
		}
	})

	t.Run("osd dump", func(t *testing.T) {
		a.t = t
		golden(t, "osd_dump.txt", scrub(a, a.ok("osd", "dump")))
		golden(t, "osd_dump.json", scrub(a, a.ok("-o", "json", "osd", "dump")))
	})

	t.Run("pool ls get set", func(t *testing.T) {
		a.t = t
		if out := a.ok("pool", "ls"); out != "data\nrbd\n" {
			t.Errorf("pool ls: %q", out)
		}
		var names []string
		a.json(&names, "pool", "ls")
		if strings.Join(names, ",") != "data,rbd" {
			t.Errorf("pool ls -o json: %q", names)
		}
		want := "pool 1 'data' replicated size 3 min_size 2 crush_rule 0 object_hash rjenkins pg_num 16 pgp_num 16 flags hashpspool\n" +
			"pool 2 'rbd' replicated size 2 min_size 1 crush_rule 0 object_hash rjenkins pg_num 8 pgp_num 8 flags hashpspool\n"
		if out := a.ok("pool", "ls", "detail"); out != want {
			t.Errorf("pool ls detail:\n%s", out)
		}
		var pools []poolJSON
		a.json(&pools, "pool", "ls", "detail")
		if len(pools) != 2 || pools[1].Name != "rbd" || pools[1].Size != 2 || pools[1].CrushRuleName != "replicated_rule" {
			t.Errorf("pool ls detail -o json: %+v", pools)
		}
		if out := a.ok("pool", "get", "data", "size"); out != "size: 3\n" {
			t.Errorf("pool get: %q", out)
		}
		if out := a.ok("pool", "get", "rbd", "all"); out != "size: 2\nmin_size: 1\npg_num: 8\npgp_num: 8\ncrush_rule: replicated_rule\ntype: replicated\nhashpspool: true\n" {
			t.Errorf("pool get all:\n%s", out)
		}
		var g map[string]any
		a.json(&g, "pool", "get", "data", "pg_num")
		if len(g) != 3 || g["pool"] != "data" || g["pool_id"] != 1.0 || g["pg_num"] != 16.0 {
			t.Errorf("pool get -o json: %v", g)
		}
		a.fails(1, "pool 'nope' does not exist (pools: data, rbd)", "pool", "get", "nope", "size")
		a.fails(2, `unknown pool setting "colour"`, "pool", "get", "data", "colour")
		a.fails(1, "pool 'data' is replicated and has no erasure_code_profile", "pool", "get", "data", "erasure_code_profile")

		if out := a.ok("pool", "set", "rbd", "min_size", "2"); !regexp.MustCompile(`^set pool 2 min_size to 2 \(epoch \d+\)\nmoved 0 of 24 PGs \(0%\)\n$`).MatchString(out) {
			t.Errorf("pool set: %q", out)
		}
		var r replyJSON
		a.json(&r, "pool", "set", "rbd", "pgp_num", "4", "--yes")
		if r.Epoch == 0 || r.Message != "set pool 2 pgp_num to 4" || r.Movement == nil || r.Movement.PGs != 24 || r.Movement.Moved == 0 {
			t.Errorf("pool set -o json: %+v", r)
		}
		a.fails(1, `not found: pool "nope"`, "pool", "set", "nope", "size", "2")
		a.fails(1, "size 0: use 1..10", "pool", "set", "data", "size", "0")
		a.fails(1, `unknown pool setting "colour"`, "pool", "set", "data", "colour", "red")
		a.fails(2, "pool set takes 3 argument(s), got 2", "pool", "set", "data", "size")
	})

	t.Run("osd map", func(t *testing.T) {
		a.t = t
		m := a.clusterMap(ctx)
		p, err := m.PoolByName("data")
		if err != nil {
			t.Fatal(err)
		}
		for _, obj := range []string{"foo", "bar", "rbd_data.1234", "a/b c"} {
			// Computed here from the pieces: rjenkins hash of the name,
			// ceph_stable_mod by pg_num, then CRUSH through the map.
			hash := crush.StrHash([]byte(obj))
			seed := clustermap.StableMod(hash, p.PGNum, 15)
			pl, err := m.Place(clustermap.PGID{Pool: p.ID, Seed: seed})
			if err != nil {
				t.Fatal(err)
			}
			want := fmt.Sprintf("osdmap e%d pool 'data' (1) object '%s' -> pg 1.%x (1.%x) -> up (%s, p%d) acting (%s, p%d)\n",
				m.Epoch, obj, hash, seed, osdList(pl.Up), pl.UpPrimary, osdList(pl.Acting), pl.ActingPrimary)
			if out := a.ok("osd", "map", "data", obj); out != want {
				t.Errorf("osd map data %q:\n got %q\nwant %q", obj, out, want)
			}
		}
		// Ceph's own answer for "foo": pg 1.7fc1f406 (1.6) with pg_num 8 or 16.
		out := a.ok("osd", "map", "data", "foo")
		if !strings.Contains(out, " -> pg 1.7fc1f406 (1.6) -> up ([") {
			t.Errorf("osd map data foo: %q", out)
		}
		var om struct {
			Epoch         uint64  `json:"epoch"`
			Pool          string  `json:"pool"`
			PoolID        int64   `json:"pool_id"`
			Object        string  `json:"objname"`
			Namespace     string  `json:"namespace"`
			RawPG         string  `json:"raw_pgid"`
			PG            string  `json:"pgid"`
			Up            []int32 `json:"up"`
			UpPrimary     int32   `json:"up_primary"`
			Acting        []int32 `json:"acting"`
			ActingPrimary int32   `json:"acting_primary"`
		}
		a.json(&om, "osd", "map", "data", "foo")
		pl, _ := m.PlaceObject(1, "foo", "")
		if om.Epoch != m.Epoch || om.Pool != "data" || om.PoolID != 1 || om.Object != "foo" || om.RawPG != "1.7fc1f406" ||
			om.PG != "1.6" || osdList(om.Up) != osdList(pl.Up) || om.UpPrimary != pl.UpPrimary || len(om.Acting) != 3 {
			t.Errorf("osd map -o json: %+v", om)
		}
		// A namespace is hashed with the name, as Ceph does.
		pl, _ = m.PlaceObject(1, "foo", "ns")
		if out := a.ok("osd", "map", "data", "foo", "ns"); !strings.Contains(out, fmt.Sprintf("object 'ns/foo' -> pg 1.%x (%s)", clustermap.HashKey("foo", "ns"), pl.PG)) {
			t.Errorf("osd map with a namespace: %q", out)
		}
		a.fails(1, "pool 'nope' does not exist", "osd", "map", "nope", "foo")
		a.fails(2, "osd map takes at least 2 argument(s), got 1", "osd", "map", "data")
	})

	t.Run("dry run", func(t *testing.T) {
		a.t = t
		before := a.epoch()
		out := a.ok("osd", "out", "0", "--dry-run")
		golden(t, "dry_run_osd_out.txt", out)
		var r replyJSON
		a.json(&r, "osd", "out", "--dry-run", "osd.0")
		if !r.DryRun || r.Epoch != 0 || r.Message != "marked osd.0 out" || r.Movement == nil || r.Movement.PGs != 24 ||
			r.Movement.Moved == 0 || len(r.Movement.OSDs) == 0 {
			t.Errorf("dry run -o json: %+v", r)
		}
		lost := 0
		for _, o := range r.Movement.OSDs {
			if o.OSD == 0 {
				lost = int(o.Lost)
			}
		}
		if lost != int(r.Movement.Moved) {
			t.Errorf("dry run: osd.0 loses %d PGs, %d move", lost, r.Movement.Moved)
		}
		a.ok("pool", "create", "dry", "8", "--dry-run")
		a.ok("osd", "set", "noout", "--dry-run")
		a.ok("osd", "crush", "add-bucket", "dry", "rack", "--dry-run")
		if after := a.epoch(); after != before {
			t.Errorf("--dry-run changed the epoch from %d to %d", before, after)
		}
		if out := a.ok("pool", "ls"); strings.Contains(out, "dry") {
			t.Errorf("--dry-run created a pool: %q", out)
		}
	})

	t.Run("confirmation", func(t *testing.T) {
		a.t = t
		before := a.epoch()
		a.fails(1, "the limit without confirmation is 10%); see the moves with --dry-run, then repeat with --yes",
			"osd", "out", "0")
		if after := a.epoch(); after != before {
			t.Errorf("a refused change made epoch %d", after)
		}
		out := a.ok("osd", "out", "0", "--yes")
		if !regexp.MustCompile(`^marked osd.0 out \(epoch \d+\)\nmoved \d+ of 24 PGs \(\d+%\); 16 PGs have fewer OSDs than their pool's size\n$`).MatchString(out) {
			t.Errorf("osd out --yes: %q", out)
		}
		if out := a.ok("osd", "out", "0"); out != "osd.0 already out (no change)\n" {
			t.Errorf("osd out again: %q", out)
		}
		var r replyJSON
		a.json(&r, "osd", "in", "0", "--yes")
		if r.Epoch == 0 || r.Message != "marked osd.0 in" || r.ID != nil {
			t.Errorf("osd in -o json: %+v", r)
		}
	})

	t.Run("osd state", func(t *testing.T) {
		a.t = t
		a.ok("osd", "reweight", "osd.1", "0.5", "--yes")
		var dump struct {
			OSDs []osdJSON `json:"osds"`
		}
		a.json(&dump, "osd", "dump")
		if dump.OSDs[1].Weight != 0.5 || !dump.OSDs[1].In {
			t.Errorf("after reweight: %+v", dump.OSDs[1])
		}
		var r replyJSON
		a.json(&r, "osd", "reweight", "1", "1", "--yes")
		if r.Message != "reweighted osd.1 to 1.0000" || r.Movement == nil {
			t.Errorf("osd reweight -o json: %+v", r)
		}
		a.fails(2, `weight "heavy" is not a number`, "osd", "reweight", "1", "heavy")
		a.fails(1, "reweight 1.5000: use 0.0 to 1.0", "osd", "reweight", "1", "1.5")
		a.fails(1, "weight -1 is negative", "osd", "reweight", "1", "-1")
		a.fails(1, "osd.9 does not exist", "osd", "reweight", "9", "0.5")
		a.fails(2, `"x" is not an OSD id`, "osd", "out", "x")
		a.fails(2, "osd out|in|down takes at least 1 argument(s), got 0", "osd", "out")

		a.fails(1, "osd.2 is up; stop it, or mark it down with 'radosctl osd down 2', first", "osd", "rm", "2")
		out := a.ok("osd", "down", "2", "--yes")
		if !strings.HasPrefix(out, "marked osd.2 down (epoch ") {
			t.Errorf("osd down: %q", out)
		}
		// The OSD boots again, as a live one would.
		if _, err := a.c.Client("osd.2", 0).OSDBoot(ctx, &pb.OSDBootRequest{Id: 2, Uuid: osdUUID(2), Addr: "127.0.0.1:6801"}); err != nil {
			t.Fatal(err)
		}
		a.json(&dump, "osd", "dump")
		if !dump.OSDs[2].Up || dump.OSDs[2].Addr != "127.0.0.1:6801" {
			t.Errorf("after boot: %+v", dump.OSDs[2])
		}
	})

	t.Run("flags", func(t *testing.T) {
		a.t = t
		if out := a.ok("osd", "set", "noout"); !regexp.MustCompile(`^noout is set \(epoch \d+\)\n$`).MatchString(out) {
			t.Errorf("osd set: %q", out)
		}
		if out := a.ok("osd", "dump"); !strings.Contains(out, "\nflags noout\n") {
			t.Errorf("osd dump after set noout:\n%s", out)
		}
		if out := a.ok("health"); !strings.Contains(out, "[WRN] OSDMAP_FLAGS: noout flag(s) set\n") {
			t.Errorf("health after set noout:\n%s", out)
		}
		var r replyJSON
		a.json(&r, "osd", "unset", "noout")
		if r.Epoch == 0 || r.Message != "noout is unset" || r.Movement != nil {
			t.Errorf("osd unset -o json: %+v", r)
		}
		a.fails(1, `unknown flag "noupp"`, "osd", "set", "noupp")
	})

	t.Run("crush edits", func(t *testing.T) {
		a.t = t
		var r replyJSON
		a.json(&r, "osd", "crush", "add-bucket", "r1", "rack", "root=default")
		if r.Epoch == 0 || r.Message != "added bucket r1 type rack" || r.ID == nil || *r.ID >= 0 {
			t.Errorf("add-bucket -o json: %+v", r)
		}
		before := a.epoch()
		out := a.ok("osd", "crush", "move", "h0", "rack=r1", "--dry-run")
		if !strings.HasPrefix(out, "dry run, nothing changed: moved item id -2 name 'h0' to location {rack=r1} in crush map\nwould move ") {
			t.Errorf("crush move --dry-run:\n%s", out)
		}
		if after := a.epoch(); after != before {
			t.Errorf("a dry-run move made epoch %d", after)
		}
		a.ok("osd", "crush", "move", "h0", "rack=r1", "--yes")
		if out := a.ok("osd", "tree"); !strings.Contains(out, "rack r1\n") || !strings.Contains(out, "        host h0\n") {
			t.Errorf("osd tree after the move:\n%s", out)
		}
		out = a.ok("osd", "crush", "reweight", "osd.1", "2", "--yes")
		if !strings.HasPrefix(out, "reweighted item id 1 name 'osd.1' to 2 in crush map (epoch ") {
			t.Errorf("crush reweight: %q", out)
		}
		a.json(&r, "osd", "crush", "reweight", "osd.1", "1", "--yes")
		if r.Message != "reweighted item id 1 name 'osd.1' to 1 in crush map" {
			t.Errorf("crush reweight -o json: %+v", r)
		}
		a.fails(1, `no CRUSH item named "nope"`, "osd", "crush", "reweight", "nope", "1")
		a.fails(2, `weight "x" is not a number`, "osd", "crush", "reweight", "osd.1", "x")
		a.fails(1, "weight 1e+06 is too large", "osd", "crush", "reweight", "osd.1", "1e6")
		a.fails(2, `"rack": want TYPE=BUCKET`, "osd", "crush", "move", "h1", "rack")
	})

	t.Run("crush rules", func(t *testing.T) {
		a.t = t
		if out := a.ok("osd", "crush", "rule", "create-replicated", "fast", "default", "host", "hdd"); !strings.HasPrefix(out, "created rule fast (id 1) (epoch ") {
			t.Errorf("create-replicated: %q", out)
		}
		if out := a.ok("osd", "crush", "rule", "ls"); out != "replicated_rule\nfast\n" {
			t.Errorf("rule ls: %q", out)
		}
		var names []string
		a.json(&names, "osd", "crush", "rule", "ls")
		if strings.Join(names, ",") != "replicated_rule,fast" {
			t.Errorf("rule ls -o json: %q", names)
		}
		golden(t, "crush_rule_dump.txt", a.ok("osd", "crush", "rule", "dump"))
		if out := a.ok("osd", "crush", "rule", "dump", "fast"); !strings.HasPrefix(out, "rule fast {\n\tid 1\n") || !strings.Contains(out, "step take default class hdd\n") {
			t.Errorf("rule dump fast:\n%s", out)
		}
		var rule ruleJSON
		a.json(&rule, "osd", "crush", "rule", "dump", "fast")
		if rule.ID != 1 || rule.Type != "replicated" || len(rule.Steps) != 3 || rule.Steps[0].Item != "default class hdd" {
			t.Errorf("rule dump fast -o json: %+v", rule)
		}
		var rules []ruleJSON
		a.json(&rules, "osd", "crush", "rule", "dump")
		if len(rules) != 2 {
			t.Errorf("rule dump -o json: %+v", rules)
		}
		a.fails(1, `CRUSH rule "nope" does not exist (rules: replicated_rule, fast)`, "osd", "crush", "rule", "dump", "nope")
		a.fails(1, `root bucket "nowhere" does not exist`, "osd", "crush", "rule", "create-replicated", "r", "nowhere", "host")
		a.ok("pool", "set", "rbd", "crush_rule", "fast", "--yes")
		a.fails(1, `pool "rbd" uses rule "fast"`, "osd", "crush", "rule", "rm", "fast")
		a.ok("pool", "set", "rbd", "crush_rule", "replicated_rule", "--yes")
		var r replyJSON
		a.json(&r, "osd", "crush", "rule", "rm", "fast")
		if r.Message != "removed rule fast" || r.Epoch == 0 {
			t.Errorf("rule rm -o json: %+v", r)
		}
		a.fails(2, `unknown osd crush rule subcommand "frob"`, "osd", "crush", "rule", "frob")
	})

	t.Run("erasure code", func(t *testing.T) {
		a.t = t
		a.ok("osd", "erasure-code-profile", "set", "ec21", "k=2", "m=1", "crush-failure-domain=host")
		if out := a.ok("osd", "erasure-code-profile", "get", "ec21"); out != "crush-failure-domain=host\nk=2\nm=1\n" {
			t.Errorf("profile get: %q", out)
		}
		var prof map[string]string
		a.json(&prof, "osd", "erasure-code-profile", "get", "ec21")
		if len(prof) != 3 || prof["k"] != "2" {
			t.Errorf("profile get -o json: %v", prof)
		}
		if out := a.ok("osd", "erasure-code-profile", "ls"); out != "default\nec21\n" {
			t.Errorf("profile ls: %q", out)
		}
		var names []string
		a.json(&names, "osd", "erasure-code-profile", "ls")
		if strings.Join(names, ",") != "default,ec21" {
			t.Errorf("profile ls -o json: %q", names)
		}
		a.fails(1, "add --force to replace it", "osd", "erasure-code-profile", "set", "ec21", "k=2", "m=2")
		a.ok("osd", "erasure-code-profile", "set", "--force", "ec21", "k=2", "m=1")
		a.fails(1, "k=1: want a number in 2..32", "osd", "erasure-code-profile", "set", "bad", "k=1", "m=1")
		a.fails(2, `"k2": want KEY=VALUE`, "osd", "erasure-code-profile", "set", "bad", "k2")
		a.fails(1, `erasure-code profile "nope" does not exist (profiles: default, ec21)`, "osd", "erasure-code-profile", "get", "nope")

		var r replyJSON
		a.json(&r, "osd", "crush", "rule", "create-erasure", "ecrule", "ec21")
		if r.ID == nil || r.Message != fmt.Sprintf("created rule ecrule (id %d)", *r.ID) {
			t.Fatalf("create-erasure -o json: %+v", r)
		}
		a.ok("pool", "create", "ec", "8", "erasure", "ec21", "--rule", "ecrule")
		want := fmt.Sprintf("pool 3 'ec' erasure profile ec21 size 3 min_size 3 crush_rule %d object_hash rjenkins pg_num 8 pgp_num 8 flags hashpspool\n", *r.ID)
		if out := a.ok("pool", "ls", "detail"); !strings.HasSuffix(out, want) {
			t.Errorf("pool ls detail:\n%s", out)
		}
		if out := a.ok("pool", "get", "ec", "erasure_code_profile"); out != "erasure_code_profile: ec21\n" {
			t.Errorf("pool get erasure_code_profile: %q", out)
		}
		if out := a.ok("osd", "map", "ec", "obj"); !strings.HasPrefix(out, "osdmap e") || !strings.Contains(out, "pool 'ec' (3) object 'obj' -> pg 3.") {
			t.Errorf("osd map on an erasure pool: %q", out)
		}
		a.fails(1, `pool "ec" uses erasure-code profile "ec21"`, "osd", "erasure-code-profile", "rm", "ec21")
		a.ok("pool", "rm", "ec", "ec", "--yes-i-really-mean-it")
		a.ok("osd", "crush", "rule", "rm", "ecrule")
		if out := a.ok("osd", "erasure-code-profile", "rm", "ec21"); !strings.HasPrefix(out, "removed erasure-code profile ec21 (epoch ") {
			t.Errorf("profile rm: %q", out)
		}
		a.fails(1, `erasure-code profile "ec21"`, "osd", "erasure-code-profile", "rm", "ec21")
	})

	t.Run("pool rm", func(t *testing.T) {
		a.t = t
		before := a.epoch()
		a.fails(1, "not removing pool 'rbd': this would delete pool 'rbd' (id 2, replicated, 8 PGs) and every object in it, for good; "+
			"to go ahead, repeat the command with --yes-i-really-mean-it: radosctl pool rm rbd rbd --yes-i-really-mean-it", "pool", "rm", "rbd")
		a.fails(1, "pool 'nope' does not exist", "pool", "rm", "nope")
		a.fails(2, `the second name "data" must repeat the first, "rbd"`, "pool", "rm", "rbd", "data", "--yes-i-really-mean-it")
		if out := a.ok("pool", "rm", "rbd", "--dry-run"); out != "dry run, nothing changed: pool 'rbd' removed\n" {
			t.Errorf("pool rm --dry-run: %q", out)
		}
		if after := a.epoch(); after != before {
			t.Errorf("refused pool rm made epoch %d", after)
		}
		var r replyJSON
		a.json(&r, "pool", "rm", "rbd", "rbd", "--yes-i-really-mean-it")
		if r.Epoch == 0 || r.Message != "pool 'rbd' removed" || r.ID == nil || *r.ID != 2 {
			t.Errorf("pool rm -o json: %+v", r)
		}
		if out := a.ok("pool", "ls"); out != "data\n" {
			t.Errorf("pool ls after rm: %q", out)
		}
		if out := a.ok("pool", "rm", "data", "--yes-i-really-mean-it", "--dry-run"); out != "dry run, nothing changed: pool 'data' removed\n" {
			t.Errorf("pool rm --dry-run with the flag: %q", out)
		}
	})

	t.Run("crush map", func(t *testing.T) {
		a.t = t
		m := a.clusterMap(ctx)
		text := a.ok("osd", "getcrushmap")
		if text != m.Crush.Decompile() {
			t.Errorf("getcrushmap differs from the map's CRUSH text:\n%s", text)
		}
		dir := t.TempDir()
		path := filepath.Join(dir, "crush.txt")
		out, errOut, code := a.run("osd", "getcrushmap", "--out", path)
		if code != 0 || out != "" || errOut != fmt.Sprintf("wrote the CRUSH map of epoch %d to %s\n", m.Epoch, path) {
			t.Errorf("getcrushmap --out: exit %d, %q, %q", code, out, errOut)
		}
		if b, _ := os.ReadFile(path); string(b) != text {
			t.Errorf("getcrushmap --out wrote:\n%s", b)
		}
		var cj struct {
			Buckets []struct {
				Name string `json:"name"`
			} `json:"buckets"`
			Rules []ruleJSON `json:"rules"`
		}
		out = a.ok("-o", "json", "osd", "getcrushmap")
		if err := json.Unmarshal([]byte(out), &cj); err != nil || len(cj.Rules) != 1 || cj.Rules[0].Name != "replicated_rule" {
			t.Errorf("getcrushmap -o json: %v %+v", err, cj)
		}
		a.fails(2, "-o is a global flag: put it before the command", "osd", "getcrushmap", "-o", path)

		// The same map again changes nothing.
		if out := a.ok("osd", "setcrushmap", path); out != "set crush map (no change)\n" {
			t.Errorf("setcrushmap of the same map: %q", out)
		}
		bad := filepath.Join(dir, "bad.txt")
		if err := os.WriteFile(bad, []byte(strings.Replace(text, "step emit", "step emitt", 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		before := a.epoch()
		a.fails(1, bad+":", "osd", "setcrushmap", bad)
		_, errOut, _ = a.run("osd", "setcrushmap", bad)
		if !regexp.MustCompile(regexp.QuoteMeta(bad) + `:\d+:\d+: `).MatchString(errOut) {
			t.Errorf("setcrushmap of a bad map: %q, want FILE:LINE:COL", errOut)
		}
		if after := a.epoch(); after != before {
			t.Errorf("a bad map made epoch %d", after)
		}
		extra := text + "rule extra {\n\tid 5\n\ttype replicated\n\tmin_size 1\n\tmax_size 10\n\tstep take default\n\tstep chooseleaf firstn 0 type rack\n\tstep emit\n}\n"
		if err := os.WriteFile(path, []byte(extra), 0o644); err != nil {
			t.Fatal(err)
		}
		var r replyJSON
		a.json(&r, "osd", "setcrushmap", path)
		if r.Epoch == 0 || r.Message != "set crush map" {
			t.Errorf("setcrushmap -o json: %+v", r)
		}
		if out := a.ok("osd", "crush", "rule", "ls"); out != "replicated_rule\nextra\n" {
			t.Errorf("rules after setcrushmap: %q", out)
		}
		a.fails(1, "no such file", "osd", "setcrushmap", filepath.Join(dir, "missing.txt"))
	})

	t.Run("osd rm", func(t *testing.T) {
		a.t = t
		if out := a.ok("osd", "rm", "3"); !strings.HasPrefix(out, "removed osd.3 (epoch ") {
			t.Errorf("osd rm: %q", out)
		}
		if out := a.ok("osd", "tree"); strings.Contains(out, "osd.3") {
			t.Errorf("osd tree after rm:\n%s", out)
		}
		a.fails(1, "osd.3 does not exist", "osd", "rm", "3")
	})
}

// TestAdminEnv: where the config comes from, and what happens without
// one.
func TestAdminEnv(t *testing.T) {
	c := testcluster.StartMons(t, 1, testcluster.Options{})
	run := func(env map[string]string, args ...string) (string, string, int) {
		var o, e bytes.Buffer
		code := runEnv(args, &o, &e, func(k string) string { return env[k] })
		return o.String(), e.String(), code
	}
	out, errOut, code := run(map[string]string{"LOLIGO_CONF": c.ConfPath}, "mon", "stat")
	if code != 0 || !strings.HasPrefix(out, "1 mons at {a=") {
		t.Errorf("with $LOLIGO_CONF: exit %d, %q, %q", code, out, errOut)
	}
	// --conf wins over $LOLIGO_CONF.
	out, errOut, code = run(map[string]string{"LOLIGO_CONF": "/nonexistent/loligo.conf"}, "--conf", c.ConfPath, "osd", "dump")
	if code != 0 || !strings.HasPrefix(out, "epoch ") {
		t.Errorf("--conf over $LOLIGO_CONF: exit %d, %q, %q", code, out, errOut)
	}
	_, errOut, code = run(nil, "status")
	if code != 1 || errOut != "radosctl: no cluster config: pass --conf FILE or set LOLIGO_CONF (loligo mon --bootstrap writes DIR/loligo.conf)\n" {
		t.Errorf("without a config: exit %d, %q", code, errOut)
	}
	missing := filepath.Join(t.TempDir(), "loligo.conf")
	_, errOut, code = run(map[string]string{"LOLIGO_CONF": missing}, "status")
	if code != 1 || !strings.Contains(errOut, missing) || !strings.Contains(errOut, "no such file") || !strings.Contains(errOut, "$LOLIGO_CONF") {
		t.Errorf("with a missing config: exit %d, %q", code, errOut)
	}
	_, errOut, code = run(nil, "--conf", c.ConfPath, "--name", "client.nobody", "status")
	if code != 1 || !strings.Contains(errOut, "client.nobody") {
		t.Errorf("with an entity the config has no key for: exit %d, %q", code, errOut)
	}
}

// TestAdminUsage: calling a command wrongly prints the usage of that
// command and exits 2, before any connection is tried.
func TestAdminUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
		line string // a usage line printed with it
	}{
		{[]string{"osd"}, "osd needs a subcommand", "  osd tree "},
		{[]string{"osd", "frob"}, `unknown osd subcommand "frob"`, "  osd dump "},
		{[]string{"osd", "crush"}, "osd crush needs a subcommand", "  osd crush move "},
		{[]string{"osd", "crush", "rule"}, "osd crush rule needs a subcommand", "  osd crush rule ls "},
		{[]string{"osd", "erasure-code-profile", "frob"}, "unknown osd erasure-code-profile subcommand", "  osd erasure-code-profile set "},
		{[]string{"pool"}, "pool needs a subcommand", "  pool create "},
		{[]string{"pool", "ls", "everything"}, `pool ls takes only the word detail, not "everything"`, "  pool ls "},
		{[]string{"osd", "tree", "-o", "json"}, "-o is a global flag: put it before the command", "  osd tree "},
		{[]string{"osd", "tree", "--bogus"}, "unknown flag --bogus", "  osd tree "},
		{[]string{"osd", "tree", "extra"}, "osd tree takes 0 argument(s), got 1", "  osd tree "},
		{[]string{"osd", "set", "noout", "--yes=no"}, "--yes takes no value", "  osd set|unset "},
		{[]string{"osd", "crush", "add-bucket", "b"}, "osd crush add-bucket takes at least 2 argument(s), got 1", "  osd crush add-bucket "},
		{[]string{"osd", "crush", "move", "b", "host=a", "host=b"}, "host= given twice", "  osd crush move "},
		{[]string{"osd", "setcrushmap"}, "osd setcrushmap takes 1 argument(s), got 0", "  osd setcrushmap "},
		{[]string{"status", "now"}, "status takes 0 argument(s), got 1", "  status "},
	} {
		var o, e bytes.Buffer
		code := runEnv(tc.args, &o, &e, func(string) string { return "" })
		if code != 2 || o.Len() != 0 || !strings.Contains(e.String(), tc.want) || !strings.Contains(e.String(), tc.line) {
			t.Errorf("%q: exit %d, stderr:\n%s\nwant exit 2, %q and the usage line %q", tc.args, code, e.String(), tc.want, tc.line)
		}
	}
	// A mistyped flag value of pool create.
	var o, e bytes.Buffer
	if code := runEnv([]string{"pool", "create", "p", "8", "--min-size", "-1"}, &o, &e, func(string) string { return "" }); code != 2 ||
		!strings.Contains(e.String(), `--min-size "-1": want a whole number`) {
		t.Errorf("--min-size -1: exit %d, %q", code, e.String())
	}
}
