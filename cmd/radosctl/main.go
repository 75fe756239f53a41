package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// errUsage marks errors caused by how the command was called; run prints
// the usage line with them.
var errUsage = errors.New("usage")

// env is what a command needs from its invocation.
type env struct {
	stdout, stderr io.Writer
	json           bool
}

const usage = `usage: radosctl [-o plain|json] <command> ...

commands:
  crush compile MAP.txt          check a CRUSH map and print its canonical text
  crush test --map MAP.txt ...   map inputs through a rule, as crushtool --test
`

// run executes one radosctl invocation and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("radosctl", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	format := fs.String("o", "plain", "output format: plain or json")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(stderr, "radosctl: %v\n%s", err, usage)
		return 2
	}
	e := &env{stdout: stdout, stderr: stderr}
	switch *format {
	case "plain":
	case "json":
		e.json = true
	default:
		fmt.Fprintf(stderr, "radosctl: unknown output format %q (use plain or json)\n", *format)
		return 2
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch rest[0] {
	case "crush":
		err = crushCmd(e, rest[1:])
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		err = fmt.Errorf("%w: unknown command %q", errUsage, rest[0])
	}
	if err != nil {
		fmt.Fprintf(stderr, "radosctl: %v\n", err)
		if errors.Is(err, errUsage) {
			fmt.Fprint(stderr, usage)
			return 2
		}
		return 1
	}
	return 0
}
