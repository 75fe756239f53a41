package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loligo/loligo/rados"
)

// bench: rados bench's write, seq and rand.

const (
	benchDefaultSize = 4 << 20
	benchDefaultConc = 16
	// benchDefaultRun is the object that records the last write run.
	benchDefaultRun = "benchmark_last_metadata"
	// mib is the MB of the bandwidth figures (as rados bench's).
	mib = 1 << 20
	// Every benchmark object starts with its number and benchMagic (see
	// benchHeader); the rest is benchFiller's.
	benchMagic     = "lolibnch"
	benchHeaderLen = len(benchMagic) + 8
	// progressEvery lines the progress header is printed again.
	progressEvery = 20
)

// benchMeta is what a write run records for seq and rand (as JSON in the
// run's metadata object).
type benchMeta struct {
	Prefix  string `json:"prefix"`
	Objects uint64 `json:"objects"`
	OpSize  uint64 `json:"op_size"`
}

func benchObject(prefix string, n uint64) string {
	return prefix + "_object" + strconv.FormatUint(n, 10)
}

// benchOpts are bench's arguments.
type benchOpts struct {
	pool      string
	mode      string
	dur       time.Duration
	size      uint64
	conc      int
	cleanup   bool
	runName   string
	interrupt <-chan struct{}
}

func benchCmd(e *env, args []string) error {
	const topic = "bench"
	a, err := objArgs(topic, args, map[string]bool{"b": true, "t": true, "no-cleanup": false, "run-name": true}, 3, 3)
	if err != nil {
		return err
	}
	o := benchOpts{pool: a.pos[0], mode: a.pos[2], size: benchDefaultSize, conc: benchDefaultConc, cleanup: !a.has("no-cleanup"), runName: benchDefaultRun}
	secs, err := strconv.ParseFloat(a.pos[1], 64)
	if err != nil || !(secs > 0) || secs > 1e6 {
		return objUsage(topic, "SECONDS %q: want how long to run, such as 10", a.pos[1])
	}
	o.dur = time.Duration(secs * float64(time.Second))
	switch o.mode {
	case "write":
	case "seq", "rand":
		if a.has("b") {
			return objUsage(topic, "-b sets the size of a write run; seq and rand read the objects the last write run left")
		}
		if a.has("no-cleanup") {
			return objUsage(topic, "--no-cleanup belongs to write (seq and rand remove nothing)")
		}
	default:
		return objUsage(topic, "mode %q: use write, seq or rand", o.mode)
	}
	if o.size, err = sizeFlag(a, "b", benchDefaultSize); err != nil {
		return err
	}
	if v, ok := a.flags["t"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 4096 {
			return objUsage(topic, "-t %q: want how many operations to keep in flight, 1 to 4096", v)
		}
		o.conc = n
	}
	if v, ok := a.flags["run-name"]; ok {
		if v == "" {
			return objUsage(topic, "--run-name needs a name")
		}
		o.runName = v
	}

	ioc, err := connectPool(e, o.pool)
	if err != nil {
		return err
	}
	// The first interrupt ends the timed phase early (the summary and the
	// cleanup follow); once it is over, an interrupt stops radosctl.
	sigCtx, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stopSignals()
	o.interrupt = sigCtx.Done()
	if o.mode == "write" {
		return benchWrite(e, ioc, o, stopSignals)
	}
	return benchRead(e, ioc, o)
}

