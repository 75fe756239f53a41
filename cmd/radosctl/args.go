package main

import (
	"fmt"
	"strconv"
	"strings"
)

// usageError is a command called wrongly. It matches errUsage; topic
// selects the lines of the usage text run prints with it ("" for all).
type usageError struct {
	topic string
	msg   string
}

func (u *usageError) Error() string        { return "usage: " + u.msg }
func (u *usageError) Is(target error) bool { return target == errUsage }

func usagef(topic, format string, args ...any) error {
	return &usageError{topic: topic, msg: fmt.Sprintf(format, args...)}
}

// usageFor returns the command lines of the usage text that start with
// topic, or the whole text if none does.
func usageFor(topic string) string {
	if topic == "" {
		return usage
	}
	var b strings.Builder
	matched := false
	for line := range strings.Lines(usage) {
		// A line indented further continues the command line above it.
		if strings.HasPrefix(line, "  "+topic) || matched && strings.HasPrefix(line, "    ") {
			b.WriteString(line)
			matched = true
			continue
		}
		matched = false
	}
	if b.Len() == 0 {
		return usage
	}
	return "usage: radosctl [global flags] COMMAND, where COMMAND is\n" + b.String() +
		"(radosctl help lists every command and the global flags)\n"
}

// cmdArgs are a command's arguments with its flags taken out: flags may
// come anywhere after the command words.
type cmdArgs struct {
	topic string
	pos   []string
	flags map[string]string // present flags; "" for switches
}

// Switches every map-changing command takes.
const (
	flagDryRun = "dry-run"
	flagYes    = "yes"
)

// parseArgs splits args into positional arguments and the flags of spec
// (flag name without dashes -> whether it takes a value). It accepts
// --name, --name=value and --name value; "--" ends the flags; an
// argument that looks like a negative number is positional.
func parseArgs(topic string, args []string, spec map[string]bool) (*cmdArgs, error) {
	a := &cmdArgs{topic: topic, flags: map[string]string{}}
	for i := 0; i < len(args); i++ {
		s := args[i]
		if s == "--" {
			a.pos = append(a.pos, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(s, "-") || s == "-" || looksNumeric(s) {
			a.pos = append(a.pos, s)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(s, "-"), "=")
		takesVal, ok := spec[name]
		if !ok {
			if name == "o" || name == "conf" || name == "mon" || name == "name" || name == "timeout" {
				return nil, usagef(topic, "%s is a global flag: put it before the command (radosctl %s ... %s)", s, s, topic)
			}
			return nil, usagef(topic, "unknown flag %s", s)
		}
		if takesVal && !hasVal {
			if i+1 >= len(args) {
				return nil, usagef(topic, "%s needs a value", s)
			}
			i++
			val = args[i]
		} else if !takesVal && hasVal {
			return nil, usagef(topic, "%s takes no value", "--"+name)
		}
		a.flags[name] = val
	}
	return a, nil
}

func looksNumeric(s string) bool {
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

func (a *cmdArgs) has(name string) bool {
	_, ok := a.flags[name]
	return ok
}

// want checks the number of positional arguments.
func (a *cmdArgs) want(lo, hi int) error {
	n := len(a.pos)
	switch {
	case lo == hi && n != lo:
		return usagef(a.topic, "%s takes %d argument(s), got %d", a.topic, lo, n)
	case n < lo:
		return usagef(a.topic, "%s takes at least %d argument(s), got %d", a.topic, lo, n)
	case hi >= 0 && n > hi:
		return usagef(a.topic, "%s takes at most %d argument(s), got %d: %q", a.topic, hi, n, a.pos[hi:])
	}
	return nil
}

// uint32Flag returns the value of a numeric flag, or 0 if absent.
func (a *cmdArgs) uint32Flag(name string) (uint32, error) {
	v, ok := a.flags[name]
	if !ok {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil {
		return 0, usagef(a.topic, "--%s %q: want a whole number", name, v)
	}
	return uint32(n), nil
}

// parseOSDID accepts "3" or "osd.3".
func parseOSDID(topic, s string) (int32, error) {
	n, err := strconv.ParseInt(strings.TrimPrefix(s, "osd."), 10, 32)
	if err != nil || n < 0 {
		return 0, usagef(topic, "%q is not an OSD id (want N or osd.N)", s)
	}
	return int32(n), nil
}

// parseWeight reads a weight as Ceph does and returns it in 16.16 fixed
// point.
func parseWeight(topic, s string) (uint32, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, usagef(topic, "weight %q is not a number (for example 0.8)", s)
	}
	w, err := crushWeight(f)
	if err != nil {
		return 0, err
	}
	return w, nil
}

// parseLocation reads TYPE=NAME pairs.
func parseLocation(topic string, args []string) (map[string]string, error) {
	loc := map[string]string{}
	for _, s := range args {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" || v == "" {
			return nil, usagef(topic, "%q: want TYPE=BUCKET, such as host=h1", s)
		}
		if _, dup := loc[k]; dup {
			return nil, usagef(topic, "%s= given twice", k)
		}
		loc[k] = v
	}
	return loc, nil
}
