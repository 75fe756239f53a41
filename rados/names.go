package rados

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	pb "github.com/loligo/loligo/proto/loligopb"
)

// MaxObjectNameLen is the longest object name, in bytes, that the OSDs'
// stores accept.
const MaxObjectNameLen = 2048

// checkObjectName refuses what the OSDs would refuse, or what could not
// be sent at all (a proto string must be UTF-8), before anything is
// sent: object names are 1..MaxObjectNameLen bytes of UTF-8 without NUL.
func checkObjectName(pool, oid string) error {
	var why string
	switch {
	case oid == "":
		why = "is empty"
	case !utf8.ValidString(oid):
		why = "is not valid UTF-8"
	case len(oid) > MaxObjectNameLen:
		why = fmt.Sprintf("has %d bytes, more than the %d an object name may have", len(oid), MaxObjectNameLen)
	case strings.IndexByte(oid, 0) >= 0:
		why = "holds a NUL byte"
	default:
		return nil
	}
	return &Error{Kind: ErrBadName, Step: -1,
		Msg: fmt.Sprintf("%s/%s: the object name %s (object names are 1..%d bytes of UTF-8 without NUL)",
			pool, quoteName(oid), why, MaxObjectNameLen)}
}

// checkStepNames refuses a step whose xattr name, omap keys or listing
// bounds are not UTF-8: they are proto strings, which cannot be sent
// otherwise.
func checkStepNames(what string, i int, s *pb.OpStep) error {
	bad := func(kind, v string) error {
		return &Error{Kind: ErrBadName, Step: i,
			Msg: fmt.Sprintf("%s: step %d (%s): the %s %s is not valid UTF-8", what, i, stepName(s.GetCode()), kind, quoteName(v))}
	}
	if n := s.GetName(); !utf8.ValidString(n) {
		return bad("xattr name", n)
	}
	for k := range s.GetKv() {
		if !utf8.ValidString(k) {
			return bad("omap key", k)
		}
	}
	for _, k := range s.GetKeys() {
		if !utf8.ValidString(k) {
			return bad("omap key", k)
		}
	}
	if k := s.GetStartAfter(); !utf8.ValidString(k) {
		return bad("start key", k)
	}
	if k := s.GetPrefix(); !utf8.ValidString(k) {
		return bad("key prefix", k)
	}
	return nil
}

// checkStrings refuses a request holding a string field (at any depth,
// in lists and map keys and values too) that is not UTF-8, naming the
// field: gRPC would refuse to marshal it with a message that says
// neither which field nor why.
func checkStrings(what string, m proto.Message) error {
	if path, v, ok := badString(m.ProtoReflect(), ""); ok {
		return &Error{Kind: ErrBadName, Step: -1,
			Msg: fmt.Sprintf("%s: %s %s is not valid UTF-8", what, path, quoteName(v))}
	}
	return nil
}

func badString(m protoreflect.Message, path string) (string, string, bool) {
	var (
		badPath, badVal string
		found           bool
	)
	check := func(p string, fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch fd.Kind() {
		case protoreflect.StringKind:
			if s := v.String(); !utf8.ValidString(s) {
				badPath, badVal, found = p, s, true
			}
		case protoreflect.MessageKind, protoreflect.GroupKind:
			badPath, badVal, found = badString(v.Message(), p+".")
		}
		return !found
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		p := path + string(fd.Name())
		switch {
		case fd.IsList():
			l := v.List()
			for i := range l.Len() {
				if !check(p+"["+strconv.Itoa(i)+"]", fd, l.Get(i)) {
					return false
				}
			}
		case fd.IsMap():
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				if fd.MapKey().Kind() == protoreflect.StringKind && !utf8.ValidString(k.String()) {
					badPath, badVal, found = p+" key", k.String(), true
					return false
				}
				return check(p+"["+strconv.Quote(k.String())+"]", fd.MapValue(), mv)
			})
		default:
			check(p, fd, v)
		}
		return !found
	})
	return badPath, badVal, found
}

// quoteName prints a name in an error: as it is when it is printable
// UTF-8, else quoted with Go escapes, so that the bad bytes show.
func quoteName(s string) string {
	if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return strconv.Quote(s)
	}
	return s
}
