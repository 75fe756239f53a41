package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/loligo/loligo/internal/testcluster"
	"github.com/loligo/loligo/rados"
)

// raceEnabled is set by procs_race_test.go: the binary the tests run is
// then built with -race too.
var raceEnabled bool

// testBin is the loligo binary the process tests run, built once per
// test run.
var testBin struct {
	once      sync.Once
	dir, path string
	err       error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if testBin.dir != "" {
		os.RemoveAll(testBin.dir)
	}
	os.Exit(code)
}

func loligoBin(t *testing.T) string {
	t.Helper()
	testBin.once.Do(func() {
		if testBin.dir, testBin.err = os.MkdirTemp("", "loligo-test-bin"); testBin.err != nil {
			return
		}
		testBin.path = filepath.Join(testBin.dir, "loligo")
		args := []string{"build", "-o", testBin.path}
		if raceEnabled {
			args = append(args, "-race")
		}
		if out, err := exec.Command("go", append(args, ".")...).CombinedOutput(); err != nil {
			testBin.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if testBin.err != nil {
		t.Fatal(testBin.err)
	}
	return testBin.path
}

// procsUp is a `loligo up --procs` process.
type procsUp struct {
	dir            string
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
	done           chan struct{} // closed when cmd.Wait has returned
	err            error         // cmd.Wait's, once done is closed
}

// startProcs runs `loligo up --procs` with osds OSDs on dir and waits
// for its banner. Cleanup kills it and every daemon it left.
// LOLIGO_PROCS_LOG_LEVEL, if set, is the daemons' --log-level.
func startProcs(t *testing.T, dir string, base, osds int, restartDelay string) *procsUp {
	t.Helper()
	p := &procsUp{dir: dir, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	args := []string{"up", "--procs", "--dir", dir, "--osds", strconv.Itoa(osds),
		"--port-base", strconv.Itoa(base), "--restart-delay", restartDelay}
	if lvl := os.Getenv("LOLIGO_PROCS_LOG_LEVEL"); lvl != "" {
		args = append(args, "--log-level", lvl)
	}
	p.cmd = exec.Command(loligoBin(t), args...)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(p.kill)
	deadline := time.After(90 * time.Second)
	for !strings.Contains(p.stdout.String(), "Ctrl-C") {
		select {
		case <-p.done:
			t.Fatalf("loligo up --procs ended before it was ready: %v\nstdout:\n%s\nstderr:\n%s", p.err, p.stdout, p.stderr)
		case <-deadline:
			t.Fatalf("loligo up --procs not ready after 90s\nstdout:\n%s\nstderr:\n%s", p.stdout, p.stderr)
		case <-time.After(50 * time.Millisecond):
		}
	}
	// The daemons share the host's disk: a nearly full one must not make
	// every test a test of a full cluster.
	mc, closeMon := adminMonClient(t, filepath.Join(dir, "loligo.conf"))
	defer closeMon()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	testcluster.RaiseRatios(t, ctx, mc)
	return p
}

// kill stops the supervisor, if it still runs: SIGTERM, so that it
// stops and reaps its daemons, and SIGKILL for it and the daemons its
// pid files name if it has not exited 20s later.
func (p *procsUp) kill() {
	pids := pidFiles(p.dir)
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return
	case <-time.After(20 * time.Second):
	}
	_ = p.cmd.Process.Kill()
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
	}
}

// stop sends the supervisor SIGTERM and waits for it to exit with 0.
func (p *procsUp) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("loligo up --procs did not stop within a minute after SIGTERM\nstderr:\n%s", p.stderr)
	}
	if p.err != nil {
		t.Errorf("loligo up --procs after SIGTERM: %v\nstderr:\n%s", p.err, p.stderr)
	}
}

// pidFiles returns the pids in DIR/run, by daemon name.
func pidFiles(dir string) map[string]int {
	out := map[string]int{}
	files, _ := filepath.Glob(filepath.Join(dir, "run", "*.pid"))
	for _, f := range files {
		if pid, err := readPidFile(f); err == nil {
			out[strings.TrimSuffix(filepath.Base(f), ".pid")] = pid
		}
	}
	return out
}

// livePid returns the pid in DIR/run/NAME.pid if that process runs.
func livePid(dir, name string) (int, bool) {
	pid, err := readPidFile(filepath.Join(dir, "run", name+".pid"))
	return pid, err == nil && processAlive(pid)
}

// freeBaseFor finds a port base for `loligo up` with osds OSDs: the
// monitor's base..base+2 and the OSDs' base+10..base+10+osds-1 are free
// now.
func freeBaseFor(t *testing.T, osds int) int {
	t.Helper()
	for try := 0; try < 20; try++ {
		base := freeBase(t) // base..base+12
		ok := true
		for p := base + 13; p < base+10+osds && ok; p++ {
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
	t.Fatalf("no free port range for %d OSDs", osds)
	return 0
}

// clusterDir is the directory a process test runs its cluster in: in
// t.TempDir(), or, when LOLIGO_KEEP_DIR is set, in
// $LOLIGO_KEEP_DIR/TESTNAME/cluster, which is left for inspection (logs
// under log/) after the test.
func clusterDir(t *testing.T) string {
	t.Helper()
	keep := os.Getenv("LOLIGO_KEEP_DIR")
	if keep == "" {
		return filepath.Join(t.TempDir(), "cluster")
	}
	name := strings.NewReplacer("/", "_", "=", "").Replace(t.Name())
	dir := filepath.Join(keep, name, "cluster")
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("cluster directory %s (kept: LOLIGO_KEEP_DIR)", dir)
	return dir
}

// waitFor polls cond until it holds, failing the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(timeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline:
			t.Fatalf("no %s after %s", what, timeout)
		case <-tick.C:
		}
	}
}

