package crush

import (
	"fmt"
	"strconv"
	"strings"
)

// token is one word of crush map text with its 1-based position.
type token struct {
	text string
	line int
	col  int
}

func (t token) String() string { return fmt.Sprintf("%d:%d", t.line, t.col) }

// lex splits crush map text into tokens. '#' starts a comment to the end
// of the line; braces and brackets are tokens of their own; everything
// else is separated by white space.
func lex(src string) []token {
	var toks []token
	for ln, line := range strings.Split(src, "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		start := -1
		flush := func(end int) {
			if start >= 0 {
				toks = append(toks, token{text: line[start:end], line: ln + 1, col: start + 1})
				start = -1
			}
		}
		for i := 0; i < len(line); i++ {
			c := line[i]
			switch {
			case c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f':
				flush(i)
			case c == '{' || c == '}' || c == '[' || c == ']':
				flush(i)
				toks = append(toks, token{text: line[i : i+1], line: ln + 1, col: i + 1})
			default:
				if start < 0 {
					start = i
				}
			}
		}
		flush(len(line))
	}
	return toks
}

// tokenStream is a cursor over tokens that produces positioned errors.
type tokenStream struct {
	toks []token
	pos  int
	end  token // position reported for "unexpected end of input"
}

func newTokenStream(src string) *tokenStream {
	toks := lex(src)
	lines := strings.Count(src, "\n") + 1
	return &tokenStream{toks: toks, end: token{line: lines, col: 1}}
}

func (s *tokenStream) atEOF() bool { return s.pos >= len(s.toks) }

func (s *tokenStream) peek() (token, bool) {
	if s.atEOF() {
		return token{}, false
	}
	return s.toks[s.pos], true
}

func (s *tokenStream) peekIs(text string) bool {
	t, ok := s.peek()
	return ok && t.text == text
}

func (s *tokenStream) errorf(t token, format string, args ...any) error {
	return posErrorf(ErrSyntax, t, format, args...)
}

// next returns the next token, or an error naming what was wanted.
func (s *tokenStream) next(want string) (token, error) {
	if s.atEOF() {
		return token{}, s.errorf(s.end, "unexpected end of input, expected %s", want)
	}
	t := s.toks[s.pos]
	s.pos++
	return t, nil
}

func (s *tokenStream) expect(text string) (token, error) {
	t, err := s.next(fmt.Sprintf("%q", text))
	if err != nil {
		return t, err
	}
	if t.text != text {
		return t, s.errorf(t, "expected %q, found %q", text, t.text)
	}
	return t, nil
}

func (s *tokenStream) name(what string) (token, error) {
	t, err := s.next(what)
	if err != nil {
		return t, err
	}
	if !ValidName(t.text) {
		return t, s.errorf(t, "invalid %s %q (use letters, digits, '-', '_' and '.')", what, t.text)
	}
	return t, nil
}

// integer reads a decimal integer in [lo, hi].
func (s *tokenStream) integer(what string, lo, hi int64) (int64, token, error) {
	t, err := s.next(what)
	if err != nil {
		return 0, t, err
	}
	if !isDecimal(t.text) {
		return 0, t, s.errorf(t, "expected %s (an integer), found %q", what, t.text)
	}
	v, err := strconv.ParseInt(t.text, 10, 64)
	if err != nil || v < lo || v > hi {
		return 0, t, s.errorf(t, "%s %s out of range %d..%d", what, t.text, lo, hi)
	}
	return v, t, nil
}

// real reads a real number in crushtool's syntax and rounds it to float32
// as strtof does.
func (s *tokenStream) real(what string) (float32, token, error) {
	t, err := s.next(what)
	if err != nil {
		return 0, t, err
	}
	if !isReal(t.text) {
		return 0, t, s.errorf(t, "expected %s (a number), found %q", what, t.text)
	}
	v, err := strconv.ParseFloat(t.text, 32)
	if err != nil {
		return 0, t, s.errorf(t, "%s %s out of range", what, t.text)
	}
	return float32(v), t, nil
}

// isDecimal reports whether s is an optionally negative run of digits.
func isDecimal(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isReal matches [+-]? (d+ (. d*)? | . d+) ([eE] [+-]? d+)?.
func isReal(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	intDigits := digits()
	fracDigits := 0
	if i < len(s) && s[i] == '.' {
		i++
		fracDigits = digits()
	}
	if intDigits == 0 && fracDigits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}
