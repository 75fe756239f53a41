package pg

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	pb "github.com/loligo/loligo/proto/loligopb"
)

// NoOSD marks an empty position (as clustermap.NoOSD).
const NoOSD int32 = 0x7fffffff

// Peer is what one OSD answered about its copy of the PG.
type Peer struct {
	// Exists is false when the OSD holds no copy at all. A copy whose
	// Info says incomplete is being brought up to date: it may lack
	// objects, so it is never the authority.
	Exists bool
	Info   *pb.PGInfo
	// Log is oldest first.
	Log []*pb.LogEntry
}

// Input is everything peering decides on.
type Input struct {
	// Self is the OSD computing the plan: the acting primary.
	Self int32
	// Up and Acting are the map's sets: for replicated pools without
	// NoOSD holes, primary first; for erasure-coded pools (K > 0)
	// positional: index i is the OSD holding shard i, NoOSD a hole, and
	// the primary is the first OSD that is not a hole.
	Up, Acting []int32
	Size       int
	MinSize    int
	// K is 0 for a replicated pool; for an erasure-coded pool it is the
	// number of data shards k (Size = k+m): any k distinct shards of an
	// object rebuild it. See decideErasure for the rules that change.
	K int
	// IsUp says whether an OSD is up in the current map.
	IsUp func(int32) bool
	// LastActive is the interval the monitor last recorded the PG active
	// in (nil or epoch 0: never).
	LastActive *pb.ActiveInterval
	// Peers holds the answers so far, including Self's.
	Peers map[int32]Peer
	// MaxPrimaryPull: an up primary lacking more objects than this does
	// not lead while it recovers (it would pull them all before
	// serving); a pg_temp puts a complete member first instead. 0 means
	// DefaultMaxPrimaryPull; negative: never. Replicated pools only: an
	// erasure-coded primary rebuilds an object it lacks from k shards
	// when a client touches it.
	MaxPrimaryPull int
}

// DefaultMaxPrimaryPull is Input.MaxPrimaryPull's default: a primary
// pulls at most this many objects before it serves (a few hundred
// milliseconds of 4 MiB objects).
const DefaultMaxPrimaryPull = 16

// Outcome is what the primary does next.
type Outcome int

const (
	// Probe: ask Plan.Probe for their info and log, then plan again.
	Probe Outcome = iota
	// Incomplete: no member of the last active interval holds a copy
	// (erasure-coded: fewer than k shards can be read); wait for a new
	// map.
	Incomplete
	// WantTemp: ask the monitor for pg_temp Plan.Temp (empty: clear it).
	WantTemp
	// Activate: the acting set may serve once the primary holds the
	// authoritative log.
	Activate
	// Stray: this OSD is not the acting primary; nothing to do.
	Stray
)

func (o Outcome) String() string {
	return [...]string{"probe", "incomplete", "want_temp", "activate", "stray"}[o]
}

// Role is how a member relates to the authoritative copy.
type Role int

const (
	// Complete: the member's log equals the authority's.
	Complete Role = iota
	// LogRecovery: the authority's log covers everything since the
	// member's last common entry; Missing lists what to copy.
	LogRecovery
	// Backfill: the member must be compared object by object.
	Backfill
)

func (r Role) String() string { return [...]string{"complete", "log_recovery", "backfill"}[r] }

// Member is the plan for one OSD of up or acting.
type Member struct {
	OSD  int32
	Role Role
	// Missing: objects the member must get from the authority (its copy
	// is older, divergent or absent); sorted.
	Missing []string
	// Divergent is the number of the member's log entries the authority
	// does not have; they are rolled back by copying the authority's
	// object.
	Divergent int
	// Common is the member's last entry the authority's log also has
	// (nil: none, the log starts empty); its log is cut back to it.
	Common *pb.Eversion
	// Erasure-coded pools only (Input.K > 0; zero otherwise):
	//
	// Shard is the member's position in the set it is planned for (its
	// index in Acting for Plan.Acting, in Up for Plan.Backfill): the
	// shard it must hold. Its copy is set to hold this shard.
	Shard int32
	// Rollback: the member's Divergent entries (everything it logged
	// after Common) are undone from its rollback records, restoring
	// every object they touched to its state at Common, before anything
	// else; Missing then lists only the objects of the authority's
	// entries after Common. Set only when every entry to undo is newer
	// than the member's PGInfo.RollbackTail (otherwise it is Backfill).
	// A member with Rollback may be Complete: after the rollback its log
	// is the authority's.
	Rollback bool
}

