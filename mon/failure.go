package mon

import (
	"fmt"
	"slices"
	"time"

	"github.com/loligo/loligo/clustermap"
)

// detector decides which OSDs to mark down and out. It is pure: the
// leader feeds it beacons, peer reports and the current map with the
// time, and applies its decisions as a new epoch. Its memory (when each
// OSD last sent a beacon, who reported whom) lives only on the leader; a
// new leader starts with every up OSD fresh, so a leader change never
// marks an OSD down early. Down stamps live in the map, so the out timer
// survives leader changes.
type detector struct {
	grace        time.Duration // beacon silence that marks an OSD down
	downOut      time.Duration // time down before an OSD is marked out
	minReporters int           // distinct live peers whose reports mark it down

	beacons map[int32]time.Time
	reports map[int32]map[int32]time.Time // target -> reporter -> last report
	// why says, for each OSD the last check marked down, why.
	why map[int32]string
	// space is each OSD's file system as its last beacon reported it.
	space map[int32]fsSpace
}

// fsSpace is an OSD file system's size and free bytes.
type fsSpace struct{ total, avail uint64 }

// reportSpace records the file system an OSD's beacon reported.
func (d *detector) reportSpace(id int32, total, avail uint64) {
	if total == 0 {
		return
	}
	d.space[id] = fsSpace{total, min(avail, total)}
}

// fullness returns the OSDs whose fullness, judged from their last
// reports against m's ratios, differs from what m records. Only up
// OSDs are judged; a down one keeps its last state until it reports.
func (d *detector) fullness(m *clustermap.Map) map[int32]clustermap.Fullness {
	var out map[int32]clustermap.Fullness
	for id, sp := range d.space {
		o, ok := m.OSDs[id]
		if !ok {
			delete(d.space, id)
			continue
		}
		if !o.Up {
			continue
		}
		if f := m.Ratios.Judge(sp.total-sp.avail, sp.total); f != o.Fullness {
			if out == nil {
				out = map[int32]clustermap.Fullness{}
			}
			out[id] = f
		}
	}
	return out
}

func newDetector(grace, downOut time.Duration, minReporters int) *detector {
	return &detector{grace: grace, downOut: downOut, minReporters: minReporters,
		beacons: map[int32]time.Time{}, reports: map[int32]map[int32]time.Time{}, why: map[int32]string{},
		space: map[int32]fsSpace{}}
}

// beacon records that OSD id was alive at now (a beacon or a boot).
func (d *detector) beacon(id int32, now time.Time) {
	if now.After(d.beacons[id]) {
		d.beacons[id] = now
	}
	// Beacons do not cancel peer reports: an OSD its peers cannot reach
	// is of no use to them even if the monitor hears it (a partition).
	// It is marked down, sees that, and boots again; reports expire
	// after the grace period.
}

// booted records that OSD id booted at now: reports against it from
// before are about its previous life and are dropped.
func (d *detector) booted(id int32, now time.Time) {
	delete(d.reports, id)
	d.beacon(id, now)
}

// report records (failed) or cancels (!failed) reporter's claim that
// target is unreachable.
func (d *detector) report(target, reporter int32, failed bool, now time.Time) {
	if target == reporter {
		return
	}
	if !failed {
		delete(d.reports[target], reporter)
		return
	}
	if d.reports[target] == nil {
		d.reports[target] = map[int32]time.Time{}
	}
	d.reports[target][reporter] = now
}

// check returns the OSDs to mark down and the OSDs to mark out at now,
// each ascending. An up OSD is marked down when it sent nothing for the
// grace period, or when minReporters distinct up peers reported it within
// the grace period (unless the nodown flag is set). A down OSD that is in
// is marked out once it has been down for downOut (unless noout is set,
// or downOut is negative). OSDs the detector has never heard of get the
// benefit of the doubt: they count as heard from now.
func (d *detector) check(m *clustermap.Map, now time.Time) (down, out []int32) {
	clear(d.why)
	for id, o := range m.OSDs {
		if !o.Up {
			delete(d.beacons, id)
			delete(d.reports, id)
			if o.In() && d.downOut >= 0 && m.Flags&clustermap.FlagNoOut == 0 &&
				!o.DownStamp.IsZero() && now.Sub(o.DownStamp) >= d.downOut {
				out = append(out, id)
			}
			continue
		}
		last, ok := d.beacons[id]
		if !ok {
			d.beacons[id] = now
			continue
		}
		if m.Flags&clustermap.FlagNoDown != 0 {
			continue
		}
		if now.Sub(last) > d.grace {
			down = append(down, id)
			d.why[id] = fmt.Sprintf("no beacon for %s (the grace is %s)", now.Sub(last).Round(time.Second), d.grace)
			continue
		}
		var live []int32
		for r, at := range d.reports[id] {
			if now.Sub(at) > d.grace || !m.IsUp(r) {
				delete(d.reports[id], r)
				continue
			}
			live = append(live, r)
		}
		if len(live) >= d.minReporters {
			down = append(down, id)
			slices.Sort(live)
			d.why[id] = "its peers cannot reach it (reported by " + clustermap.FormatOSDs(live) + ")"
		}
	}
	// Forget OSDs that no longer exist.
	for id := range d.beacons {
		if _, ok := m.OSDs[id]; !ok {
			delete(d.beacons, id)
		}
	}
	slices.Sort(down)
	slices.Sort(out)
	return down, out
}
