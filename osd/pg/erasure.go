package pg

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/loligo/loligo/clustermap"
)

// decideErasure is Decide for an erasure-coded PG (Input.K > 0).
//
// Sets are positional: Up[i], Acting[i] and LastActive.Acting[i] are the
// OSD holding shard i, NoOSD a hole; positions never shift. Every copy
// holds one shard (PGInfo.shard) and the same log as the others; only the
// data differs, and any K distinct shards of an object at one version
// rebuild it. What changes from the replicated rules:
//
//   - The primary is the first OSD of Acting that is not a hole.
//   - The authority is the OLDEST candidate, not the newest (as Ceph's
//     find_best_info for pools that require rollback): see authority.
//   - A member is judged for a position: a copy holding another shard is
//     backfilled from scratch there. A member with entries the authority
//     lacks rolls them back from its rollback records (Member.Rollback)
//     when all of them are newer than its PGInfo.rollback_tail, else it is
//     backfilled: its data cannot be made the authority's from the log.
//   - The PG goes incomplete unless K distinct shards are complete (after
//     their rollback), and the acting set it asks for keeps K complete
//     shards in it, so that recovery can read every object from acting
//     and the next peering finds them in the last active interval.
//   - A member that must be backfilled leaves a hole (or the OSD that
//     still holds that shard, by pg_temp) at its position of acting.
func decideErasure(in Input) Plan {
	if firstOSD(in.Acting) != in.Self || in.Self == NoOSD {
		return Plan{Outcome: Stray}
	}
	probe, lastMembers := probeSet(in)
	if ask := unanswered(in, probe); len(ask) > 0 {
		return Plan{Outcome: Probe, Probe: ask}
	}
	e := &erasure{in: in, probe: probe, n: max(in.Size, len(in.Acting), len(in.Up))}
	if len(lastMembers) > 0 {
		e.last = in.LastActive.GetActing()
	}

	// 1. The candidates for the authority.
	auth, ok := e.authority()
	if !ok {
		return Plan{Outcome: Incomplete, Why: e.incompleteWhy(nil)}
	}
	a := in.Peers[auth]
	plan := Plan{Auth: auth, AuthInfo: a.Info, AuthLog: a.Log}

	// 2. Every probed copy against the authority, whatever its position.
	e.peers = map[int32]ecPeer{}
	for _, id := range probe {
		p := in.Peers[id]
		e.peers[id] = ecPeer{held: heldShard(p), blank: isBlank(p), m: rollbackRule(compare(id, p, a), p, a)}
	}

	// 3. Enough shards to read every object.
	sources := e.sources()
	if len(sources) < in.K {
		return Plan{Outcome: Incomplete, Why: e.incompleteWhy(sources)}
	}

	// 4. The acting set the PG wants, and the plan.
	wanted := e.wanted()
	acting, up := pad(in.Acting, e.n), pad(in.Up, e.n)
	if !slices.Equal(wanted, acting) {
		plan.Outcome = WantTemp
		if !slices.Equal(wanted, up) {
			plan.Temp = wanted
			var waits []string
			for i, id := range up {
				if id != NoOSD && wanted[i] != id {
					waits = append(waits, fmt.Sprintf("osd.%d backfills shard %d", id, i))
				}
			}
			plan.Why = fmt.Sprintf("acting %s should be %s", clustermap.FormatOSDs(acting), clustermap.FormatOSDs(wanted))
			if len(waits) > 0 {
				plan.Why += " while " + strings.Join(waits, ", ")
			}
		} else {
			plan.Why = fmt.Sprintf("up %s is complete: clear pg_temp %s", clustermap.FormatOSDs(up), clustermap.FormatOSDs(acting))
		}
		return plan
	}
	plan.Outcome = Activate
	for i, id := range acting {
		if id != NoOSD {
			plan.Acting = append(plan.Acting, e.member(id, i))
		}
	}
	var waits []int32
	for i, id := range up {
		// An up member holding another position of acting keeps serving
		// it: a copy holds one shard, so it moves once acting no longer
		// needs it there.
		if id != NoOSD && id != acting[i] && !slices.Contains(acting, id) {
			plan.Backfill = append(plan.Backfill, Member{OSD: id, Role: Backfill, Shard: int32(i)})
			waits = append(waits, id)
		}
	}
	// Recovery may run below min_size; clients are served only from
	// min_size shards on.
	plan.Serve = len(plan.Acting) >= in.MinSize && plan.Acting[0].Role != Backfill
	if !plan.Serve {
		plan.Why = fmt.Sprintf("only %d shards in acting %s, fewer than min_size %d: no client I/O until %v are backfilled",
			len(plan.Acting), clustermap.FormatOSDs(acting), in.MinSize, waits)
	}
	return plan
}