// Plan is peering's decision.
type Plan struct {
	Outcome Outcome
	// Probe lists OSDs to ask (Outcome Probe).
	Probe []int32
	// Why explains Incomplete or WantTemp in words.
	Why string
	// Auth is the authoritative OSD; AuthInfo and AuthLog its answer.
	Auth     int32
	AuthInfo *pb.PGInfo
	AuthLog  []*pb.LogEntry
	// Temp is the wanted acting set (Outcome WantTemp); empty clears
	// pg_temp. Erasure-coded: positional, of Size entries, NoOSD for a
	// hole.
	Temp []int32
	// Acting members with their recovery, primary first; Backfill lists
	// up members outside acting that must be backfilled. Erasure-coded:
	// Acting holds the OSDs of acting's positions that are not holes, in
	// position order, Member.Shard their position; Backfill holds up's
	// OSDs that differ from acting's at their position (Shard: that
	// position) and are not in acting at another one (those move once
	// acting lets them go).
	Acting   []Member
	Backfill []Member
	// Serve: acting holds at least min_size complete or log-recovering
	// members, so clients may be served (Activate only; below it the PG
	// recovers but takes no client I/O, as Ceph's recovery below
	// min_size).
	Serve bool
}

// evLess orders eversions; nil is the zero version.
func evLess(a, b *pb.Eversion) bool { return EvCompare(a, b) < 0 }

// EvCompare orders eversions (epoch, then version) as cmp.Compare does;
// nil is the zero version.
func EvCompare(a, b *pb.Eversion) int {
	if c := cmp.Compare(a.GetEpoch(), b.GetEpoch()); c != 0 {
		return c
	}
	return cmp.Compare(a.GetVersion(), b.GetVersion())
}

type evKey struct{ epoch, v uint64 }

func key(e *pb.Eversion) evKey { return evKey{e.GetEpoch(), e.GetVersion()} }