var procNames = []string{"mon.a", "osd.0", "osd.1", "osd.2"}

// hasLine reports whether some line of s holds every one of parts.
func hasLine(s string, parts ...string) bool {
	for _, line := range strings.Split(s, "\n") {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			return true
		}
	}
	return false
}

// A SIGKILLed OSD is restarted after --restart-delay, as the same OSD.
func TestUpProcsRestartsOSD(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cluster")
	p := startProcs(t, dir, freeBase(t), 3, "1s")
	if !strings.Contains(p.stdout.String(), "created") {
		t.Errorf("first run does not say it created the cluster:\n%s", p.stdout)
	}
	for _, n := range procNames {
		if _, ok := livePid(dir, n); !ok {
			t.Fatalf("%s: no pid file naming a live process; run/ holds %v", n, pidFiles(dir))
		}
	}
	old, _ := livePid(dir, "osd.1")
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var now int
	waitFor(t, 30*time.Second, "new osd.1 process", func() bool {
		pid, ok := livePid(dir, "osd.1")
		now = pid
		return ok && pid != old
	})
	if processAlive(old) {
		t.Errorf("the killed osd.1 (pid %d) was not reaped", old)
	}
	if !hasLine(p.stderr.String(), "osd.1", fmt.Sprintf("pid=%d", old), "signal: killed", "restarting") {
		t.Errorf("the supervisor's stderr does not tell of osd.1's death:\n%s", p.stderr)
	}
	// Started again as the same OSD, not made anew.
	b, err := os.ReadFile(filepath.Join(dir, "log", "osd.1.log"))
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("osd --id 1 --data %s ", filepath.Join(dir, "osd.1"))
	if n := strings.Count(string(b), want); n != 2 {
		t.Errorf("osd.1.log shows %d starts with %q, want 2:\n%s", n, want, b)
	}
	for _, n := range []string{"mon.a", "osd.0", "osd.2"} {
		if _, ok := livePid(dir, n); !ok {
			t.Errorf("%s no longer runs", n)
		}
	}
	t.Logf("osd.1: pid %d killed, pid %d runs", old, now)
}

// With --restart-delay 0 a daemon that dies stays dead.
func TestUpProcsNoRestart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cluster")
	p := startProcs(t, dir, freeBase(t), 3, "0")
	old, ok := livePid(dir, "osd.1")
	if !ok {
		t.Fatalf("osd.1 does not run; run/ holds %v", pidFiles(dir))
	}
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(dir, "run", "osd.1.pid")
	waitFor(t, 15*time.Second, "removal of osd.1.pid", func() bool {
		_, err := os.Stat(pidFile)
		return os.IsNotExist(err)
	})
	waitFor(t, 15*time.Second, "message about osd.1", func() bool {
		return hasLine(p.stderr.String(), "osd.1", fmt.Sprintf("pid=%d", old), "not restarting")
	})
	deadline := time.After(2 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for done := false; !done; {
		select {
		case <-deadline:
			done = true
		case <-tick.C:
			if _, err := os.Stat(pidFile); err == nil {
				t.Fatalf("osd.1 was started again with --restart-delay 0\nstderr:\n%s", p.stderr)
			}
		}
	}
	for _, n := range []string{"mon.a", "osd.0", "osd.2"} {
		if _, ok := livePid(dir, n); !ok {
			t.Errorf("%s no longer runs", n)
		}
	}
}

// SIGTERM stops every daemon and removes the pid files; run again, the
// supervisor resumes the cluster with its objects.
func TestUpProcsStopResumes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cluster")
	base := freeBase(t)
	start := time.Now()
	p := startProcs(t, dir, base, 3, "1s")
	t.Logf("started at %s", time.Since(start))
	pids := pidFiles(dir)
	if len(pids) != len(procNames) {
		t.Fatalf("pid files: %v, want one for each of %v", pids, procNames)
	}
	data := bytes.Repeat([]byte("cuttlefish "), 10000)
	func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
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
	}()

	t.Logf("wrote an object at %s", time.Since(start))
	p.stop(t)
	t.Logf("stopped at %s", time.Since(start))
	if !strings.Contains(p.stdout.String(), "stopping...") {
		t.Errorf("no stopping... on stdout:\n%s", p.stdout)
	}
	for name, pid := range pids {
		if processAlive(pid) {
			t.Errorf("%s (pid %d) still runs after the supervisor stopped", name, pid)
		}
	}
	if left := pidFiles(dir); len(left) > 0 {
		t.Errorf("pid files left after stopping: %v", left)
	}

	p = startProcs(t, dir, base, 3, "1s")
	t.Logf("resumed at %s", time.Since(start))
	if !strings.Contains(p.stdout.String(), "resumed") {
		t.Errorf("second run does not say it resumed:\n%s", p.stdout)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := rados.Connect(ctx, rados.Options{ConfPath: filepath.Join(dir, "loligo.conf")})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io, err := c.OpenPool(ctx, "data")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.Read(ctx, "kept", 0, 0)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("after resuming: %d bytes, err %v; want the %d written", len(got), err, len(data))
	}
}
