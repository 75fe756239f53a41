package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/loligo/loligo/clustermap"
	pb "github.com/loligo/loligo/proto/loligopb"
	"github.com/loligo/loligo/rados"
)

// stopTimeout is how long a daemon has after SIGTERM before it is killed.
const stopTimeout = 15 * time.Second

// startTimeout bounds each step of starting the cluster, as in-process
// up does.
const startTimeout = time.Minute

// supervisor runs `loligo up --procs`: the cluster of upCluster, with
// its directory layout, ports and config, as child processes of bin
// (this program): one "loligo mon" and one "loligo osd" per OSD. The
// supervisor, not the children, writes DIR/run/NAME.pid while a child
// runs; each child's output is appended to DIR/log/NAME.log. A child
// that exits unasked is restarted after delay (never when delay is 0);
// before the cluster is ready, it fails the start instead.
type supervisor struct {
	u        *upCluster
	bin      string
	logLevel string // the children's --log-level
	delay    time.Duration

	// failStart ends the start with a daemon's death as the cause.
	failStart context.CancelCauseFunc
	mu        struct {
		sync.Mutex
		// ready is set when the banner is printed: from then on a
		// daemon that dies is restarted. Before, it fails the start.
		ready bool
	}
	// The OSDs stop before the monitor, so they can tell it they stop.
	monWG, osdWG sync.WaitGroup
}

// daemon is one supervised child.
type daemon struct {
	// name is the daemon's entity (mon.a, osd.3); it names its pid
	// file and its log.
	name string
	// args follow the program's name: "osd", "--id", "3", ...
	args []string
}

func (s *supervisor) runDir() string { return filepath.Join(s.u.root, "run") }
func (s *supervisor) logDir() string { return filepath.Join(s.u.root, "log") }

func (s *supervisor) pidPath(name string) string { return filepath.Join(s.runDir(), name+".pid") }
func (s *supervisor) logPath(name string) string { return filepath.Join(s.logDir(), name+".log") }