func benchWrite(e *env, ioc *rados.IOContext, o benchOpts, timedOver func()) error {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	prefix := fmt.Sprintf("benchmark_data_%s_%d", host, os.Getpid())
	filler := benchFiller(o.size)
	fmt.Fprintf(e.stderr, "Maintaining %d concurrent writes of %d bytes to objects of size %d for up to %g seconds\nObject prefix: %s\n",
		o.conc, o.size, o.size, o.dur.Seconds(), prefix)

	ctx, cancel := transferCtx()
	defer cancel()
	var next atomic.Uint64
	res := runBench(ctx, e.stderr, benchConfig{
		conc: o.conc, dur: o.dur, interrupt: o.interrupt,
		next: func() (uint64, bool) { return next.Add(1) - 1, true },
		newOp: func() benchOp {
			buf := slices.Clone(filler)
			return func(ctx context.Context, n uint64) (int, string, error) {
				h := benchHeader(n)
				copy(buf, h[:])
				oid := benchObject(prefix, n)
				if err := ioc.WriteFull(ctx, oid, buf); err != nil {
					if errors.Is(err, rados.ErrTooBig) {
						return 0, "", fmt.Errorf("writing %s: %w (use a smaller -b)", oid, err)
					}
					return 0, "", fmt.Errorf("writing %s: %w", oid, err)
				}
				return len(buf), "", nil
			}
		},
	})
	timedOver()

	// Record the run even if it failed, so that its objects can be found.
	meta := benchMeta{Prefix: prefix, Objects: next.Load(), OpSize: o.size}
	var errs []error
	if res.err != nil {
		errs = append(errs, fmt.Errorf("bench write: %w", res.err))
	} else if err := printSummary(e, "write", o.size, summarize(res.lats, res.bytes, res.elapsed)); err != nil {
		return err
	}
	if err := writeBenchMeta(ctx, ioc, o.runName, meta); err != nil && !o.cleanup {
		errs = append(errs, fmt.Errorf("recording the run in %s/%s (seq and rand read it): %w", o.pool, o.runName, err))
	}
	if o.cleanup {
		if err := benchCleanup(ctx, e.stderr, ioc, meta, o.runName, o.conc); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func writeBenchMeta(ctx context.Context, ioc *rados.IOContext, name string, m benchMeta) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return ioc.WriteFull(ctx, name, b)
}

func readBenchMeta(ctx context.Context, ioc *rados.IOContext, pool, name string) (benchMeta, error) {
	var m benchMeta
	b, err := ioc.Read(ctx, name, 0, 0)
	if errors.Is(err, rados.ErrNotFound) {
		return m, fmt.Errorf("no benchmark data in pool %s (no object %s): write some first with radosctl bench %s SECONDS write --no-cleanup", pool, name, pool)
	}
	if err != nil {
		return m, fmt.Errorf("reading the benchmark record %s/%s: %w", pool, name, err)
	}
	if err := json.Unmarshal(b, &m); err != nil || m.Prefix == "" || m.OpSize == 0 {
		return m, fmt.Errorf("object %s in pool %s is not a radosctl bench record: pick another --run-name, or write a new run with radosctl bench %s SECONDS write --no-cleanup", name, pool, pool)
	}
	if m.Objects == 0 {
		return m, fmt.Errorf("the write run recorded in %s/%s stored no objects: write some with radosctl bench %s SECONDS write --no-cleanup", pool, name, pool)
	}
	return m, nil
}

func benchRead(e *env, ioc *rados.IOContext, o benchOpts) error {
	ctx, cancel := transferCtx()
	defer cancel()
	meta, err := readBenchMeta(ctx, ioc, o.pool, o.runName)
	if err != nil {
		return err
	}
	filler := benchFiller(meta.OpSize)
	var next func() (uint64, bool)
	if o.mode == "seq" {
		var cur atomic.Uint64
		next = func() (uint64, bool) {
			n := cur.Add(1) - 1
			return n, n < meta.Objects
		}
		fmt.Fprintf(e.stderr, "Reading %d objects of %d bytes in order, %d at a time, for up to %g seconds\n", meta.Objects, meta.OpSize, o.conc, o.dur.Seconds())
	} else {
		next = func() (uint64, bool) { return rand.Uint64N(meta.Objects), true }
		fmt.Fprintf(e.stderr, "Reading random objects of the %d of %d bytes, %d at a time, for %g seconds\n", meta.Objects, meta.OpSize, o.conc, o.dur.Seconds())
	}
	op := func(ctx context.Context, n uint64) (int, string, error) {
		oid := benchObject(meta.Prefix, n)
		b, err := ioc.Read(ctx, oid, 0, 0)
		if errors.Is(err, rados.ErrNotFound) {
			return 0, "", fmt.Errorf("object %s is gone (removed since the write run?): write new data with radosctl bench %s SECONDS write --no-cleanup", oid, o.pool)
		}
		if err != nil {
			return 0, "", fmt.Errorf("reading %s: %w", oid, err)
		}
		if bad := checkBench(b, n, filler); bad != "" {
			return len(b), oid + ": " + bad, nil
		}
		return len(b), "", nil
	}
	res := runBench(ctx, e.stderr, benchConfig{
		conc: o.conc, dur: o.dur, interrupt: o.interrupt, next: next,
		newOp: func() benchOp { return op },
	})
	if res.err != nil {
		return fmt.Errorf("bench %s: %w", o.mode, res.err)
	}
	if err := printSummary(e, o.mode, meta.OpSize, summarize(res.lats, res.bytes, res.elapsed)); err != nil {
		return err
	}
	if res.bad > 0 {
		return fmt.Errorf("%d of %d reads returned other data than the write run wrote; the first: %s", res.bad, len(res.lats), res.firstBad)
	}
	return nil
}

// The data pattern

// benchFiller returns the bytes of every benchmark object of size bytes
// but its header: a fixed pseudo-random stream, the same for every run
// and version of radosctl.
func benchFiller(size uint64) []byte {
	b := make([]byte, size)
	r := rand.NewChaCha8([32]byte([]byte("loligo radosctl bench data fill.")))
	r.Read(b)
	return b
}

// benchHeader is the start of object n's data: n (little endian, so
// that even an object of a few bytes holds its low bytes), then
// benchMagic.
func benchHeader(n uint64) [benchHeaderLen]byte {
	var h [benchHeaderLen]byte
	binary.LittleEndian.PutUint64(h[:], n)
	copy(h[8:], benchMagic)
	return h
}

// checkBench checks that b is what the write run wrote to object n, and
// says how it differs if not.
func checkBench(b []byte, n uint64, filler []byte) string {
	if len(b) != len(filler) {
		return fmt.Sprintf("read %d bytes, want %d", len(b), len(filler))
	}
	h := benchHeader(n)
	k := min(len(b), benchHeaderLen)
	if !bytes.Equal(b[:k], h[:k]) {
		if k == benchHeaderLen && string(b[8:k]) == benchMagic {
			return fmt.Sprintf("holds the data of object %d", binary.LittleEndian.Uint64(b))
		}
		return "does not start with the benchmark header"
	}
	if !bytes.Equal(b[k:], filler[k:]) {
		i := k
		for b[i] == filler[i] {
			i++
		}
		return fmt.Sprintf("differs from the written data at byte %d", i)
	}
	return ""
}

// The runner

// benchOp does one operation on object n: it returns the bytes moved, and
// what was wrong with the data read ("" if nothing).
type benchOp func(ctx context.Context, n uint64) (moved int, bad string, err error)

type benchConfig struct {
	conc int
	dur  time.Duration
	// next returns the object of the next operation, false when there
	// are no more.
	next func() (uint64, bool)
	// newOp returns one worker's operation.
	newOp     func() benchOp
	interrupt <-chan struct{}
}

type benchResult struct {
	lats     []time.Duration
	bytes    uint64
	elapsed  time.Duration
	bad      int
	firstBad string
	err      error // the first failed operation's
}

// benchCounters are what the progress lines show.
type benchCounters struct {
	started, finished, failed, bytes atomic.Uint64
	latSum, lastLat                  atomic.Int64
}

// runBench keeps cfg.conc operations in flight until cfg.dur has passed,
// next has no more, an operation fails or cfg.interrupt is closed, and
// prints a progress line every second meanwhile.
func runBench(ctx context.Context, stderr io.Writer, cfg benchConfig) benchResult {
	var (
		c       benchCounters
		stopped atomic.Bool
		mu      sync.Mutex
		res     benchResult
		wg      sync.WaitGroup
		lats    = make([][]time.Duration, cfg.conc)
	)
	fail := func(err error) {
		mu.Lock()
		if res.err == nil {
			res.err = err
		}
		mu.Unlock()
		stopped.Store(true)
	}
	start := time.Now()
	allDone := make(chan struct{})
	go func() {
		t := time.NewTimer(cfg.dur)
		defer t.Stop()
		select {
		case <-t.C:
		case <-cfg.interrupt:
		case <-allDone:
		}
		stopped.Store(true)
	}()
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		c.progress(stderr, start, allDone)
	}()
	for i := range cfg.conc {
		op := cfg.newOp()
		wg.Go(func() {
			for !stopped.Load() {
				n, ok := cfg.next()
				if !ok {
					return
				}
				c.started.Add(1)
				t0 := time.Now()
				moved, bad, err := op(ctx, n)
				lat := time.Since(t0)
				if err != nil {
					c.failed.Add(1)
					fail(err)
					return
				}
				lats[i] = append(lats[i], lat)
				c.bytes.Add(uint64(moved))
				c.latSum.Add(int64(lat))
				c.lastLat.Store(int64(lat))
				c.finished.Add(1)
				if bad != "" {
					mu.Lock()
					if res.bad == 0 {
						res.firstBad = bad
					}
					res.bad++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	close(allDone)
	<-progressDone
	res.lats = slices.Concat(lats...)
	res.bytes = c.bytes.Load()
	return res
}

// progress prints a line every second until done is closed.
func (c *benchCounters) progress(w io.Writer, start time.Time, done <-chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	fmt.Fprintln(w, progressHeader)
	var lastBytes uint64
	last := start
	for lines := 1; ; lines++ {
		select {
		case <-done:
			return
		case now := <-t.C:
			fin, b := c.finished.Load(), c.bytes.Load()
			p := benchProgress{
				Sec:      int(now.Sub(start).Round(time.Second) / time.Second),
				Cur:      c.started.Load() - fin - c.failed.Load(),
				Started:  c.started.Load(),
				Finished: fin,
				AvgMBs:   mbPerSec(b, now.Sub(start)),
				CurMBs:   mbPerSec(b-lastBytes, now.Sub(last)),
				LastLat:  time.Duration(c.lastLat.Load()),
			}
			if fin > 0 {
				p.AvgLat = time.Duration(c.latSum.Load() / int64(fin))
			}
			lastBytes, last = b, now
			if lines%progressEvery == 0 {
				fmt.Fprintln(w, progressHeader)
			}
			fmt.Fprintln(w, formatProgress(p))
		}
	}
}

// benchCleanup removes a write run's objects, conc at a time, and then
// its record.
func benchCleanup(ctx context.Context, stderr io.Writer, ioc *rados.IOContext, m benchMeta, runName string, conc int) error {
	start := time.Now()
	fmt.Fprintf(stderr, "Cleaning up (deleting %d benchmark objects)\n", m.Objects)
	var (
		next, removed atomic.Uint64
		mu            sync.Mutex
		firstErr      error
		wg            sync.WaitGroup
	)
	for range conc {
		wg.Go(func() {
			for {
				n := next.Add(1) - 1
				if n >= m.Objects {
					return
				}
				oid := benchObject(m.Prefix, n)
				if err := ioc.Remove(ctx, oid); err != nil && !errors.Is(err, rados.ErrNotFound) {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("removing %s: %w", oid, err)
					}
					mu.Unlock()
					next.Store(m.Objects) // stop the others
					return
				}
				removed.Add(1)
			}
		})
	}
	waited := make(chan struct{})
	go func() {
		wg.Wait()
		close(waited)
	}()
	t := time.NewTicker(time.Second)
	defer t.Stop()
wait:
	for {
		select {
		case <-waited:
			break wait
		case <-t.C:
			fmt.Fprintf(stderr, "  removed %d of %d objects\n", removed.Load(), m.Objects)
		}
	}
	if firstErr != nil {
		return fmt.Errorf("cleaning up: %w (the run is recorded in %s; remove the rest with radosctl rm)", firstErr, runName)
	}
	if err := ioc.Remove(ctx, runName); err != nil && !errors.Is(err, rados.ErrNotFound) {
		return fmt.Errorf("cleaning up: removing %s: %w", runName, err)
	}
	fmt.Fprintf(stderr, "Clean up completed and total clean up time: %.3f s\n", time.Since(start).Seconds())
	return nil
}

// Figures

// benchSummary is what bench reports; with -o json exactly these fields.
type benchSummary struct {
	Ops      uint64  `json:"ops"`
	Bytes    uint64  `json:"bytes"`
	Seconds  float64 `json:"seconds"`
	MBPerSec float64 `json:"mb_per_sec"`
	IOPS     float64 `json:"iops"`
	LatAvgMs float64 `json:"lat_avg_ms"`
	LatP50Ms float64 `json:"lat_p50_ms"`
	LatP99Ms float64 `json:"lat_p99_ms"`
	LatMaxMs float64 `json:"lat_max_ms"`
}

// summarize computes the figures of a run from every operation's latency
// (which it sorts), the bytes moved and the time taken. Percentiles are
// exact (nearest rank); figures are rounded to a microsecond, a thousandth
// of an MB/s and of an operation per second.
func summarize(lats []time.Duration, bytes uint64, elapsed time.Duration) benchSummary {
	slices.Sort(lats)
	s := benchSummary{Ops: uint64(len(lats)), Bytes: bytes, Seconds: round(elapsed.Seconds(), 6)}
	if elapsed > 0 {
		s.MBPerSec = round(mbPerSec(bytes, elapsed), 3)
		s.IOPS = round(float64(len(lats))/elapsed.Seconds(), 3)
	}
	if len(lats) == 0 {
		return s
	}
	var sum time.Duration
	for _, l := range lats {
		sum += l
	}
	ms := func(d time.Duration) float64 { return round(float64(d)/float64(time.Millisecond), 3) }
	s.LatAvgMs = round(float64(sum)/float64(len(lats))/float64(time.Millisecond), 3)
	s.LatP50Ms = ms(percentile(lats, 50))
	s.LatP99Ms = ms(percentile(lats, 99))
	s.LatMaxMs = ms(lats[len(lats)-1])
	return s
}

// percentile returns the p-th percentile of sorted by the nearest-rank
// method: the smallest value at least p percent of the values are at or
// below.
func percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(p * float64(n) / 100))
	return sorted[min(max(rank, 1), n)-1]
}

func mbPerSec(bytes uint64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(bytes) / mib / d.Seconds()
}

func round(x float64, places int) float64 {
	p := math.Pow10(places)
	return math.Round(x*p) / p
}

// benchProgress is one progress line.
type benchProgress struct {
	Sec                    int
	Cur, Started, Finished uint64
	AvgMBs, CurMBs         float64
	LastLat, AvgLat        time.Duration // 0: none finished yet
}

var progressHeader = fmt.Sprintf("%5s %7s %9s %9s %9s %9s %11s %11s",
	"sec", "Cur ops", "started", "finished", "avg MB/s", "cur MB/s", "last lat(s)", "avg lat(s)")

// formatProgress prints a progress line as rados bench does, under
// progressHeader.
func formatProgress(p benchProgress) string {
	last := "-"
	if p.LastLat > 0 {
		last = strconv.FormatFloat(p.LastLat.Seconds(), 'f', 6, 64)
	}
	return fmt.Sprintf("%5d %7d %9d %9d %9.3f %9.3f %11s %11.6f",
		p.Sec, p.Cur, p.Started, p.Finished, p.AvgMBs, p.CurMBs, last, p.AvgLat.Seconds())
}

// formatSummary prints a run's figures for people.
func formatSummary(mode string, opSize uint64, s benchSummary) string {
	ops, size := "writes", "Write"
	if mode != "write" {
		ops, size = "reads", "Read"
	}
	var b strings.Builder
	line := func(label, format string, v any) {
		fmt.Fprintf(&b, "%-24s"+format+"\n", label+":", v)
	}
	line("Total time run", "%.3f s", s.Seconds)
	line("Total "+ops+" made", "%d", s.Ops)
	line(size+" size", "%d", opSize)
	line("Total bytes", "%d", s.Bytes)
	line("Bandwidth (MB/sec)", "%.3f", s.MBPerSec)
	line("Average IOPS", "%.3f", s.IOPS)
	line("Average latency (ms)", "%.3f", s.LatAvgMs)
	line("p50 latency (ms)", "%.3f", s.LatP50Ms)
	line("p99 latency (ms)", "%.3f", s.LatP99Ms)
	line("Max latency (ms)", "%.3f", s.LatMaxMs)
	return b.String()
}

func printSummary(e *env, mode string, opSize uint64, s benchSummary) error {
	if e.json {
		return writeJSON(e, s)
	}
	_, err := io.WriteString(e.stdout, formatSummary(mode, opSize, s))
	return err
}
