// Package transport sets up Loligo's gRPC connections: mutual TLS against
// the cluster CA, message size limits, keepalives, and the caller's
// entity (the name in its certificate) in every handler's context.
//
// Invariants: a server built here accepts only callers with a certificate
// issued by the cluster CA, and every handler can read the caller's
// verified entity with Entity; there is no plaintext mode.
//
// Daemons (mon, osd, mds, gateway) and the rados client import it; it
// imports internal/pki and grpc only.
package transport
