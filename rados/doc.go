// Package rados is Loligo's client library (librados with Ceph's
// Objecter): it reads loligo.conf, connects to the monitors over mutual
// TLS, follows the cluster map, sends admin commands, and does object
// I/O on the OSDs.
//
// Object I/O goes through an IOContext (Conn.OpenPool): single calls
// (Write, Read, SetXattr, OmapSet, ...) and compound operations built
// with NewWriteOp and NewReadOp, whose steps run atomically on one
// object. ListObjects and Stats cover a pool, Conn.ClusterStats the
// cluster, and Striper stores objects of any size under one name, plain
// or striped, either replacing the other as a whole: a striped object's
// data is in pieces named after it and a random instance
// (NAME.~INSTANCE.%08x), which a put writes first and then makes the
// object's in one compare-and-swap of the head object NAME's layout
// xattr; readers read the head once, then that instance's pieces, which
// never change (see Striper; Orphans finds the pieces of puts cut
// short).
//
// The Objecter: the first OpenPool starts a goroutine that subscribes to
// a monitor and applies every map update (incrementals, or a full map),
// moving to another monitor when the stream fails; Close stops it and
// waits for it. Each request gets a ReqID (the entity and a random
// per-connection nonce, and a transaction number), is placed locally
// (object -> PG -> acting primary, with the newest map) and sent to the
// primary with the map's epoch. It is resent with the same ReqID, so the
// primary applies a write once, when the OSD answers RETRY (after the
// map reaches the epoch it asks for), when an attempt fails or times out
// (Options.OpTimeout; after a newer map or a backoff), or while the PG
// has no primary (until the map changes). Other results are errors and
// are not retried.
//
// Invariants: every call takes a context and gets a deadline (the
// caller's, or the connection's default), and fails with ErrUnavailable
// saying what was tried when it passes; a monitor that fails or is not
// the leader is skipped for the next one; errors keep the server's
// message and wrap one of this package's sentinels, so not-found,
// invalid, busy, denied, unavailable and the object results (ErrNoData,
// ErrCanceled, ErrVersion, ...) stay distinguishable; a failed step of
// a compound operation is an *Error whose Step is its index; what
// cannot be sent or would be refused for its name (an object name that
// is empty, longer than MaxObjectNameLen or not UTF-8, any other string
// of a request that is not UTF-8) fails before anything is sent, with
// ErrBadName (an ErrInvalid) naming the field. Data is not copied: write
// calls send the caller's slices, reads return the reply's.
//
// Applications, radosctl, and the MDS, file system client and S3
// gateway import it. It never imports osd or mon.
package rados
