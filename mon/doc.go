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
//   - A map or incremental too large for one etcd request is stored as
//     chunks named by their SHA-256, written before the epoch's
//     transaction, which names them in a manifest. A chunk is deleted
//     only once no kept value names it, so every kept epoch reads back
//     whole at its revision; a torn or mixed read fails its checksums,
//     it never yields a wrong map. Maps written inline by older
//     monitors read as before.
//   - Only a failed guard (the map changed, the election was lost) or a
//     lost etcd session ends a leadership. Any other failed write leaves
//     the leader leading, and each change in it is either reported not
//     made, or, when etcd wrote the epoch but its answer was lost, read
//     back and reported made.
//   - The map and each incremental are at most Config.MaxMapSize bytes,
//     which one gRPC message always carries: a change that would pass it
//     is refused (ErrTooBig, naming both sizes) before anything is
//     written, and the changes batched with it are still made.
//   - Every start of an OSD process is a new incarnation the map sees: a
//     boot from an incarnation other than the one the map shows up marks
//     the old one down in one epoch and the new one up in the next, so
//     the OSD's PGs change interval and peer again (compare logs) even
//     when it came back before its beacons were missed.
//   - Why an OSD went down (no beacons, peers' reports, a restart, its
//     own report of a failed store) is recorded with it in the map, and
//     an OSD's fullness (nearfull, backfillfull, full) is the leader's
//     judgement of the OSD's reported disk use against the map's ratios:
//     it changes in an epoch like any other state.
//   - Only the leader changes the map; followers forward changes to it.
//   - Bad input changes nothing: a command is applied to a copy of the
//     map, validated (the copy must finalize, pools must keep working
//     rules), and only then written.
//   - A PG activation record (PGActivate) is written only in a
//     transaction that also requires the map key to be at the revision
//     of the map it was checked against, so no record names an interval
//     that a committed epoch had already replaced.
//   - The map logic (commands.go, osdops.go, failure.go, health.go,
//     pgs.go, pghealth.go) and the chunking of stored values (chunks.go)
//     are pure: maps, bytes and times in, maps, bytes and decisions out.
//     Goroutines, etcd and gRPC live in mon.go, leader.go, store.go,
//     pgstore.go, server.go and pgserver.go.
//
// Only cmd/loligo and test harnesses import mon. It is the only package
// that imports etcd.
package mon
