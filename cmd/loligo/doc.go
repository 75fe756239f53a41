// Command loligo runs Loligo's daemons: "loligo mon" (a monitor), and
// "loligo cert" (issue a certificate from the cluster CA). Each
// subcommand turns its flags into its package's Config and calls Run
// with a context that SIGINT and SIGTERM cancel.
//
// It may import anything; nothing imports it.
package main
