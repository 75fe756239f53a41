// Command radosctl is Loligo's admin CLI.
//
// Usage:
//
//	radosctl [-o plain|json] [--conf FILE] [--mon HOST:PORT] [--name ENTITY] COMMAND ...
//
// Offline, crush compile parses and validates a CRUSH map in crushtool's
// text form and prints its canonical text (for a map crushtool -d wrote,
// the same bytes), and crush test maps inputs through a rule and prints
// what crushtool --test prints for the same options.
//
// Against a cluster (the config from --conf or $LOLIGO_CONF), the verbs
// follow Ceph's: status, health [detail], mon stat; osd tree, dump, map,
// out/in/down/rm, reweight, set/unset, crush reweight/move/add-bucket,
// crush rule ls/dump/create-replicated/create-erasure/rm, getcrushmap,
// setcrushmap, erasure-code-profile set/get/ls/rm; pool create/ls/get/
// set/rm; and, on objects, as the rados tool: put, get, rm, ls, stat,
// set/get/list/rmxattr, set/getomapval, listomapkeys/vals, rmomapkey,
// df and bench (write, seq, rand); pg stat, dump, ls-by-osd, query,
// scrub, deep-scrub, repair and list-inconsistent; tell osd.N|osd.*
// config show/get/set. status --watch redraws the status until Ctrl-C.
// put stores an input larger than --max-object-size through the
// striper (rados.Striper: plain and striped puts of a name replace each
// other as a whole), and get, stat and rm find striped objects too; ls
// shows a striped object as its head (--all: with its pieces), and
// orphans finds and removes pieces that no object refers to. radosctl
// help lists them with their arguments. Every command
// that changes the map takes --dry-run (report the change and the PG
// movement, change nothing) and --yes (allow a change that moves more
// than the monitor's threshold of PGs); flags may come anywhere after the
// command words.
//
// Invariants: output in the default format is for people; -o json is a
// stable format for scripts, with snake_case field names (see the *JSON
// types and testdata/*.json). Errors go to stderr with exit status 1 and
// say what to do next; a command called wrongly exits 2 and prints the
// usage of that command.
//
// radosctl may import rados, clustermap, crush and proto: it reaches
// the monitors and OSDs only through rados (the pg and tell verbs
// through its admin calls PGDump, PGCommand and OSDConfig). Nothing
// imports it.
package main
