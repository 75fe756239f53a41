package mon

import (
	"fmt"
	"strings"

	"github.com/loligo/loligo/clustermap"
	pb "github.com/loligo/loligo/proto/loligopb"
)

// inactiveKinds are the states that say why a PG is not active, in the
// order the PG_INACTIVE summary counts them.
var inactiveKinds = []string{stateUnknown, "down", "peering", "incomplete", "stale"}

// pgs prints a count of PGs as Ceph does: "1 pg", "3 pgs".
func pgs(n int) string {
	if n == 1 {
		return "1 pg"
	}
	return fmt.Sprintf("%d pgs", n)
}

// percent prints part of whole as Ceph does (4.000%), or nothing for an
// empty whole.
func percent(part, whole uint64) string {
	if whole == 0 {
		return ""
	}
	return fmt.Sprintf(" (%.3f%%)", float64(part)*100/float64(whole))
}

// pgChecks adds the checks made from the PGs' reports (dump, as
// buildDump makes it from m). PG_DEGRADED also counts the PGs that m
// alone shows undersized (mapUndersized, described per pool by
// poolUndersized), so it appears even before any OSD reports. It is pure.
func pgChecks(m *clustermap.Map, dump []*pb.PGStatEntry, mapUndersized map[clustermap.PGID]bool, poolUndersized []string,
	add func(code, sev, summary, hint string, detail []string)) {
	var (
		inactive, stale, degraded, unfound, scrub, inconsistent []string
		scrubFailed, tooFull                                    []string
		kinds                                                   = map[string]int{}
		objects, copies, degradedObjs, unfoundObjs, scrubErrs   uint64
		nDegraded                                               int
		undersized                                              = map[clustermap.PGID]bool{}
	)
	for pg := range mapUndersized {
		undersized[pg] = true
	}
	for _, e := range dump {
		pg, state := pgIDOf(e), e.GetState()
		where := fmt.Sprintf("pg %s is %s, acting %s", pg, state, clustermap.FormatOSDs(e.GetActing()))
		if !stateHas(state, "active") {
			line := where
			if b := e.GetBlockedBy(); b != "" {
				line += ": " + b
			}
			inactive = append(inactive, line)
			for _, k := range inactiveKinds {
				if stateHas(state, k) {
					kinds[k]++
				}
			}
		}
		if stateHas(state, "stale") {
			line := where
			if e.GetReporter() >= 0 {
				line += fmt.Sprintf(", last reported by osd.%d", e.GetReporter())
			}
			stale = append(stale, line)
		}
		isDegraded := stateHas(state, "degraded") || e.GetDegradedObjects() > 0
		isUndersized := stateHas(state, "undersized")
		if isDegraded {
			nDegraded++
		}
		if isUndersized {
			undersized[pg] = true
		}
		if isDegraded || isUndersized {
			degraded = append(degraded, where)
		}
		objects += e.GetObjects()
		if p, ok := m.Pools[e.GetPool()]; ok {
			copies += e.GetObjects() * uint64(p.Size)
		}
		degradedObjs += e.GetDegradedObjects()
		if n := e.GetUnfoundObjects(); n > 0 {
			unfoundObjs += n
			unfound = append(unfound, fmt.Sprintf("pg %s has %d unfound objects, acting %s", pg, n, clustermap.FormatOSDs(e.GetActing())))
		}
		if n := e.GetScrubErrors(); n > 0 {
			scrubErrs += n
			scrub = append(scrub, fmt.Sprintf("pg %s has %d scrub errors", pg, n))
		}
		if stateHas(state, "inconsistent") {
			inconsistent = append(inconsistent, where)
		}
		if stateHas(state, "backfill_toofull") {
			tooFull = append(tooFull, where)
		}
		if f := e.GetScrubFailed(); f != "" {
			scrubFailed = append(scrubFailed, fmt.Sprintf("pg %s: %s", pg, f))
		}
	}

	if len(inactive) > 0 {
		parts := []string{pgs(len(inactive)) + " inactive"}
		for _, k := range inactiveKinds {
			if n := kinds[k]; n > 0 {
				parts = append(parts, pgs(n)+" "+k)
			}
		}
		add("PG_INACTIVE", HealthWarn, "Reduced data availability: "+strings.Join(parts, ", "),
			"these PGs serve no reads or writes: start the OSDs that hold their data (the acting sets above, and OSDs that held them before); 'radosctl pg query PGID' shows what blocks a PG",
			inactive)
	}
	if nDegraded > 0 || degradedObjs > 0 || len(undersized) > 0 {
		var parts []string
		if degradedObjs > 0 {
			parts = append(parts, fmt.Sprintf("%d/%d objects degraded%s", degradedObjs, copies, percent(degradedObjs, copies)))
		}
		if nDegraded > 0 {
			parts = append(parts, pgs(nDegraded)+" degraded")
		}
		if len(undersized) > 0 {
			parts = append(parts, pgs(len(undersized))+" undersized")
		}
		add("PG_DEGRADED", HealthWarn, "Degraded data redundancy: "+strings.Join(parts, ", "),
			"bring the down OSDs back up or add OSDs; the data has fewer copies than the pool's size until recovery completes",
			append(poolUndersized[:len(poolUndersized):len(poolUndersized)], degraded...))
	}
	if len(stale) > 0 {
		add("PG_STALE", HealthWarn, pgs(len(stale))+" stale",
			"no recent report from these PGs' primaries: the OSD that reported them last is down or cannot reach the monitors; start it or check its network",
			stale)
	}
	if unfoundObjs > 0 {
		add("OBJECT_UNFOUND", HealthWarn, fmt.Sprintf("%d/%d objects unfound%s", unfoundObjs, objects, percent(unfoundObjs, objects)),
			"no reachable OSD holds the newest version of these objects: start the down OSDs that may hold them; 'radosctl pg query PGID' lists the OSDs the PG waits for",
			unfound)
	}
	if scrubErrs > 0 {
		add("SCRUB_ERRORS", HealthErr, fmt.Sprintf("%d scrub errors", scrubErrs),
			"scrub found copies that differ; see PG_INCONSISTENT for the PGs, then 'radosctl pg repair PGID'",
			scrub)
	}
	if len(tooFull) > 0 {
		add("PG_BACKFILL_FULL", HealthWarn, "Low space hindering backfill: "+pgs(len(tooFull))+" backfill_toofull",
			"their backfill targets are past the backfillfull ratio: free space or add OSDs (see OSD_BACKFILLFULL); backfill resumes on its own",
			tooFull)
	}
	if len(scrubFailed) > 0 {
		add("PG_SCRUB_FAILED", HealthWarn, pgs(len(scrubFailed))+" could not finish their last scrub",
			"these PGs' copies were not all compared, so damage may go unseen: the lines say what failed (an OSD that cannot read its store is marked down and its data rebuilt elsewhere); scrub again with 'radosctl pg deep-scrub PGID --wait' once it is fixed",
			scrubFailed)
	}
	if len(inconsistent) > 0 {
		add("PG_INCONSISTENT", HealthErr, "Possible data damage: "+pgs(len(inconsistent))+" inconsistent",
			"radosctl pg list-inconsistent PGID shows the objects; radosctl pg repair PGID repairs them from the authoritative copy",
			inconsistent)
	}
}
