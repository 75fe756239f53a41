package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/loligo/loligo/clustermap"
	pb "github.com/loligo/loligo/proto/loligopb"
	"github.com/loligo/loligo/rados"
)

// usageWait bounds how long status waits for the OSDs' store usage: a
// status must come quickly even when an OSD the map calls up is gone.
const usageWait = 2 * time.Second

// statusSnapshot is everything status prints, gathered at one moment.
type statusSnapshot struct {
	st *pb.StatusReply
	m  *clustermap.Map
	// usage is the OSDs' store usage; nil when unknown, with usageErr.
	usage    *usageJSON
	usageErr error
	// progress: recovery so far, when recovery is under way.
	progress *recoveryProgress
}

type usageJSON struct {
	Used  uint64 `json:"bytes_used"`
	Avail uint64 `json:"bytes_avail"`
	Total uint64 `json:"bytes_total"`
}

// recoveryProgress sums, over the PGs that still have bytes to recover,
// what their primaries copied (since they took the PG) and what is left.
// known is false when the PG reports could not be read. pgs holds each
// such PG's figures, for a watch (progressTracker).
type recoveryProgress struct {
	recovered, left uint64
	known           bool
	pgs             map[string]pgRecovery
	// grew, set by a watch's tracker: more to recover than the last
	// snapshot said (new degraded objects, a new interval), so the share
	// done may drop.
	grew uint64
}

// pgRecovery is one PG's recovery: bytes copied, bytes left.
type pgRecovery struct{ recovered, left uint64 }

// progressTracker keeps a watch's progress from one snapshot to the
// next. A PG that finished recovering leaves the reports' sums, which
// made the figures jump (61% of 1.5 GiB, then 69% with less copied of
// 1.1 GiB); the tracker counts it as wholly copied instead. A PG's
// figures never go down (its copied counter restarts when its primary
// changes): both totals only grow, and when the whole grows the line
// says so.
type progressTracker struct {
	pgs   map[string]pgRecovery // done, total (in left's place)
	total uint64
}

// update folds a snapshot into the watch's progress and returns the
// progress to print.
func (t *progressTracker) update(p *recoveryProgress) *recoveryProgress {
	if p == nil || !p.known {
		return p
	}
	if t.pgs == nil {
		t.pgs = map[string]pgRecovery{}
	}
	for id, old := range t.pgs {
		if _, still := p.pgs[id]; !still {
			t.pgs[id] = pgRecovery{recovered: old.left, left: old.left} // finished
		}
	}
	for id, cur := range p.pgs {
		old := t.pgs[id]
		done := max(old.recovered, cur.recovered)
		t.pgs[id] = pgRecovery{recovered: done, left: max(old.left, done+cur.left)}
	}
	out := &recoveryProgress{known: true, pgs: p.pgs}
	var total uint64
	for _, r := range t.pgs {
		out.recovered += r.recovered
		total += r.left
	}
	out.left = total - out.recovered
	if t.total > 0 && total > t.total {
		out.grew = total - t.total
	}
	t.total = total
	return out
}

// gatherStatus asks the monitors for status and the map, the OSDs for
// their usage (at most usageWait), and, while recovery runs, the
// monitors for the PG reports it needs for the progress.
func gatherStatus(ctx context.Context, e *env) (*statusSnapshot, error) {
	c, err := e.conn(ctx)
	if err != nil {
		return nil, err
	}
	s := &statusSnapshot{}
	var wg sync.WaitGroup
	wg.Go(func() {
		uctx, cancel := context.WithTimeout(ctx, usageWait)
		defer cancel()
		cs, err := c.ClusterStats(uctx)
		if err != nil {
			if uctx.Err() != nil && ctx.Err() == nil {
				err = fmt.Errorf("not every up OSD answered within %v (radosctl df says which)", usageWait)
			}
			s.usageErr = err
			return
		}
		u := &usageJSON{}
		for _, o := range cs.OSDs {
			u.Used += o.Used
			u.Avail += o.Avail
		}
		u.Total = u.Used + u.Avail
		s.usage = u
	})
	err = func() error {
		var err error
		if s.st, err = c.Status(ctx); err != nil {
			return err
		}
		if s.m, err = c.Map(ctx); err != nil {
			return err
		}
		if sum := s.st.GetPgs(); sum.GetRecoveryBytesLeft() > 0 {
			s.progress = recoveryFrom(ctx, c)
		}
		return nil
	}()
	wg.Wait()
	if err != nil {
		return nil, err
	}
	return s, nil
}

