package mon

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/loligo/loligo/clustermap"
	pb "github.com/loligo/loligo/proto/loligopb"
)

// Health severities, as Ceph names them.
const (
	HealthOK   = "HEALTH_OK"
	HealthWarn = "HEALTH_WARN"
	HealthErr  = "HEALTH_ERR"
)

// monState is one monitor as health sees it.
type monState struct {
	name, addr string
	alive      bool
}

// maxDetail bounds the detail lines of one check; the summary still
// counts everything.
const maxDetail = 50

// computeHealth evaluates the named checks on a map, the monitors'
// liveness and the PGs as their primaries report them (dump, made from m
// by buildDump; nil: no PG checks from reports). It is pure. Checks come
// out in a fixed order (severity, then code), each with a hint saying
// what to do.
func computeHealth(m *clustermap.Map, mons []monState, dump *pb.PGDumpReply) (string, []*pb.HealthCheck) {
	var checks []*pb.HealthCheck
	add := func(code, sev, summary, hint string, detail []string) {
		if len(detail) > maxDetail {
			rest := len(detail) - maxDetail
			detail = append(detail[:maxDetail:maxDetail], fmt.Sprintf("... and %d more", rest))
		}
		checks = append(checks, &pb.HealthCheck{Code: code, Severity: sev, Summary: summary, Detail: detail, Hint: hint})
	}

	var monsDown, monsUp []string
	for _, s := range mons {
		if s.alive {
			monsUp = append(monsUp, s.name)
		} else {
			monsDown = append(monsDown, fmt.Sprintf("mon.%s (%s) is down", s.name, s.addr))
		}
	}
	if len(monsDown) > 0 {
		sev := HealthWarn
		if len(monsUp) <= len(mons)/2 {
			sev = HealthErr
		}
		add("MON_DOWN", sev, fmt.Sprintf("%d/%d mons down, alive: %s", len(monsDown), len(mons), strings.Join(monsUp, ",")),
			"start the monitor again (loligo mon --dir DIR) or check its host; with half of the monitors or more down the cluster cannot change",
			monsDown)
	}

	var osdsDown, downIDs []string
	var full [4][]string            // by fullness: the OSDs past each ratio
	hostOSDs := map[string][2]int{} // host -> [osds, down]
	for _, id := range m.OSDIDs() {
		o := m.OSDs[id]
		host := osdHost(m, id)
		h := hostOSDs[host]
		h[0]++
		if !o.Up && o.In() {
			h[1]++
			line := fmt.Sprintf("osd.%d (host %s) is down", id, host)
			if !o.DownStamp.IsZero() {
				line += " since " + o.DownStamp.UTC().Format(time.RFC3339)
			}
			if o.DownReason != "" {
				line += ": " + o.DownReason
			}
			osdsDown = append(osdsDown, line)
			downIDs = append(downIDs, fmt.Sprint(id))
		} else if !o.Up {
			h[1]++
		}
		hostOSDs[host] = h
		if o.Fullness > clustermap.FullnessOK && o.In() {
			full[o.Fullness] = append(full[o.Fullness], fmt.Sprintf("osd.%d (host %s) is %s", id, host, o.Fullness))
		}
	}
	if len(osdsDown) > 0 {
		hint := fmt.Sprintf("start each OSD again on its host (loligo osd --id %s --data DIR) or check its disk; if one is gone for good, 'radosctl osd out ID' and later 'radosctl osd rm ID'",
			strings.Join(downIDs, "|"))
		add("OSD_DOWN", HealthWarn, fmt.Sprintf("%d osds down", len(osdsDown)), hint, osdsDown)
	}
	r := m.Ratios.Effective()
	if n := full[clustermap.FullnessFull]; len(n) > 0 {
		add("OSD_FULL", HealthErr, fmt.Sprintf("%d full osd(s)", len(n)),
			fmt.Sprintf("their PGs refuse writes that add data (deletes still work): delete objects, add OSDs, or raise the ratio for a while ('radosctl osd set-full-ratio %.2f', now %.2f)", min(r.Full+0.02, 0.99), r.Full),
			n)
	}
	if n := full[clustermap.FullnessBackfill]; len(n) > 0 {
		add("OSD_BACKFILLFULL", HealthWarn, fmt.Sprintf("%d backfillfull osd(s)", len(n)),
			fmt.Sprintf("past the backfillfull ratio %.2f no data is moved to them: free space or add OSDs before they fill up", r.BackfillFull),
			n)
	}
	if n := full[clustermap.FullnessNear]; len(n) > 0 {
		add("OSD_NEARFULL", HealthWarn, fmt.Sprintf("%d nearfull osd(s)", len(n)),
			fmt.Sprintf("past the nearfull ratio %.2f: add OSDs or free space; at %.2f they stop taking writes", r.NearFull, r.Full),
			n)
	}
	var hostsDown []string
	for _, host := range slices.Sorted(maps.Keys(hostOSDs)) {
		h := hostOSDs[host]
		if host != "" && h[0] > 0 && h[0] == h[1] {
			hostsDown = append(hostsDown, fmt.Sprintf("host %s (%d osds) is down", host, h[0]))
		}
	}
	if len(hostsDown) > 0 {
		add("OSD_HOST_DOWN", HealthWarn, fmt.Sprintf("%d hosts down", len(hostsDown)),
			"check the host's power and network; every OSD on it is down", hostsDown)
	}
	if names := m.Flags.Names(); len(names) > 0 {
		add("OSDMAP_FLAGS", HealthWarn, strings.Join(names, ",")+" flag(s) set",
			"unset each flag with 'radosctl osd unset FLAG' when the maintenance it was set for is over", nil)
	}

	var noRed, tooFew, poolsFull []string
	var inactive, undersized []string
	nInactive := 0
	// PGs the map alone shows undersized: PG_DEGRADED counts them with
	// those the reports say are.
	mapUndersized := map[clustermap.PGID]bool{}
	live := 0
	for _, o := range m.OSDs {
		if o.Up && o.In() {
			live++
		}
	}
	for _, id := range m.PoolIDs() {
		p := m.Pools[id]
		if p.Type == clustermap.PoolReplicated && p.Size == 1 {
			noRed = append(noRed, fmt.Sprintf("pool '%s' has size 1: losing one OSD loses its data", p.Name))
		}
		if int(p.Size) > live {
			tooFew = append(tooFew, fmt.Sprintf("pool '%s' has size %d but only %d OSDs are up and in", p.Name, p.Size, live))
		}
		pi, pu, pf := 0, 0, 0
		for s := uint32(0); s < p.PGNum; s++ {
			pl, err := m.Place(clustermap.PGID{Pool: id, Seed: s})
			if err != nil {
				continue
			}
			n, isFull := 0, false
			for _, o := range pl.Acting {
				if o != clustermap.NoOSD && m.IsUp(o) {
					n++
				}
				if st, ok := m.OSDs[o]; ok && st.Fullness == clustermap.FullnessFull {
					isFull = true
				}
			}
			if isFull {
				pf++
			}
			switch {
			case n < int(p.MinSize):
				pi++
			case n < int(p.Size):
				pu++
				mapUndersized[pl.PG] = true
			}
		}
		if pf > 0 {
			poolsFull = append(poolsFull, fmt.Sprintf("pool '%s': %d of %d pgs are on a full OSD and refuse writes", p.Name, pf, p.PGNum))
		}
		if pi > 0 {
			inactive = append(inactive, fmt.Sprintf("pool '%s': %d of %d pgs have fewer than min_size (%d) OSDs up", p.Name, pi, p.PGNum, p.MinSize))
		}
		if pu > 0 {
			undersized = append(undersized, fmt.Sprintf("pool '%s': %d of %d pgs have fewer than size (%d) OSDs up", p.Name, pu, p.PGNum, p.Size))
		}
		nInactive += pi
	}
	if nInactive > 0 {
		add("PG_AVAILABILITY", HealthErr, fmt.Sprintf("%d pgs have fewer than min_size OSDs up", nInactive),
			"bring the down OSDs back up, or add OSDs on enough hosts for CRUSH to place min_size copies; these PGs refuse reads and writes",
			inactive)
	}
	if len(poolsFull) > 0 {
		add("POOL_FULL", HealthWarn, fmt.Sprintf("%d pool(s) full", len(poolsFull)),
			"writes to these pools fail with 'no space' while deletes go through: delete objects or add OSDs (see OSD_FULL)", poolsFull)
	}
	pgChecks(m, dump.GetPgs(), mapUndersized, undersized, add)
	if len(noRed) > 0 {
		add("POOL_NO_REDUNDANCY", HealthWarn, fmt.Sprintf("%d pool(s) have no replicas configured", len(noRed)),
			"give each pool at least 2 copies: 'radosctl pool set POOL size 3'", noRed)
	}
	if len(tooFew) > 0 {
		add("TOO_FEW_OSDS", HealthWarn, fmt.Sprintf("%d pool(s) want more copies than there are OSDs up and in", len(tooFew)),
			"add OSDs ('loligo osd --create') or lower the pool's size", tooFew)
	}

	overall := HealthOK
	rank := map[string]int{HealthOK: 0, HealthWarn: 1, HealthErr: 2}
	for _, c := range checks {
		if rank[c.Severity] > rank[overall] {
			overall = c.Severity
		}
	}
	slices.SortStableFunc(checks, func(a, b *pb.HealthCheck) int {
		if d := rank[b.Severity] - rank[a.Severity]; d != 0 {
			return d
		}
		return strings.Compare(a.Code, b.Code)
	})
	return overall, checks
}

// osdHost is the name of the host bucket holding the OSD in CRUSH, or "".
func osdHost(m *clustermap.Map, id int32) string {
	host, ok := m.Crush.TypeID("host")
	if !ok {
		return ""
	}
	for _, b := range m.Crush.Buckets {
		if b == nil || b.Type != host || m.Crush.IsShadow(b.ID) {
			continue
		}
		if slices.Contains(b.Items, id) {
			return b.Name
		}
	}
	return ""
}