// erasure is the state of one erasure-coded decision.
type erasure struct {
	in    Input
	probe []int32
	last  []int32 // the last active interval's acting set (nil: none)
	n     int     // positions
	peers map[int32]ecPeer
}

// ecPeer is a probed copy against the authority.
type ecPeer struct {
	held  int32  // the shard its copy holds; -1: none
	blank bool   // holds no shard and no writes: it fits any position
	m     Member // compare, then rollbackRule; Shard unset
}

// fits says whether the copy is shard i's data (or empty).
func (p ecPeer) fits(i int) bool { return p.held == int32(i) || p.blank }

// usable: the copy can serve position i after its rollback and log
// recovery.
func (p ecPeer) usable(i int) bool { return p.m.Role != Backfill && p.fits(i) }

// heldShard is the shard a copy holds, -1 when none is assigned.
func heldShard(p Peer) int32 {
	if p.Exists && p.Info != nil && p.Info.Shard != nil {
		return *p.Info.Shard
	}
	return -1
}

// isBlank: a copy without a shard and without writes (an empty one, or
// none at all): it holds nothing any position would lose.
func isBlank(p Peer) bool {
	return heldShard(p) < 0 && EvCompare(p.Info.GetLastUpdate(), nil) == 0 && len(p.Log) == 0
}

// firstOSD is the first OSD of a positional set that is not a hole.
func firstOSD(s []int32) int32 {
	for _, id := range s {
		if id != NoOSD {
			return id
		}
	}
	return NoOSD
}

func at(s []int32, i int) int32 {
	if i >= 0 && i < len(s) {
		return s[i]
	}
	return NoOSD
}

func pad(s []int32, n int) []int32 {
	out := slices.Clone(s)
	for len(out) < n {
		out = append(out, NoOSD)
	}
	return out
}

// position is where a member is planned: its index in Acting, else in
// Up, else in the last active interval; -1 when none.
func (e *erasure) position(id int32) int {
	for _, s := range [][]int32{e.in.Acting, e.in.Up, e.last} {
		if i := slices.Index(s, id); i >= 0 {
			return i
		}
	}
	return -1
}

// authority picks the authoritative copy.
//
// Candidates: the members of the last active interval that answered, hold
// a copy that is not incomplete and hold their position's shard (or are
// empty); for a PG never active, every such copy whose shard is its
// position in acting or up (or that is empty), and failing those any
// empty copy.
//
// Among them the OLDEST last_update wins (then the longer log, Self, the
// lower id), not the newest as for replicated pools. Every acknowledged
// write is on every complete member of the last active interval (a write
// is acknowledged only once every acting member applied it), so the
// oldest candidate still holds them all. Entries only newer candidates
// hold were never acknowledged, and may be on fewer than K shards: the
// object could not be rebuilt at that version, so they are rolled back to
// the older version every shard still has. This is Ceph's choice for
// pools that require rollback (PeeringState::find_best_info).
func (e *erasure) authority() (int32, bool) {
	in := e.in
	ok := func(id int32) bool {
		p, answered := in.Peers[id]
		return answered && p.Exists && !p.Info.GetIncomplete()
	}
	var candidates []int32
	if e.last != nil {
		for i, id := range e.last {
			if id != NoOSD && ok(id) && (heldShard(in.Peers[id]) == int32(i) || isBlank(in.Peers[id])) {
				candidates = append(candidates, id)
			}
		}
	} else {
		for _, id := range e.probe {
			p := in.Peers[id]
			s := heldShard(p)
			if ok(id) && (isBlank(p) || s >= 0 && (int(s) == slices.Index(in.Acting, id) || int(s) == slices.Index(in.Up, id))) {
				candidates = append(candidates, id)
			}
		}
		if len(candidates) == 0 {
			for _, id := range e.probe {
				if isBlank(in.Peers[id]) {
					candidates = append(candidates, id)
				}
			}
		}
	}
	if len(candidates) == 0 {
		return 0, false
	}
	auth := candidates[0]
	for _, id := range candidates[1:] {
		if olderAuthority(in, id, auth) {
			auth = id
		}
	}
	return auth, true
}

