package pki

import (
	"fmt"
	"strconv"
	"strings"
)

// MaxIDLen is the longest id of a non-OSD entity, in bytes.
const MaxIDLen = 64

// ValidEntity reports whether s is an entity name: TYPE.ID where TYPE is
// mon, osd, mds, client or rgw. An osd's ID is its number, in decimal
// without leading zeros or sign, at most 2^31-1 (osd.0, osd.12); any
// other ID is 1 to MaxIDLen letters, digits, '_' and '-' (mon.a,
// client.admin). The error wraps ErrBadEntity.
func ValidEntity(s string) error {
	typ, id, ok := strings.Cut(s, ".")
	if !ok {
		return fmt.Errorf("%w: %q: want TYPE.ID, such as osd.3 or client.admin", ErrBadEntity, s)
	}
	switch typ {
	case "osd":
		if id == "" || (id[0] == '0' && len(id) > 1) || !allDigits(id) {
			return fmt.Errorf("%w: %q: an osd's id is its number, such as osd.3", ErrBadEntity, s)
		}
		if _, err := strconv.ParseInt(id, 10, 32); err != nil {
			return fmt.Errorf("%w: %q: osd id out of range", ErrBadEntity, s)
		}
	case "mon", "mds", "client", "rgw":
		if id == "" || len(id) > MaxIDLen || !idChars(id) {
			return fmt.Errorf("%w: %q: the id must be 1 to %d letters, digits, '_' and '-'", ErrBadEntity, s, MaxIDLen)
		}
	default:
		return fmt.Errorf("%w: %q: unknown type %q (want mon, osd, mds, client or rgw)", ErrBadEntity, s, typ)
	}
	return nil
}

// ValidEtcdName reports whether s may name a certificate of the etcd CA:
// TYPE.ID where TYPE is mon (a monitor: etcd's client, and a member of an
// embedded etcd), etcd (a member of an external etcd cluster: its server
// and peer certificate) or breakglass (an operator reaching etcd
// directly, past every check of the monitors), and ID is as a non-OSD
// entity's in ValidEntity. The error wraps ErrBadEntity.
func ValidEtcdName(s string) error {
	typ, id, ok := strings.Cut(s, ".")
	if !ok {
		return fmt.Errorf("%w: %q: want mon.ID, etcd.ID or breakglass.ID for the etcd CA", ErrBadEntity, s)
	}
	switch typ {
	case "mon", "etcd", "breakglass":
		if id == "" || len(id) > MaxIDLen || !idChars(id) {
			return fmt.Errorf("%w: %q: the id must be 1 to %d letters, digits, '_' and '-'", ErrBadEntity, s, MaxIDLen)
		}
	default:
		return fmt.Errorf("%w: %q: the etcd CA certifies only monitors (mon.ID), external etcd members (etcd.ID) and break-glass operators (breakglass.ID), not %s", ErrBadEntity, s, typ)
	}
	return nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func idChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