// Decide computes the plan. It is deterministic: the same input gives
// the same plan.
func Decide(in Input) Plan {
	if in.K > 0 {
		return decideErasure(in)
	}
	if len(in.Acting) == 0 || in.Acting[0] != in.Self {
		return Plan{Outcome: Stray}
	}
	// 1. Everyone who may hold the newest data must be asked.
	probe, lastMembers := probeSet(in)
	if ask := unanswered(in, probe); len(ask) > 0 {
		return Plan{Outcome: Probe, Probe: ask}
	}

	// 2. The authority: the newest copy among the members of the last
	// active interval (everyone, for a PG never active).
	var candidates []int32
	for _, id := range probe {
		if !in.Peers[id].Info.GetIncomplete() {
			candidates = append(candidates, id)
		}
	}
	if len(candidates) == 0 {
		// A PG never active whose every copy is incomplete: cannot be.
		candidates = probe
	}
	if len(lastMembers) > 0 {
		candidates = nil
		for _, id := range lastMembers {
			if p, ok := in.Peers[id]; ok && p.Exists && !p.Info.GetIncomplete() {
				candidates = append(candidates, id)
			}
		}
		if len(candidates) == 0 {
			var down []string
			for _, id := range lastMembers {
				state := "down"
				if p, ok := in.Peers[id]; ok && p.Info.GetIncomplete() {
					state = "its copy is incomplete"
				} else if in.IsUp(id) {
					state = "up but holds no copy"
				}
				down = append(down, fmt.Sprintf("osd.%d (%s)", id, state))
			}
			return Plan{Outcome: Incomplete, Why: fmt.Sprintf("no member of the last active interval (epoch %d, acting %v) can serve it: %s; start one of them",
				in.LastActive.GetEpoch(), in.LastActive.GetActing(), strings.Join(down, ", "))}
		}
	}
	auth := candidates[0]
	for _, id := range candidates[1:] {
		if better(in, id, auth) {
			auth = id
		}
	}
	a := in.Peers[auth]
	plan := Plan{Auth: auth, AuthInfo: a.Info, AuthLog: a.Log}

	// 3. Every member of up and acting against the authority.
	members := map[int32]Member{}
	for _, id := range probe {
		if slices.Contains(in.Acting, id) || slices.Contains(in.Up, id) || slices.Contains(lastMembers, id) {
			members[id] = compare(id, in.Peers[id], a)
		}
	}

	// 4. The acting set the PG wants: the complete (or log-recoverable)
	// members of up, topped up to size with complete members outside
	// it. Up members that need backfill wait outside acting.
	var acting []int32
	for _, id := range in.Up {
		if m, ok := members[id]; ok && m.Role != Backfill {
			acting = append(acting, id)
		}
	}
	// Fillers: complete before log-recovering, then by id; the current
	// acting order first for stability.
	var fillers []int32
	for _, id := range append(slices.Clone(in.Acting), probe...) {
		if slices.Contains(acting, id) || slices.Contains(fillers, id) || !in.IsUp(id) {
			continue
		}
		if m, ok := members[id]; ok && m.Role != Backfill {
			fillers = append(fillers, id)
		}
	}
	slices.SortStableFunc(fillers, func(x, y int32) int { return cmp.Compare(members[x].Role, members[y].Role) })
	for _, id := range fillers {
		if len(acting) >= in.Size {
			break
		}
		acting = append(acting, id)
	}
	// The primary serves reads and must hold every object first: one
	// far behind hands the lead to the authority while it recovers.
	limit := in.MaxPrimaryPull
	if limit == 0 {
		limit = DefaultMaxPrimaryPull
	}
	if lead := members[acting[0]]; limit > 0 && lead.Role == LogRecovery && len(lead.Missing) > limit {
		acting = slices.DeleteFunc(acting, func(id int32) bool { return id == auth })
		acting = append([]int32{auth}, acting...)
		if len(acting) > in.Size {
			acting = acting[:in.Size]
		}
	}
	// Recovery may run below min_size (the authority is always complete,
	// so acting is never empty); clients are served only from min_size
	// complete members on.
	plan.Serve = len(acting) >= in.MinSize
	if !plan.Serve {
		plan.Why = fmt.Sprintf("only %d complete copies (%v), fewer than min_size %d: no client I/O until %v are backfilled",
			len(acting), acting, in.MinSize, backfillIDs(in.Up, members))
	}
	// The primary must be complete or log-recoverable: it serves reads.
	if !slices.Equal(acting, in.Acting) {
		plan.Outcome = WantTemp
		if !slices.Equal(acting, in.Up) {
			plan.Temp = acting
		}
		plan.Why = fmt.Sprintf("acting %v should be %v while %v backfill", in.Acting, acting, backfillIDs(in.Up, members))
		if len(plan.Temp) == 0 {
			plan.Why = fmt.Sprintf("up %v is complete: clear pg_temp %v", in.Up, in.Acting)
		}
		return plan
	}
	plan.Outcome = Activate
	for _, id := range in.Acting {
		plan.Acting = append(plan.Acting, members[id])
	}
	for _, id := range in.Up {
		if !slices.Contains(in.Acting, id) {
			m := members[id]
			if m.Role != Backfill {
				// Complete but outside acting (pg_temp still set): it
				// is brought up to date the same way.
				m.Role = Backfill
			}
			plan.Backfill = append(plan.Backfill, m)
		}
	}
	return plan
}

// probeSet lists the OSDs whose answers peering needs: acting, up and
// the up members of the last active interval, in that order, without
// holes or repeats; lastMembers are all members of that interval (nil
// when there is none).
func probeSet(in Input) (probe, lastMembers []int32) {
	want := func(id int32) {
		if id == NoOSD || slices.Contains(probe, id) {
			return
		}
		probe = append(probe, id)
	}
	for _, id := range in.Acting {
		want(id)
	}
	for _, id := range in.Up {
		want(id)
	}
	if in.LastActive.GetEpoch() > 0 {
		for _, id := range in.LastActive.GetActing() {
			if id != NoOSD {
				lastMembers = append(lastMembers, id)
				if in.IsUp(id) {
					want(id)
				}
			}
		}
	}
	return probe, lastMembers
}

// unanswered is the part of probe without an answer in in.Peers.
func unanswered(in Input, probe []int32) []int32 {
	var ask []int32
	for _, id := range probe {
		if _, ok := in.Peers[id]; !ok {
			ask = append(ask, id)
		}
	}
	return ask
}

