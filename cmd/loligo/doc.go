// Command loligo runs Loligo's daemons: "loligo up" (a whole cluster,
// in one process, or with --procs as one supervised child process per
// daemon), "loligo mon" (a monitor), "loligo osd" (an OSD) and "loligo
// cert" (issue a certificate from the cluster CA). Each subcommand turns
// its flags into its package's Config and calls Run with a context that
// SIGINT and SIGTERM cancel.
//
// It may import anything; nothing imports it.
package main