// run starts the cluster, prints the banner once it takes writes, and
// supervises the daemons until ctx ends. Then it stops them, the OSDs
// first, and returns nil.
func (s *supervisor) run(ctx context.Context, stdout io.Writer) error {
	u := s.u
	if err := s.clearPidFiles(); err != nil {
		return err
	}
	fresh, monAddr, err := u.prepare()
	if err != nil {
		return err
	}
	for _, d := range []string{s.runDir(), s.logDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	startCtx, failStart := context.WithCancelCause(ctx)
	defer failStart(nil)
	s.failStart = failStart
	monCtx, stopMon := context.WithCancel(context.Background())
	osdCtx, stopOSDs := context.WithCancel(context.Background())
	defer func() {
		stopOSDs()
		s.osdWG.Wait()
		stopMon()
		s.monWG.Wait()
	}()
	err = s.start(startCtx, monCtx, osdCtx, monAddr)
	if err == nil {
		err = s.markReady(startCtx)
	}
	switch {
	case ctx.Err() != nil:
		fmt.Fprintln(stdout, "stopping...")
		return nil
	case err != nil && startCtx.Err() != nil:
		return context.Cause(startCtx) // a daemon died
	case err != nil:
		return err
	}
	u.banner(stdout, fresh, s.bannerLines())
	<-ctx.Done()
	fmt.Fprintln(stdout, "stopping...")
	return nil
}

// start starts the monitor, makes the OSDs that do not exist yet, starts
// them and the pool, and waits until the pool's PGs are active.
func (s *supervisor) start(ctx, monCtx, osdCtx context.Context, monAddr string) error {
	u := s.u
	s.spawn(monCtx, &s.monWG, daemon{name: "mon.a", args: []string{"mon",
		"--dir", u.monDir(), "--name", "a", "--addr", monAddr,
		"--etcd-client-url", fmt.Sprintf("https://127.0.0.1:%d", u.base+1),
		"--etcd-peer-url", fmt.Sprintf("https://127.0.0.1:%d", u.base+2),
		"--log-level", s.logLevel}})
	if err := s.waitMon(ctx); err != nil {
		return err
	}
	var osds []daemon
	var ids []int32
	for i := range u.nOSD {
		data := filepath.Join(u.root, fmt.Sprintf("osd.%d", i))
		// A directory made on an earlier run is returned as it is; a
		// restarted child is given the same id and directory.
		ident, err := createOSD(ctx, u.conf, data, u.monDir(), fmt.Sprintf("host%d", i))
		if err != nil {
			return fmt.Errorf("osd %d: %w", i, err)
		}
		ids = append(ids, ident.ID)
		osds = append(osds, daemon{name: fmt.Sprintf("osd.%d", ident.ID), args: []string{"osd",
			"--id", strconv.Itoa(int(ident.ID)), "--data", data, "--conf", u.confPath(),
			"--addr", fmt.Sprintf("127.0.0.1:%d", u.base+10+i), "--log-level", s.logLevel}})
	}
	for _, d := range osds {
		s.spawn(osdCtx, &s.osdWG, d)
	}
	if err := s.waitOSDsUp(ctx, ids); err != nil {
		return err
	}
	if err := u.ensurePool(ctx); err != nil {
		return err
	}
	s.waitActive(ctx)
	return nil
}

// markReady switches daemon deaths from failing the start to restarts,
// unless one has already failed it.
func (s *supervisor) markReady(startCtx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := startCtx.Err(); err != nil {
		return err
	}
	s.mu.ready = true
	return nil
}

func (s *supervisor) bannerLines() string {
	restarts := fmt.Sprintf("%s after a daemon dies (--restart-delay)", s.delay)
	if s.delay == 0 {
		restarts = "never (--restart-delay 0)"
	}
	return fmt.Sprintf("  pid files %s (NAME: mon.a, osd.0, ...)\n  logs      %s\n  restarts  %s\n",
		s.pidPath("NAME"), s.logPath("NAME"), restarts)
}

// waitMon waits until the monitor answers and leads.
func (s *supervisor) waitMon(ctx context.Context) error {
	err := poll(ctx, startTimeout, func(ctx context.Context) bool {
		// A new connection each time: a refused one would back off.
		mc, closeMC, err := s.u.adminMon()
		if err != nil {
			return false
		}
		defer closeMC()
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		rep, err := mc.Status(cctx, &pb.StatusRequest{})
		return err == nil && rep.GetLeader() != ""
	})
	if err != nil {
		return fmt.Errorf("the monitor did not lead within %s: %w", startTimeout, err)
	}
	return nil
}

// waitOSDsUp waits until the map has every OSD of ids up.
func (s *supervisor) waitOSDsUp(ctx context.Context, ids []int32) error {
	mc, closeMC, err := s.u.adminMon()
	if err != nil {
		return err
	}
	defer closeMC()
	err = poll(ctx, startTimeout, func(ctx context.Context) bool {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		rep, err := mc.GetMap(cctx, &pb.GetMapRequest{})
		if err != nil {
			return false
		}
		m, err := clustermap.FromProto(rep.GetMap())
		if err != nil {
			return false
		}
		for _, id := range ids {
			if !m.IsUp(id) {
				return false
			}
		}
		return true
	})
	if err != nil {
		return fmt.Errorf("the OSDs were not up within %s: %w", startTimeout, err)
	}
	return nil
}

// waitActive waits until every PG of the pool answers a listing (an OSD
// lists a PG only once it is active), so the banner means the cluster
// takes writes. As in-process up, it only warns when they do not.
func (s *supervisor) waitActive(ctx context.Context) {
	err := func() error {
		ctx, cancel := context.WithTimeout(ctx, startTimeout)
		defer cancel()
		c, err := rados.Connect(ctx, rados.Options{ConfPath: s.u.confPath()})
		if err != nil {
			return err
		}
		defer c.Close()
		io, err := c.OpenPool(ctx, upPool)
		if err != nil {
			return err
		}
		return io.ListObjects(ctx, func(string) error { return nil })
	}()
	if err != nil && ctx.Err() == nil {
		s.u.log.Warn("some PGs are not active yet; ops wait for them", "err", err)
	}
}

// poll calls ok every 100ms until it returns true, or fails when ctx
// ends or timeout passes.
func poll(ctx context.Context, timeout time.Duration, ok func(context.Context) bool) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for !ok(ctx) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// spawn supervises d in a goroutine that wg waits for; cancelling ctx
// stops d.
func (s *supervisor) spawn(ctx context.Context, wg *sync.WaitGroup, d daemon) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.supervise(ctx, d)
	}()
}

