// Command radosctl is Loligo's admin CLI.
//
// Usage:
//
//	radosctl [-o plain|json] crush compile MAP.txt
//	radosctl [-o plain|json] crush test --map MAP.txt [crushtool --test options]
//
// crush compile parses and validates a CRUSH map in crushtool's text form
// and prints its canonical text (for a map crushtool -d wrote, the same
// bytes). crush test maps inputs through a rule and prints what crushtool
// --test prints for the same options. Cluster commands arrive with the
// monitors.
//
// Invariants: output in the default format is for people; -o json is a
// stable format for scripts. Errors go to stderr with a non-zero exit
// status and say what to do next.
//
// radosctl may import rados, clustermap, crush and proto.
package main
