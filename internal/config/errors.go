package config

import (
	"errors"
	"fmt"
)

// Sentinel errors. Callers distinguish them with errors.Is.
var (
	// ErrSyntax means the text is not the INI subset: a line that is not a
	// section header, key = value or comment, a bad section or key name,
	// a section or key given twice.
	ErrSyntax = errors.New("config: syntax error")
	// ErrInvalid means a line parses but the schema refuses it: an
	// unknown or misplaced key, an empty value, a bad fsid or HOST:PORT.
	ErrInvalid = errors.New("config: invalid value")
	// ErrMissing means something required is absent: [global], fsid or
	// mon_host, an entity section's cert or key, or (from Config.Keys) an
	// entity's section.
	ErrMissing = errors.New("config: missing")
	// ErrNoConf means Locate was given neither a flag value nor
	// $LOLIGO_CONF.
	ErrNoConf = errors.New("config: no config file")
)

// Error is an error in a conf file. It wraps one of ErrSyntax, ErrInvalid
// and ErrMissing.
type Error struct {
	File string // the file's name as given to Load or ParseFile
	Line int    // 1-based; 0 when the error is about the whole file
	Msg  string
	Kind error
}

func (e *Error) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// Unwrap returns the error's kind, so errors.Is(err, ErrSyntax) works.
func (e *Error) Unwrap() error { return e.Kind }

func errorf(kind error, file string, line int, format string, args ...any) error {
	return &Error{File: file, Line: line, Msg: fmt.Sprintf(format, args...), Kind: kind}
}