// recoveryFrom reads the PG reports and sums the recovery of the PGs
// still recovering.
func recoveryFrom(ctx context.Context, c *rados.Conn) *recoveryProgress {
	p := &recoveryProgress{}
	dump, err := c.PGDump(ctx, 0)
	if err != nil {
		return p
	}
	p.pgs = map[string]pgRecovery{}
	for _, pg := range dump.GetPgs() {
		if left := pg.GetRecoveryBytesLeft(); left > 0 {
			p.left += left
			p.recovered += pg.GetRecoveredBytes()
			p.pgs[fmt.Sprintf("%d.%x", pg.GetPool(), pg.GetSeed())] = pgRecovery{pg.GetRecoveredBytes(), left}
		}
	}
	p.known = p.left > 0
	return p
}

// statusJSON is the -o json form of status.
type statusJSON struct {
	FSID   string      `json:"fsid"`
	Epoch  uint64      `json:"epoch"`
	Health string      `json:"health"`
	Checks []checkJSON `json:"checks"`
	Leader string      `json:"leader"`
	Mons   []monJSON   `json:"mons"`
	OSDs   struct {
		Total int `json:"total"`
		Up    int `json:"up"`
		In    int `json:"in"`
		// UpSince is when the newest of the up OSDs came up (RFC 3339;
		// empty when unknown).
		UpSince string `json:"up_since,omitempty"`
		// Restarts are the OSDs that came up again within the last 10
		// minutes.
		Restarts []restartJSON `json:"restarts,omitzero"`
	} `json:"osds"`
	Pools struct {
		Count int    `json:"count"`
		PGs   uint64 `json:"pgs"`
	} `json:"pools"`
	// PGs is the monitors' summary of the PG reports (null from a
	// monitor that sends none); Usage the OSDs' store usage (null when
	// not every up OSD answered in time).
	PGs   *pgSummaryJSON `json:"pgs"`
	Usage *usageJSON     `json:"usage"`
}

// restartJSON is an OSD that went down and came up again lately.
type restartJSON struct {
	OSD     int32  `json:"osd"`
	Down    string `json:"down"`
	Up      string `json:"up"`
	UpEpoch uint64 `json:"up_epoch"`
	Why     string `json:"why,omitempty"`
}

// recentWindow is how far back status lists OSD restarts.
const recentWindow = 10 * time.Minute

// recentRestarts lists the up OSDs that were down before and came up
// within recentWindow before now, oldest first.
func recentRestarts(m *clustermap.Map, now time.Time) []restartJSON {
	var out []restartJSON
	for _, id := range m.OSDIDs() {
		o := m.OSDs[id]
		if !o.Up || o.UpStamp.IsZero() || o.DownStamp.IsZero() || o.DownStamp.After(o.UpStamp) ||
			now.Sub(o.UpStamp) > recentWindow {
			continue
		}
		out = append(out, restartJSON{OSD: id, Down: o.DownStamp.UTC().Format(time.RFC3339Nano),
			Up: o.UpStamp.UTC().Format(time.RFC3339Nano), UpEpoch: o.UpFrom, Why: o.DownReason})
	}
	slices.SortFunc(out, func(a, b restartJSON) int { return strings.Compare(a.Up, b.Up) })
	return out
}

