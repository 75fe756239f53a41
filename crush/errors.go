package crush

import (
	"errors"
	"fmt"
)

// Sentinel errors. Callers distinguish them with errors.Is.
var (
	// ErrInvalidMap means a map is structurally wrong: a missing item, a
	// cycle, weights that do not fit, a bad rule step.
	ErrInvalidMap = errors.New("crush: invalid map")
	// ErrSyntax means crush map text could not be parsed; the wrapped
	// message carries the line and column.
	ErrSyntax = errors.New("crush: syntax error")
	// ErrInvalidArgument means an edit was asked for with a bad name,
	// weight, mode or location, or would make a bucket contain itself.
	ErrInvalidArgument = errors.New("crush: invalid argument")
	// ErrNotFound means an edit names an item, type, device class, rule
	// or bucket the map does not have.
	ErrNotFound = errors.New("crush: not found")
	// ErrExists means an edit would create a name, rule or placement the
	// map already has, or rebind a device's class.
	ErrExists = errors.New("crush: already exists")
	// ErrInUse means an edit would remove a bucket that still holds items
	// or that a rule or a device class still uses.
	ErrInUse = errors.New("crush: in use")
)

// PosError is an error at a position of crush map text. It wraps
// ErrSyntax or ErrInvalidMap.
type PosError struct {
	Line, Col int // 1-based
	Msg       string
	Kind      error // ErrSyntax or ErrInvalidMap
}

func (e *PosError) Error() string { return fmt.Sprintf("%d:%d: %s", e.Line, e.Col, e.Msg) }

// Unwrap returns the error's kind, so errors.Is(err, ErrSyntax) works.
func (e *PosError) Unwrap() error { return e.Kind }

func posErrorf(kind error, t token, format string, args ...any) error {
	return &PosError{Line: t.line, Col: t.col, Msg: fmt.Sprintf(format, args...), Kind: kind}
}
