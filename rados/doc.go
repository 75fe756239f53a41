// Package rados is Loligo's client library (librados): it reads
// loligo.conf, connects to the monitors over mutual TLS, fetches and
// follows the cluster map, and sends admin commands. Object I/O (pools,
// I/O contexts, the Objecter) comes with the OSDs.
//
// Invariants: every call takes a context and gets a deadline (the
// caller's, or the connection's default); a monitor that fails or is not
// the leader is skipped for the next one; errors keep the monitor's
// message and wrap one of this package's sentinels, so not-found,
// invalid, busy, denied and unavailable stay distinguishable.
//
// Applications, radosctl, and the MDS, file system client and S3
// gateway import it. It never imports osd or mon.
package rados