// olderAuthority says whether peer x is a better erasure authority than
// y: older last_update, then the longer log (older tail), then Self,
// then the lower OSD id.
func olderAuthority(in Input, x, y int32) bool {
	px, py := in.Peers[x], in.Peers[y]
	if c := EvCompare(px.Info.GetLastUpdate(), py.Info.GetLastUpdate()); c != 0 {
		return c < 0
	}
	if c := EvCompare(px.Info.GetLogTail(), py.Info.GetLogTail()); c != 0 {
		return c < 0
	}
	if x == in.Self || y == in.Self {
		return x == in.Self
	}
	return x < y
}

// rollbackRule turns compare's verdict into an erasure-coded one: the
// data of a divergent entry cannot be copied back from the authority (no
// one holds this shard's data of the older version), it is undone from
// the member's rollback records. That is possible only when every entry
// to undo is newer than the member's rollback_tail; otherwise the member
// is backfilled. After the rollback the member is at Common, as the
// authority was: it lacks only the objects of the authority's entries
// after Common.
func rollbackRule(m Member, p Peer, a Peer) Member {
	if m.Role == Backfill || m.Divergent == 0 {
		return m
	}
	first := p.Log[len(p.Log)-m.Divergent].GetVersion()
	if !evLess(p.Info.GetRollbackTail(), first) {
		return Member{OSD: m.OSD, Role: Backfill}
	}
	m.Rollback = true
	missing := map[string]bool{}
	for _, e := range a.Log {
		if evLess(m.Common, e.GetVersion()) {
			missing[e.GetOid()] = true
		}
	}
	m.Missing = slices.Sorted(maps.Keys(missing))
	m.Role = LogRecovery
	if len(m.Missing) == 0 && EvCompare(m.Common, a.Info.GetLastUpdate()) == 0 {
		m.Role = Complete
	}
	return m
}

// member is the plan for probed OSD id at position i.
func (e *erasure) member(id int32, i int) Member {
	if p := e.peers[id]; p.usable(i) {
		m := p.m
		m.Shard = int32(i)
		return m
	}
	return Member{OSD: id, Role: Backfill, Shard: int32(i)}
}

// source says whether up OSD id is a complete copy of shard i (after its
// rollback): recovery may read shard i from it. A copy flagged incomplete
// is not, whatever its log says.
func (e *erasure) source(id int32, i int) bool {
	p, ok := e.peers[id]
	if !ok || p.m.Role != Complete || !e.in.IsUp(id) || e.in.Peers[id].Info.GetIncomplete() {
		return false
	}
	return p.held == int32(i) || p.blank && e.position(id) == i
}

// sources maps each shard some probed copy holds complete to those
// copies.
func (e *erasure) sources() map[int][]int32 {
	out := map[int][]int32{}
	for i := range e.n {
		for _, id := range e.probe {
			if e.source(id, i) {
				out[i] = append(out[i], id)
			}
		}
	}
	return out
}

