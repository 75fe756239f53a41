package store

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	pb "github.com/loligo/loligo/proto/loligopb"
)

// PGID names a placement group: a pool and a placement seed.
type PGID struct {
	Pool int64
	PS   uint32
}

// String is Ceph's form: pool, a dot, the seed in hex ("1.1f").
func (p PGID) String() string { return fmt.Sprintf("%d.%x", p.Pool, p.PS) }

// MaxNameLen is the longest object name (in bytes).
const MaxNameLen = 2048

// Key families (see doc.go).
const (
	prefixPG     = 'P'
	prefixGlobal = 'G'

	famData     = 'D'
	famInfo     = 'I'
	famLog      = 'L'
	famMeta     = 'M'
	famOmap     = 'O'
	famRollback = 'R'

	globalFormat  = 'V'
	globalPending = 'p'

	pgPrefixLen = 1 + 8 + 4
)

// checkName validates an object name.
func checkName(oid string) error {
	if len(oid) == 0 || len(oid) > MaxNameLen || strings.IndexByte(oid, 0) >= 0 || !utf8.ValidString(oid) {
		return fmt.Errorf("object name of %d bytes (1..%d bytes of UTF-8 without NUL): %w", len(oid), MaxNameLen, ErrInvalid)
	}
	return nil
}

func appendPGID(b []byte, pg PGID) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(pg.Pool)^(1<<63))
	return binary.BigEndian.AppendUint32(b, pg.PS)
}

func decodePGID(b []byte) PGID {
	return PGID{
		Pool: int64(binary.BigEndian.Uint64(b) ^ (1 << 63)),
		PS:   binary.BigEndian.Uint32(b[8:]),
	}
}

func pgPrefix(pg PGID) []byte {
	b := make([]byte, 0, 64)
	b = append(b, prefixPG)
	return appendPGID(b, pg)
}

// pgEnd is the first key after every key of pg.
func pgEnd(pg PGID) []byte { return prefixEnd(pgPrefix(pg)) }

func famKey(pg PGID, fam byte) []byte { return append(pgPrefix(pg), fam) }

func infoKey(pg PGID) []byte { return famKey(pg, famInfo) }

func metaKey(pg PGID, oid string) []byte { return append(famKey(pg, famMeta), oid...) }

func appendEversion(b []byte, v *pb.Eversion) []byte {
	b = binary.BigEndian.AppendUint64(b, v.GetEpoch())
	return binary.BigEndian.AppendUint64(b, v.GetVersion())
}

func logKey(pg PGID, v *pb.Eversion) []byte { return appendEversion(famKey(pg, famLog), v) }

// objKey is the prefix of an object's keys of a length-prefixed family.
func objKey(pg PGID, fam byte, oid string) []byte {
	b := famKey(pg, fam)
	b = binary.BigEndian.AppendUint16(b, uint16(len(oid)))
	return append(b, oid...)
}

func dataKey(pg PGID, oid string, gen uint64, idx uint32) []byte {
	b := objKey(pg, famData, oid)
	b = binary.BigEndian.AppendUint64(b, gen)
	return binary.BigEndian.AppendUint32(b, idx)
}

// genEnd is the first data key after every chunk of gen.
func genEnd(pg PGID, oid string, gen uint64) []byte {
	if gen == math.MaxUint64 {
		return prefixEnd(objKey(pg, famData, oid))
	}
	return dataKey(pg, oid, gen+1, 0)
}

func omapKey(pg PGID, oid, key string) []byte { return append(objKey(pg, famOmap, oid), key...) }

// rollbackPrefix is the prefix of the rollback record of the log entry v
// (one record per entry).
func rollbackPrefix(pg PGID, v *pb.Eversion) []byte {
	return appendEversion(famKey(pg, famRollback), v)
}

// rollbackKey is the key of the rollback record of the log entry v on
// object oid, which keeps generation kept (0: none) alive.
func rollbackKey(pg PGID, v *pb.Eversion, kept uint64, oid string) []byte {
	b := binary.BigEndian.AppendUint64(rollbackPrefix(pg, v), kept)
	return append(b, oid...)
}

// rollbackUpTo is the first rollback key after every record of an entry
// at or before v.
func rollbackUpTo(pg PGID, v *pb.Eversion) []byte { return prefixEnd(rollbackPrefix(pg, v)) }

func formatKey() []byte { return []byte{prefixGlobal, globalFormat} }

func pendingPrefix() []byte { return []byte{prefixGlobal, globalPending} }

func pendingKey(pg PGID, gen uint64, oid string) []byte {
	b := pendingPrefix()
	b = appendPGID(b, pg)
	b = binary.BigEndian.AppendUint64(b, gen)
	return append(b, oid...)
}