// printStatus writes a snapshot in Ceph's layout, or as JSON.
func printStatus(w io.Writer, js bool, s *statusSnapshot) error {
	st, m := s.st, s.m
	var up, in int
	var upSince time.Time
	for _, o := range m.OSDs {
		if o.Up {
			up++
			if o.UpStamp.After(upSince) {
				upSince = o.UpStamp
			}
		}
		if o.In() {
			in++
		}
	}
	now := time.Now()
	restarts := recentRestarts(m, now)
	var pgs uint64
	for _, p := range m.Pools {
		pgs += uint64(p.PGNum)
	}
	if js {
		out := statusJSON{FSID: st.GetFsid(), Epoch: m.Epoch, Health: st.GetHealth(), Checks: checksJSON(st),
			Leader: st.GetLeader(), Mons: monsJSON(st), PGs: summaryJSON(st.GetPgs()), Usage: s.usage}
		out.OSDs.Total, out.OSDs.Up, out.OSDs.In = len(m.OSDs), up, in
		if !upSince.IsZero() {
			out.OSDs.UpSince = upSince.UTC().Format(time.RFC3339Nano)
		}
		out.OSDs.Restarts = restarts
		out.Pools.Count, out.Pools.PGs = len(m.Pools), pgs
		return encodeJSON(w, out)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "  cluster:\n    id:     %s\n    health: %s\n", st.GetFsid(), st.GetHealth())
	for _, c := range st.GetChecks() {
		fmt.Fprintf(&b, "            %s\n", c.GetSummary())
	}
	fmt.Fprintf(&b, "\n  services:\n    mon: %d daemons: %s\n", len(st.GetMons()), monSummary(st))
	since := ""
	if !upSince.IsZero() {
		since = fmt.Sprintf(" (since %s)", ago(now.Sub(upSince)))
	}
	fmt.Fprintf(&b, "    osd: %d osds: %d up%s, %d in; epoch e%d\n", len(m.OSDs), up, since, in, m.Epoch)
	for _, r := range restarts {
		o := m.OSDs[r.OSD]
		fmt.Fprintf(&b, "         osd.%d restarted %s ago (down %s, up in epoch %d)", r.OSD, ago(now.Sub(o.UpStamp)),
			o.UpStamp.Sub(o.DownStamp).Round(time.Millisecond), r.UpEpoch)
		if r.Why != "" {
			fmt.Fprintf(&b, ": %s", r.Why)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "\n  data:\n    pools:   %d pools, %d pgs\n", len(m.Pools), pgs)
	sum := st.GetPgs()
	if sum != nil {
		fmt.Fprintf(&b, "    objects: %d objects, %s\n", sum.GetObjects(), humanBytes(sum.GetBytes()))
	}
	switch {
	case s.usage != nil:
		fmt.Fprintf(&b, "    usage:   %s used, %s / %s avail\n", humanBytes(s.usage.Used), humanBytes(s.usage.Avail), humanBytes(s.usage.Total))
	case s.usageErr != nil:
		fmt.Fprintf(&b, "    usage:   unknown: %v\n", s.usageErr)
	}
	if lines := pgLines(sum); len(lines) > 0 {
		fmt.Fprintf(&b, "    pgs:     %s\n", lines[0])
		for _, l := range lines[1:] {
			fmt.Fprintf(&b, "             %s\n", l)
		}
	}
	if recovering(sum) {
		left := sum.GetRecoveryBytesLeft()
		fmt.Fprintf(&b, "\n  io:\n    recovery: %s", rate(sum))
		if left > 0 {
			fmt.Fprintf(&b, "; %s left, ETA %s", humanBytes(left), eta(left, sum.GetRecoveryBytesPerSec()))
		}
		b.WriteString("\n")
		if left > 0 {
			fmt.Fprintf(&b, "\n  progress:\n    recovery: %s\n", progressLine(s.progress, left))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// pgLines are the lines of status's pgs: the share of PGs not active,
// degraded, misplaced and unfound objects, then the count of PGs in each
// state, most first, counts right-aligned.
func pgLines(sum *pb.PGSummary) []string {
	if sum.GetPgs() == 0 {
		return nil
	}
	var lines []string
	counts := stateCounts(sum)
	var inactive uint32
	for _, sc := range counts {
		if !stateHas(sc.state, "active") {
			inactive += sc.n
		}
	}
	if inactive > 0 {
		lines = append(lines, fmt.Sprintf("%.3f%% pgs not active", float64(inactive)*100/float64(sum.GetPgs())))
	}
	lines = append(lines, objectProblems(sum)...)
	width := 0
	for _, sc := range counts {
		width = max(width, len(fmt.Sprint(sc.n)))
	}
	for _, sc := range counts {
		lines = append(lines, fmt.Sprintf("%*d %s", width, sc.n, sc.state))
	}
	return lines
}

// stateHas reports whether a "+"-joined PG state has the word w.
func stateHas(state, w string) bool {
	for s := range strings.SplitSeq(state, "+") {
		if s == w {
			return true
		}
	}
	return false
}

// eta is how long left bytes take at rate bytes per second.
func eta(left uint64, rate float64) string {
	if rate <= 0 {
		return "unknown"
	}
	d := time.Duration(float64(left) / rate * float64(time.Second))
	return max(d.Round(time.Second), time.Second).String()
}

// progressLine is a bar of the recovery done, when the total is known:
// "[=========>                    ] 30% (1.2 GiB of 4.0 GiB copied)".
func progressLine(p *recoveryProgress, left uint64) string {
	if p == nil || !p.known {
		return fmt.Sprintf("%s left (how much is already copied is unknown)", humanBytes(left))
	}
	total := p.recovered + p.left
	pct := int(p.recovered * 100 / total)
	line := fmt.Sprintf("%s %d%% (%s of %s copied)", progressBar(pct, 30), pct, humanBytes(p.recovered), humanBytes(total))
	if p.grew > 0 {
		line += fmt.Sprintf("; %s more to recover than before", humanBytes(p.grew))
	}
	return line
}

// progressBar draws pct (0 to 100) in a bar of width cells.
func progressBar(pct, width int) string {
	pct = min(max(pct, 0), 100)
	filled := pct * width / 100
	var b strings.Builder
	b.WriteByte('[')
	switch {
	case filled == width:
		b.WriteString(strings.Repeat("=", width))
	case filled > 0:
		b.WriteString(strings.Repeat("=", filled-1) + ">" + strings.Repeat(" ", width-filled))
	default:
		b.WriteString(strings.Repeat(" ", width))
	}
	b.WriteByte(']')
	return b.String()
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// clearScreen moves the cursor home and clears a terminal.
const clearScreen = "\x1b[H\x1b[2J"

// watchStatus prints the status every interval until ctx ends, and then
// returns nil. On a terminal it redraws the screen; elsewhere it prints
// the snapshots one after the other, separated by a blank line. A
// failure of the first snapshot is returned; later ones are printed in
// place of the snapshot and the watch goes on.
func watchStatus(ctx context.Context, e *env, interval time.Duration) error {
	tty := isTerminal(e.stdout)
	var track progressTracker
	for n := 0; ; n++ {
		sctx, cancel := context.WithTimeout(ctx, e.timeout)
		s, err := gatherStatus(sctx, e)
		cancel()
		if err == nil {
			s.progress = track.update(s.progress)
		}
		if ctx.Err() != nil {
			return nil
		}
		var b bytes.Buffer
		switch {
		case tty:
			fmt.Fprintf(&b, "%severy %v: radosctl status, %s (Ctrl-C to stop)\n\n", clearScreen, interval, time.Now().Format(time.TimeOnly))
		case n > 0:
			b.WriteString("\n")
		}
		if err != nil {
			if n == 0 {
				return err
			}
			fmt.Fprintf(&b, "status failed at %s: %v\n", time.Now().Format(time.TimeOnly), err)
		} else if err := printStatus(&b, e.json, s); err != nil {
			return err
		}
		if _, err := e.stdout.Write(b.Bytes()); err != nil {
			return err
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// ago prints a duration as status does: 4s, 3m, 2h.
func ago(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	}
	return fmt.Sprintf("%dh", int(d.Hours()))
}
