// Package pki is the cluster's certificate authorities for mutual TLS.
// Every daemon and client authenticates with a certificate whose common
// name is its entity (mon.a, osd.3, mds.a, client.admin, rgw.a), issued by
// the one cluster CA that `loligo mon --bootstrap` (or `loligo up`)
// creates. Next to it the bootstrap makes an etcd CA, which certifies
// only who may reach the etcd that holds the cluster map: the monitors
// (mon.NAME), the members of an external etcd (etcd.NAME) and explicit
// break-glass operators (breakglass.NAME). An etcd trusting only the etcd
// CA refuses every certificate of the cluster CA, so an OSD or a client
// cannot go around the monitors to the map.
//
// It owns the entity name syntax (ValidEntity, ValidEtcdName), the CAs
// (NewCA, NewEtcdCA, LoadCA, LoadEtcdCA, CA.Save, CA.Issue), the layout
// of a key directory (ca.crt, ca.key, ENTITY.crt, ENTITY.key; Paths,
// CAPaths, WriteKeyPair), the TLS settings (ServerConfig, ClientConfig:
// TLS 1.3, both sides verified against the CA), checks of which CA
// trusts what (SharesCA, IssuedBy, ReadCert) and reading the peer's
// entity from a verified connection (Entity).
//
// Invariants:
//
//   - Keys are ECDSA P-256. Leaf certificates are good for both server and
//     client authentication (etcd needs both), name the entity in the
//     subject's common name and always list 127.0.0.1, ::1 and localhost
//     among their names, besides the hosts the caller gives.
//   - The two CAs certify disjoint names: the cluster CA only what
//     ValidEntity accepts, the etcd CA only what ValidEtcdName accepts
//     (a CA is an etcd CA when its common name is EtcdCAName). LoadCA
//     refuses an etcd CA and LoadEtcdCA the cluster CA.
//   - A CA is never overwritten: Save refuses (ErrExists) if either file
//     is there. Private keys are written with mode 0600, certificates
//     with 0644, each atomically (temporary file, sync, rename or link).
//   - The package reads no clock: the callers pass now. NotBefore is set
//     an hour before now (Backdate) so that hosts whose clocks lag a
//     little accept a new certificate; a leaf never outlives its CA.
//   - Entity returns a name only from a chain the TLS stack verified, and
//     only if ValidEntity accepts it.
//
// Errors wrap ErrBadEntity, ErrExists, ErrMissing (a file is absent; it
// also wraps fs.ErrNotExist), ErrBadFile (a file is there but unusable, or
// a certificate and key do not belong together or to the CA), ErrInvalid
// (a bad argument to Issue or WriteKeyPair) or ErrUnverified. Errors about
// a file name it and say what to do.
//
// Who may import it: the daemons (mon, osd, mds, the gateway), rados and
// the commands. It imports only the standard library and nothing of
// Loligo's.
package pki