func backfillIDs(up []int32, members map[int32]Member) []int32 {
	var out []int32
	for _, id := range up {
		if members[id].Role == Backfill {
			out = append(out, id)
		}
	}
	return out
}

// better says whether peer x is a better authority than y: newer
// last_update, then the longer log (older tail), then lower OSD id.
func better(in Input, x, y int32) bool {
	px, py := in.Peers[x], in.Peers[y]
	if c := EvCompare(px.Info.GetLastUpdate(), py.Info.GetLastUpdate()); c != 0 {
		return c > 0
	}
	if c := EvCompare(px.Info.GetLogTail(), py.Info.GetLogTail()); c != 0 {
		return c < 0
	}
	if x == in.Self || y == in.Self {
		return x == in.Self
	}
	return x < y
}

// compare works out what member id lacks against the authority a.
func compare(id int32, p Peer, a Peer) Member {
	// An OSD without a copy is an empty one: it can still be brought up
	// from the log when the log reaches back to the PG's first write.
	m := Member{OSD: id}
	authHas := make(map[evKey]bool, len(a.Log))
	for _, e := range a.Log {
		authHas[key(e.GetVersion())] = true
	}
	authLU := a.Info.GetLastUpdate()
	tail := a.Info.GetLogTail()
	// The authority's log covers everything after version v when v is at
	// or past its tail, or when its log reaches back to the PG's first
	// write (version 1) or it has no writes at all.
	covers := func(v *pb.Eversion) bool {
		if authLU.GetVersion() == 0 {
			return true
		}
		if tail.GetVersion() == 0 {
			return false // writes but no log: nothing is covered
		}
		return !evLess(v, tail) || tail.GetVersion() == 1
	}
	// Walk the member's log back to the newest entry the authority has;
	// everything after it is divergent.
	var divergentOids []string
	common := p.Info.GetLastUpdate()
	found := false
	for i := len(p.Log) - 1; i >= 0; i-- {
		v := p.Log[i].GetVersion()
		if !evLess(authLU, v) && authHas[key(v)] {
			common, found = v, true
			break
		}
		if !evLess(authLU, v) && !evLess(v, tail) && !authHas[key(v)] || evLess(authLU, v) {
			divergentOids = append(divergentOids, p.Log[i].GetOid())
			m.Divergent++
			continue
		}
		// Older than the authority's tail: the authority cannot say
		// whether it is divergent.
		m.Role = Backfill
		return m
	}
	if !found {
		// The member's whole log (possibly empty) is divergent or it has
		// none: its last_update must be one the authority knows.
		lu := p.Info.GetLastUpdate()
		if len(p.Log) > 0 {
			lu = nil // everything it logged was divergent; before that, unknown
			if p.Log[0].GetVersion().GetVersion() == 1 || p.Info.GetRollbackTail() == nil && !p.Info.GetIncomplete() {
				// Its log began with the PG's first write, or it has
				// no rollback tail: no entry was ever trimmed from its
				// log, applied without a record or installed (each of
				// which sets the tail), so its log holds every write
				// since the PG was empty. It had nothing before. (A
				// primary's versions skip those of writes it rolled
				// back, so the first entry need not be version 1.)
				lu = &pb.Eversion{}
			} else {
				m.Role = Backfill
				return m
			}
		}
		switch {
		case lu.GetVersion() == 0 && lu.GetEpoch() == 0:
			common = nil
		case evLess(authLU, lu) || !authHas[key(lu)] && EvCompare(lu, authLU) != 0:
			m.Role = Backfill
			return m
		default:
			common = lu
		}
	}
	if !covers(common) && EvCompare(common, authLU) != 0 {
		m.Role = Backfill
		return m
	}
	m.Common = common
	missing := map[string]bool{}
	for _, oid := range divergentOids {
		missing[oid] = true
	}
	for _, e := range a.Log {
		if evLess(common, e.GetVersion()) {
			missing[e.GetOid()] = true
		}
	}
	m.Missing = slices.Sorted(maps.Keys(missing))
	if len(m.Missing) == 0 && m.Divergent == 0 && EvCompare(common, authLU) == 0 {
		m.Role = Complete
	} else {
		m.Role = LogRecovery
	}
	return m
}