// prefixEnd returns the smallest key greater than every key with prefix p
// (nil when there is none).
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}

// keyKind says what a key is.
type keyKind int

const (
	kindData keyKind = iota + 1
	kindInfo
	kindLog
	kindMeta
	kindOmap
	kindFormat
	kindPending
	kindRollback
)

// key is a decoded key.
type key struct {
	kind keyKind
	pg   PGID
	oid  string
	gen  uint64 // data and pending: the generation; rollback: the one kept (0: none)
	idx  uint32
	omap string
	ver  *pb.Eversion
}

// encode is the inverse of decodeKey.
func (k *key) encode() []byte {
	switch k.kind {
	case kindData:
		return dataKey(k.pg, k.oid, k.gen, k.idx)
	case kindInfo:
		return infoKey(k.pg)
	case kindLog:
		return logKey(k.pg, k.ver)
	case kindMeta:
		return metaKey(k.pg, k.oid)
	case kindOmap:
		return omapKey(k.pg, k.oid, k.omap)
	case kindFormat:
		return formatKey()
	case kindPending:
		return pendingKey(k.pg, k.gen, k.oid)
	case kindRollback:
		return rollbackKey(k.pg, k.ver, k.gen, k.oid)
	}
	return nil
}

var errBadKey = fmt.Errorf("undecodable key: %w", ErrCorrupt)

// decodeKey parses a key of the store's layout.
func decodeKey(b []byte) (key, error) {
	if len(b) == 0 {
		return key{}, errBadKey
	}
	switch b[0] {
	case prefixGlobal:
		if len(b) == 2 && b[1] == globalFormat {
			return key{kind: kindFormat}, nil
		}
		if len(b) > 2+12+8 && b[1] == globalPending {
			oid := string(b[2+12+8:])
			if checkName(oid) != nil {
				return key{}, errBadKey
			}
			return key{kind: kindPending, pg: decodePGID(b[2:]), gen: binary.BigEndian.Uint64(b[14:]), oid: oid}, nil
		}
		return key{}, errBadKey
	case prefixPG:
	default:
		return key{}, errBadKey
	}
	if len(b) < pgPrefixLen+1 {
		return key{}, errBadKey
	}
	k := key{pg: decodePGID(b[1:])}
	rest := b[pgPrefixLen+1:]
	switch b[pgPrefixLen] {
	case famInfo:
		if len(rest) != 0 {
			return key{}, errBadKey
		}
		k.kind = kindInfo
	case famLog:
		if len(rest) != 16 {
			return key{}, errBadKey
		}
		k.kind = kindLog
		k.ver = &pb.Eversion{Epoch: binary.BigEndian.Uint64(rest), Version: binary.BigEndian.Uint64(rest[8:])}
	case famRollback:
		if len(rest) < 16+8+1 {
			return key{}, errBadKey
		}
		k.kind = kindRollback
		k.ver = &pb.Eversion{Epoch: binary.BigEndian.Uint64(rest), Version: binary.BigEndian.Uint64(rest[8:])}
		k.gen = binary.BigEndian.Uint64(rest[16:])
		k.oid = string(rest[24:])
		if checkName(k.oid) != nil {
			return key{}, errBadKey
		}
	case famMeta:
		k.kind, k.oid = kindMeta, string(rest)
		if checkName(k.oid) != nil {
			return key{}, errBadKey
		}
	case famData, famOmap:
		if len(rest) < 2 {
			return key{}, errBadKey
		}
		n := int(binary.BigEndian.Uint16(rest))
		if len(rest) < 2+n {
			return key{}, errBadKey
		}
		k.oid = string(rest[2 : 2+n])
		if checkName(k.oid) != nil {
			return key{}, errBadKey
		}
		rest = rest[2+n:]
		if b[pgPrefixLen] == famOmap {
			if len(rest) == 0 {
				return key{}, errBadKey
			}
			k.kind, k.omap = kindOmap, string(rest)
			break
		}
		if len(rest) != 12 {
			return key{}, errBadKey
		}
		k.kind, k.gen, k.idx = kindData, binary.BigEndian.Uint64(rest), binary.BigEndian.Uint32(rest[8:])
	default:
		return key{}, errBadKey
	}
	return k, nil
}

// evLess orders eversions by epoch, then version (as log keys do).
func evLess(a, b *pb.Eversion) bool { return evCompare(a, b) < 0 }

func evCompare(a, b *pb.Eversion) int {
	if c := cmp.Compare(a.GetEpoch(), b.GetEpoch()); c != 0 {
		return c
	}
	return cmp.Compare(a.GetVersion(), b.GetVersion())
}
