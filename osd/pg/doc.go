// Package pg is the pure decision logic of placement-group peering: given
// what the members of a PG report (their PG info and log), the interval
// the monitor last recorded the PG active in, and the current up and
// acting sets, it decides whom to ask next, which copy is authoritative,
// what every member lacks (a set of objects for log-based recovery, or a
// backfill), which entries are divergent and rolled back, whether the PG
// may go active, must ask for a pg_temp, or stays incomplete.
//
// It owns no goroutines, no clock and no I/O: events in, a Plan out. The
// OSD (package osd) does the talking and the copying.
//
// Invariants the plan keeps:
//   - The authoritative copy is taken only among members of the last
//     interval the PG was recorded active in (when there is one): every
//     acknowledged write is on every member of that interval, and entries
//     only others hold were never acknowledged (they are divergent).
//   - If no member of that interval answers, the PG is incomplete: it
//     must not serve older data than it acknowledged.
//   - A member counts as complete only when the authoritative log covers
//     everything after its last common entry; otherwise it is backfilled.
//   - Only complete members are chosen for acting; a pg_temp keeps them
//     serving while the up set's new members backfill.
//
// Erasure-coded PGs (Input.K = k > 0) keep these with the changes their
// shards bring (decideErasure has the details):
//   - Sets are positional: index i holds shard i, NoOSD is a hole, the
//     primary is acting's first OSD; every copy holds one shard
//     (PGInfo.shard) and the same log. A copy is judged for its position
//     (its index in acting, else up, else the last active interval): a
//     copy of another shard is backfilled there.
//   - The authority is the OLDEST complete member of the last active
//     interval holding its position's shard (Ceph's choice for pools that
//     require rollback): it still has every acknowledged write, and what
//     newer members hold beyond it was never acknowledged and may be on
//     fewer than k shards.
//   - A member ahead of or diverged from the authority undoes its own
//     entries from its rollback records (Member.Rollback) when all of them
//     are newer than its rollback_tail, then recovers only the authority's
//     entries after the common one; otherwise it is backfilled.
//   - The PG is incomplete unless k distinct shards are complete (after
//     rollback); the acting set it asks for keeps k complete shards in it,
//     fills a position with up's OSD when it can serve it, else with the
//     OSD still holding that shard (pg_temp), else leaves a hole.
//   - Clients are served from min_size shards in acting on.
//
// Imported by osd only. It may import clustermap and proto/loligopb.
package pg
