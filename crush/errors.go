package crush

import "errors"

// Sentinel errors. Callers distinguish them with errors.Is.
var (
	// ErrInvalidMap means a map is structurally wrong: a missing item, a
	// cycle, weights that do not fit, a bad rule step.
	ErrInvalidMap = errors.New("crush: invalid map")
	// ErrSyntax means crush map text could not be parsed; the wrapped
	// message carries the line and column.
	ErrSyntax = errors.New("crush: syntax error")
)
