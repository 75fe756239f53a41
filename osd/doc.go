// Package osd is the object storage daemon: it boots into the cluster
// map, serves the PGs it is a member of (up or acting), replicates
// writes, peers, recovers, backfills and scrubs.
//
// It owns the OSD's gRPC service (client ops, peer calls, admin
// commands), the map subscription and beacons, heartbeats with its
// peers, PG stats reports to the monitor, and for each PG the op
// ordering, the primary-copy replication, peering (peering.go, with the
// decisions in osd/pg), recovery and backfill (recovery.go, throttled by
// throttle.go) and scrub (scrub.go). Objects live in osd/store.
//
// Invariants:
//   - A PG's primary acknowledges a write only after every acting member
//     (including itself) has applied it durably; with fewer than the
//     pool's min_size complete acting members the PG takes no client I/O.
//   - A PG serves only in an interval the monitor recorded it active in
//     (PGActivate, refused once the map has moved on), and peering takes
//     its authority among that interval's members, so nothing
//     acknowledged is lost and nothing older is served.
//   - Interval changes and applies exclude each other (pg.ivMu): an OSD
//     that has answered a new primary's Query takes no write of an older
//     interval.
//   - Writes to one object apply in the order the primary received them;
//     writes to different objects of a PG proceed in parallel. A client
//     op on an object a member lacks recovers it first.
//   - A member being caught up takes writes unlogged and is marked
//     incomplete until recovery hands it the authority's log (with
//     writes held back for that moment), so its info never claims more
//     than it holds.
//   - A resent request (same ReqID) is answered from the PG log while the
//     log holds it, never applied twice.
//   - A member accepts data-changing peer calls only from the primary of
//     the interval it sees itself (the interval digest must match).
//   - A process serves no client op and no peer call on PG data until a
//     map shows its own incarnation up: the map may still show an earlier
//     one up in an interval whose writes this process's store may lack.
//   - A store that fails (a failed sync, a full disk, corruption a
//     compaction or an index walk met in Pebble's files) stops the OSD:
//     it tells the monitor it is down and why, and serves nothing more.
//     Serve starts a new incarnation once a full disk has room again; a
//     corrupt store leaves a marker (MarkerPath) that keeps it down until
//     an operator rebuilds it. Corruption in one object's data is
//     repaired from another member instead.
//   - Writes that add data are refused (FULL) while a member of the PG
//     is full in the map or this OSD's disk is past its failsafe ratio;
//     removals and truncations go through. Backfill waits while its
//     target is backfillfull.
//
// Imported by cmd/loligo and internal/testcluster only.
package osd
