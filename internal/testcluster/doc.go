// Package testcluster starts real Loligo daemons inside a test: monitors
// with embedded etcd members, all on loopback ports, mutual TLS with a CA
// made for the test, in the test's temporary directory. Tests stop, kill
// and restart them to inject faults.
//
// Invariants: everything it starts is stopped by the test's cleanup, and
// it binds 127.0.0.1 only.
//
// Only tests import it (mon's, cmd/radosctl's and later the OSD's).
package testcluster
