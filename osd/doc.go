// Package osd is the object storage daemon: it boots into the cluster
// map, serves the PGs it is an acting member of, and replicates writes.
//
// It owns the OSD's gRPC service (client ops, peer calls), the map
// subscription and beacons, heartbeats with its peers, and for each PG
// the op ordering, the primary-copy replication and the catch-up of
// members when the PG's interval changes. Objects live in osd/store.
//
// Invariants:
//   - A PG's primary acknowledges a write only after every acting member
//     (including itself) has applied it durably; with fewer than the
//     pool's min_size acting members the PG takes no writes.
//   - Writes to one object apply in the order the primary received them;
//     writes to different objects of a PG proceed in parallel.
//   - A resent request (same ReqID) is answered from the PG log while the
//     log holds it, never applied twice.
//   - A member accepts a peer call only from the primary of the interval
//     it sees itself (the interval digest must match), so a deposed
//     primary cannot write after a new interval began.
//   - After an interval change the primary serves nothing until every
//     acting member holds the newest copy of every object (see sync.go).
//
// Imported by cmd/loligo and internal/testcluster only.
package osd
