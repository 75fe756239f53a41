// Package config is loligo.conf: the file that tells radosctl and the
// daemons which cluster to join (fsid), where its monitors are (mon_host),
// and where the CA and each entity's certificate and key are.
//
// The format is the subset of Ceph's ceph.conf INI dialect that Loligo
// needs:
//
//	# comments start with # or ; at the start of a line, or after a space
//	[global]
//	fsid = c0ffee00-0000-4000-8000-000000000001
//	mon_host = 10.0.0.1:6789, 10.0.0.2:6789
//	ca = keys/ca.crt
//
//	[client.admin]
//	cert = keys/client.admin.crt
//	key = keys/client.admin.key
//
// Keys are case-sensitive; a space in a key is the same as an underscore
// (mon host is mon_host), as in Ceph. Values run to the end of the line or
// to a # or ; that follows a space; quotes are not special. Relative paths
// are relative to the directory of the conf file, so a data directory can
// be moved as a whole.
//
// It has two layers: ParseFile reads the INI syntax into a File (ordered
// sections of key = value, any keys), and Parse/Load check that against
// the schema into a Config. The schema is strict, unlike Ceph's: a key it
// does not know, a key in the wrong section, a key or section given twice
// or a bad HOST:PORT is an error, so that a typo is reported rather than
// ignored. New keys are added here, by the package that owns the format.
//
// Invariants:
//
//   - For any Config that Parse returns, Write's output parses back to an
//     equal Config (FuzzParse checks this).
//   - Errors wrap ErrSyntax (the text is not INI), ErrInvalid (a value or
//     key the schema refuses) or ErrMissing (a required key or an entity's
//     keys are absent), and carry the file name and, where there is one,
//     the line ("loligo.conf:12: ...").
//   - Nothing reads the environment or the flags itself: Locate is given
//     the flag value and a getenv function.
//
// Who may import it: the commands (cmd/...) and the daemons that read the
// conf file. It imports only the standard library and nothing of
// Loligo's; entity names are checked only for shape here (TYPE.ID), and
// fully by internal/pki where they are used.
package config
