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
// Imported by osd only. It may import clustermap and proto/loligopb.
package pg
