// Package mon is the monitor: the authority over the cluster map.
//
// It keeps the OSD map in etcd (an embedded member by default, or an
// external cluster) under /loligo/<fsid>/, makes every change one new
// epoch, elects one leader among the monitors, detects failed OSDs from
// beacons and peer reports, serves map subscriptions, admin commands and
// health over gRPC with mutual TLS.
//
// Only monitors reach etcd. The embedded member serves and trusts only
// the etcd CA (DIR/keys/etcd), which Bootstrap makes next to the cluster
// CA and which certifies the monitors, external etcd members and explicit
// break-glass operators, never an OSD or a client; PrepareEtcdKeys makes
// it in a directory from before it. An external etcd must trust only
// that CA too; New refuses an etcd CA that is the cluster CA, or an etcd
// certificate the cluster CA issued.
//
// Invariants:
//   - An epoch is written once, in one etcd transaction that also holds
//     its incremental and that succeeds only if the map key is still at
//     the revision the leader read and the leader still holds the
//     election: epochs never repeat, skip or go back, even when two
//     monitors both believe they lead.
//   - Only the leader changes the map; followers forward changes to it.
//   - Bad input changes nothing: a command is applied to a copy of the
//     map, validated (the copy must finalize, pools must keep working
//     rules), and only then written.
//   - A PG activation record (PGActivate) is written only in a
//     transaction that also requires the map key to be at the revision
//     of the map it was checked against, so no record names an interval
//     that a committed epoch had already replaced.
//   - The map logic (commands.go, osdops.go, failure.go, health.go,
//     pgs.go, pghealth.go) is pure: maps and times in, maps and decisions
//     out. Goroutines, etcd and gRPC live in mon.go, leader.go, store.go,
//     pgstore.go, server.go and pgserver.go.
//
// Only cmd/loligo and test harnesses import mon. It is the only package
// that imports etcd.
package mon