// supervise runs d until ctx ends, restarting it after s.delay each time
// it exits unasked.
func (s *supervisor) supervise(ctx context.Context, d daemon) {
	log := s.u.log.With("daemon", d.name)
	for {
		pid, status := s.runOnce(ctx, d)
		if ctx.Err() != nil {
			return // asked to stop
		}
		s.mu.Lock()
		ready := s.mu.ready
		if !ready {
			s.failStart(fmt.Errorf("%s (pid %d) exited while the cluster was starting: %s%s",
				d.name, pid, status, logTail(s.logPath(d.name))))
		}
		s.mu.Unlock()
		if !ready {
			return
		}
		if s.delay == 0 {
			log.Warn("daemon exited; not restarting it (--restart-delay 0)", "pid", pid, "status", status)
			return
		}
		log.Warn("daemon exited; restarting it", "pid", pid, "status", status, "in", s.delay)
		t := time.NewTimer(s.delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// runOnce starts d and waits for it to exit: by itself, or, once ctx
// ends, after SIGTERM (and SIGKILL stopTimeout later). Its pid file
// exists while it runs. It returns the pid (0 if it did not start) and
// how it ended.
func (s *supervisor) runOnce(ctx context.Context, d daemon) (pid int, status string) {
	log := s.u.log.With("daemon", d.name)
	lf, err := os.OpenFile(s.logPath(d.name), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return 0, err.Error()
	}
	defer lf.Close()
	cmd := exec.CommandContext(ctx, s.bin, d.args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = sysProcAttr()
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = stopTimeout
	fmt.Fprintf(lf, "%s loligo up: starting %s: %s %s\n",
		time.Now().Format(time.RFC3339), d.name, s.bin, strings.Join(d.args, " "))
	if err := cmd.Start(); err != nil {
		return 0, err.Error()
	}
	pid = cmd.Process.Pid
	if err := writePidFile(s.pidPath(d.name), pid); err != nil {
		log.Warn("writing the pid file", "err", err)
	}
	err = cmd.Wait()
	if rerr := os.Remove(s.pidPath(d.name)); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
		log.Warn("removing the pid file", "err", rerr)
	}
	status = describeExit(cmd.ProcessState, err)
	if ctx.Err() != nil {
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			log.Warn("daemon did not stop within the timeout after SIGTERM; killed it", "pid", pid, "timeout", stopTimeout)
		} else {
			log.Info("daemon stopped", "pid", pid, "status", status)
		}
	}
	return pid, status
}

// describeExit says how a child ended: "exit status 1", "signal: killed".
func describeExit(st *os.ProcessState, err error) string {
	if st != nil {
		return st.String()
	}
	if err != nil {
		return err.Error()
	}
	return "exited"
}

// writePidFile writes pid and a newline to path, atomically: a reader
// sees no file or the whole pid.
func writePidFile(path string, pid int) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// readPidFile returns the pid a pid file holds.
func readPidFile(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("%s holds no pid", path)
	}
	return pid, nil
}

// processAlive reports whether a process with this pid exists.
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// clearPidFiles removes the pid files a supervisor that was killed left
// behind. It refuses when the process a file names still runs: it may
// be that supervisor's child, holding the cluster's ports and data.
func (s *supervisor) clearPidFiles() error {
	files, err := filepath.Glob(filepath.Join(s.runDir(), "*.pid"))
	if err != nil {
		return err
	}
	for _, f := range files {
		if pid, err := readPidFile(f); err == nil && processAlive(pid) {
			return fmt.Errorf("%s: process %d still runs (left by an earlier loligo up --procs?): stop it, or remove the file if that process is not a Loligo daemon", f, pid)
		}
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// logTail returns the last lines of a log, indented, for an error
// message ("" when there is nothing to show).
func logTail(path string) string {
	const maxBytes, maxLines = 2048, 5
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > maxBytes {
		if _, err := f.Seek(fi.Size()-maxBytes, io.SeekStart); err != nil {
			return ""
		}
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > maxLines {
		lines = lines[len(lines)-maxLines:]
	}
	return fmt.Sprintf("; the end of %s:\n    %s", path, strings.Join(lines, "\n    "))
}