// wanted is the acting set the PG should have, position by position:
//
//  1. Up[i], when it can serve shard i (complete or log-recoverable);
//  2. else Acting[i], when it can (an old member serving while Up[i]
//     backfills, Ceph's pg_temp for erasure-coded pools);
//  3. else another probed up copy of shard i that can, complete first;
//  4. else a hole.
//
// Steps 2 and 3 skip OSDs that up places at another position: a copy
// holds one shard, so it must leave to be backfilled for its up position.
// Last, if fewer than K positions are complete (log-recovering members
// lack objects), complete copies of shard i replace the others in
// position order until K are: recovery reads K shards, and the next
// peering must find them among the members of the interval recorded
// active.
func (e *erasure) wanted() []int32 {
	in := e.in
	wanted := pad(nil, e.n)
	placed := map[int32]bool{}
	put := func(i int, id int32) {
		if old := wanted[i]; old != NoOSD {
			delete(placed, old)
		}
		wanted[i] = id
		placed[id] = true
	}
	elsewhere := func(id int32, i int) bool {
		j := slices.Index(in.Up, id)
		return j >= 0 && j != i
	}
	usable := func(id int32, i int) bool {
		p, ok := e.peers[id]
		return ok && id != NoOSD && !placed[id] && p.usable(i)
	}
	// Holders of shard i in order of preference.
	holders := func(i int) []int32 {
		out := []int32{at(in.Acting, i), at(e.last, i)}
		return append(out, e.probe...)
	}
	for i := range e.n {
		if id := at(in.Up, i); usable(id, i) {
			put(i, id)
		}
	}
	for i := range e.n {
		if id := at(in.Acting, i); wanted[i] == NoOSD && usable(id, i) && !elsewhere(id, i) {
			put(i, id)
		}
	}
	for i := range e.n {
		for _, role := range []Role{Complete, LogRecovery} {
			for _, id := range holders(i) {
				if wanted[i] == NoOSD && usable(id, i) && e.peers[id].held == int32(i) && e.peers[id].m.Role == role &&
					in.IsUp(id) && !elsewhere(id, i) {
					put(i, id)
				}
			}
		}
	}
	complete := 0
	for _, id := range wanted {
		if id != NoOSD && e.peers[id].m.Role == Complete {
			complete++
		}
	}
	for i := 0; i < e.n && complete < in.K; i++ {
		if id := wanted[i]; id != NoOSD && e.peers[id].m.Role == Complete {
			continue
		}
		for _, id := range holders(i) {
			if usable(id, i) && e.source(id, i) {
				put(i, id)
				complete++
				break
			}
		}
	}
	return wanted
}

// incompleteWhy explains an incomplete PG: which shards can be read and
// which OSDs hold the others (the members of the last active interval,
// or acting's for a PG never active), naming those to start.
func (e *erasure) incompleteWhy(sources map[int][]int32) string {
	var have, lack, start []string
	for _, i := range slices.Sorted(maps.Keys(sources)) {
		have = append(have, fmt.Sprintf("shard %d on osd.%d", i, sources[i][0]))
	}
	who := e.in.Acting
	if e.last != nil {
		who = e.last
	}
	for i := range e.n {
		if _, ok := sources[i]; ok {
			continue
		}
		id := at(who, i)
		if id == NoOSD {
			lack = append(lack, fmt.Sprintf("shard %d (no OSD)", i))
			continue
		}
		p, answered := e.in.Peers[id]
		var state string
		switch ep, compared := e.peers[id]; {
		case !answered || !e.in.IsUp(id):
			state = "down"
			start = append(start, fmt.Sprintf("osd.%d", id))
		case !p.Exists:
			state = "up but holds no copy"
		case p.Info.GetIncomplete():
			state = "its copy is incomplete"
		case heldShard(p) >= 0 && heldShard(p) != int32(i):
			state = fmt.Sprintf("holds shard %d", heldShard(p))
		case !compared:
			state = "cannot be the authority"
		case ep.m.Role == Backfill:
			state = "its log cannot bring it to the authority's"
		default:
			state = "behind the authority"
		}
		lack = append(lack, fmt.Sprintf("osd.%d (shard %d, %s)", id, i, state))
	}
	var why string
	if e.last != nil {
		why = fmt.Sprintf("last active interval epoch %d acting %s: ", e.in.LastActive.GetEpoch(), clustermap.FormatOSDs(e.last))
	}
	if sources == nil {
		why += "no member of it holds a copy that can be the authority"
	} else {
		why += fmt.Sprintf("only %d complete shards (%s), k=%d are needed to read it", len(sources), strings.Join(have, ", "), e.in.K)
	}
	if len(lack) > 0 {
		why += "; lacking " + strings.Join(lack, ", ")
	}
	if len(start) > 0 {
		why += "; start " + strings.Join(start, ", ")
	}
	return why
}
