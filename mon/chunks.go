package mon

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"

	pb "github.com/loligo/loligo/proto/loligopb"
)

// How values too large for one etcd request are stored (see store): etcd
// refuses a request above --max-request-bytes (1.5 MiB by default, and
// external clusters keep their operators' settings) and clientv3 sends
// at most 2 MiB, while the map of a large cluster, and the incremental
// that carries its new CRUSH map, run to megabytes.
//
// A value of up to inlineMax bytes is stored as it is, as the monitors
// always did. A larger one is cut into chunks at points its content
// chooses (a rolling hash over the last 64 bytes, as content-defined
// chunking does), each chunk stored once under the SHA-256 of its bytes,
// and the value's key holds a manifest naming them. An epoch that
// changes one OSD changes the bytes around that OSD's entry and the
// epoch at the start: the chunks elsewhere are the same as the last
// epoch's and are not written again, and the incremental that carries a
// CRUSH map shares its chunks with the map. Every byte read back is
// checked against the SHA-256 that names it, and the whole value against
// the manifest's, so a torn or mixed read is an error, never a wrong map.
const (
	// inlineMax is the largest value stored inline. An epoch's
	// transaction holds at most two (the map and its incremental), far
	// below etcd's default 1.5 MiB request limit.
	inlineMax = 256 << 10
	// chunkMin and chunkMax bound a chunk (but the last); cut points
	// come every 64 KiB on average past chunkMin.
	chunkMin = 16 << 10
	chunkMax = 256 << 10
	// chunkWriteBytes bounds the chunk bytes written in one etcd
	// request: well under etcd's 1.5 MiB default limit.
	chunkWriteBytes = 1 << 20
	// manifestTag starts a stored manifest. A protobuf message never
	// starts with a zero byte (field number 0 does not exist), so a
	// value written inline, by this code or by older monitors, is never
	// mistaken for one.
	manifestTag = 0x00
)

// cutMask selects the top 16 bits of the rolling hash, which depend on
// the last 64 bytes: a cut where they are zero comes every 64 KiB on
// average.
const cutMask = uint64(0xffff) << 48

// gear is the rolling hash's table: fixed pseudo-random numbers
// (splitmix64 from a fixed seed). Changing it changes where values are
// cut, which only costs sharing with chunks written before: a manifest
// names its chunks, wherever they were cut.
var gear = func() (g [256]uint64) {
	x := uint64(0x6c6f6c69676f) // "loligo"
	for i := range g {
		x += 0x9e3779b97f4a7c15
		z := x
		z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
		z = (z ^ z>>27) * 0x94d049bb133111eb
		g[i] = z ^ z>>31
	}
	return g
}()

// cutPoints returns where b is cut into chunks: the end offset of each.
func cutPoints(b []byte) []int {
	var ends []int
	for start := 0; start < len(b); {
		end := min(start+chunkMax, len(b))
		cut := end
		var h uint64
		for i := start + chunkMin; i < end; i++ {
			h = h<<1 + gear[b[i]]
			if h&cutMask == 0 {
				cut = i + 1
				break
			}
		}
		ends = append(ends, cut)
		start = cut
	}
	return ends
}

// chunkID names a chunk: the SHA-256 of its bytes.
type chunkID [sha256.Size]byte

func (id chunkID) String() string { return hex.EncodeToString(id[:]) }

// storedValue is a value as it is stored: what its key holds, and, for a
// chunked value, the chunks (each once, in the order first used).
type storedValue struct {
	key    []byte // the value inline, or manifestTag + manifest
	size   int    // the whole value's length
	sum    [sha256.Size]byte
	ids    []chunkID // distinct chunks; nil when inline
	chunks map[chunkID][]byte
}

// chunked reports whether the value is stored as chunks.
func (v *storedValue) chunked() bool { return v.ids != nil }

// encodeValue prepares b for storing: inline when small, else cut into
// chunks with a manifest.
func encodeValue(b []byte) (*storedValue, error) {
	v := &storedValue{size: len(b), sum: sha256.Sum256(b)}
	if len(b) <= inlineMax {
		v.key = b
		return v, nil
	}
	man := &pb.ChunkManifest{Length: uint64(len(b)), Sha256: v.sum[:]}
	v.chunks = map[chunkID][]byte{}
	start := 0
	for _, end := range cutPoints(b) {
		c := b[start:end]
		id := chunkID(sha256.Sum256(c))
		if _, dup := v.chunks[id]; !dup {
			v.chunks[id] = c
			v.ids = append(v.ids, id)
		}
		man.Chunks = append(man.Chunks, id[:])
		man.Sizes = append(man.Sizes, uint32(len(c)))
		start = end
	}
	mb, err := proto.Marshal(man)
	if err != nil {
		return nil, err
	}
	v.key = append([]byte{manifestTag}, mb...)
	return v, nil
}

// decodeStored reads what a key holds: the value itself (inline), or the
// manifest of a chunked value and the chunks it names, each once.
func decodeStored(key []byte) (inline []byte, man *pb.ChunkManifest, ids []chunkID, err error) {
	if len(key) == 0 || key[0] != manifestTag {
		return key, nil, nil, nil
	}
	man = &pb.ChunkManifest{}
	if err := proto.Unmarshal(key[1:], man); err != nil {
		return nil, nil, nil, fmt.Errorf("chunk manifest does not decode: %w", err)
	}
	if len(man.GetChunks()) != len(man.GetSizes()) || len(man.GetSha256()) != sha256.Size {
		return nil, nil, nil, fmt.Errorf("chunk manifest is malformed: %d chunks, %d sizes, %d-byte checksum",
			len(man.GetChunks()), len(man.GetSizes()), len(man.GetSha256()))
	}
	var total uint64
	seen := map[chunkID]bool{}
	for i, c := range man.GetChunks() {
		if len(c) != sha256.Size {
			return nil, nil, nil, fmt.Errorf("chunk manifest names chunk %d by %d bytes, not a SHA-256", i, len(c))
		}
		total += uint64(man.GetSizes()[i])
		id := chunkID(c)
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	if total != man.GetLength() {
		return nil, nil, nil, fmt.Errorf("chunk manifest's chunks hold %d bytes, its length is %d", total, man.GetLength())
	}
	if ids == nil {
		ids = []chunkID{} // an empty chunked value is still chunked
	}
	return nil, man, ids, nil
}

// storedSum returns the SHA-256 of the value a key holds, inline or
// chunked (from its manifest).
func storedSum(key []byte) ([sha256.Size]byte, error) {
	inline, man, _, err := decodeStored(key)
	if err != nil {
		return [sha256.Size]byte{}, err
	}
	if man == nil {
		return sha256.Sum256(inline), nil
	}
	return [sha256.Size]byte(man.GetSha256()), nil
}

// assemble rebuilds a chunked value from its manifest and its chunks
// (by id; missing ones are an error) and checks every checksum.
func assemble(man *pb.ChunkManifest, chunks map[chunkID][]byte) ([]byte, error) {
	out := make([]byte, 0, man.GetLength())
	for i, c := range man.GetChunks() {
		id := chunkID(c)
		b, ok := chunks[id]
		if !ok {
			return nil, fmt.Errorf("chunk %s is missing", id)
		}
		if len(b) != int(man.GetSizes()[i]) || sha256.Sum256(b) != id {
			return nil, fmt.Errorf("chunk %s holds %d bytes that are not the chunk", id, len(b))
		}
		out = append(out, b...)
	}
	if sum := sha256.Sum256(out); uint64(len(out)) != man.GetLength() || !bytes.Equal(sum[:], man.GetSha256()) {
		return nil, fmt.Errorf("chunked value of %d bytes does not match its manifest's checksum", len(out))
	}
	return out, nil
}

// chunkRefs is the leader's count of references to stored chunks: from
// the current map and from each kept incremental. A chunk nothing
// references is deleted. Only the leader goroutine uses it.
type chunkRefs struct {
	n      map[chunkID]int
	mapIDs []chunkID            // the current map's chunks (distinct)
	incIDs map[uint64][]chunkID // chunked incrementals' chunks, by epoch
}

func newChunkRefs(mapIDs []chunkID, incIDs map[uint64][]chunkID) *chunkRefs {
	r := &chunkRefs{n: map[chunkID]int{}, mapIDs: mapIDs, incIDs: incIDs}
	for _, id := range mapIDs {
		r.n[id]++
	}
	for _, ids := range incIDs {
		for _, id := range ids {
			r.n[id]++
		}
	}
	return r
}

// has reports whether a committed value references chunk id, which is
// then in etcd.
func (r *chunkRefs) has(id chunkID) bool { return r.n[id] > 0 }

// next returns the references after the commit of epoch, whose map has
// chunks mapIDs and whose incremental incIDs (nil when inline), and
// which trims the incrementals before epoch-window+1; and the chunks
// nothing references any more, sorted. r itself is not changed, so a
// failed commit leaves it as it was.
func (r *chunkRefs) next(epoch, window uint64, mapIDs, incIDs []chunkID) (*chunkRefs, []chunkID) {
	n := &chunkRefs{n: make(map[chunkID]int, len(r.n)), mapIDs: mapIDs, incIDs: make(map[uint64][]chunkID, len(r.incIDs)+1)}
	for id, c := range r.n {
		n.n[id] = c
	}
	var dropped []chunkID
	drop := func(ids []chunkID) {
		for _, id := range ids {
			if n.n[id]--; n.n[id] <= 0 {
				delete(n.n, id)
				dropped = append(dropped, id)
			}
		}
	}
	drop(r.mapIDs)
	for e, ids := range r.incIDs {
		if epoch > window && e <= epoch-window {
			drop(ids)
			continue
		}
		n.incIDs[e] = ids
	}
	for _, id := range mapIDs {
		n.n[id]++
	}
	if incIDs != nil {
		n.incIDs[epoch] = incIDs
		for _, id := range incIDs {
			n.n[id]++
		}
	}
	var dead []chunkID
	for _, id := range dropped {
		if n.n[id] == 0 {
			dead = append(dead, id)
		}
	}
	slices.SortFunc(dead, func(a, b chunkID) int { return bytes.Compare(a[:], b[:]) })
	return n, slices.Compact(dead)
}
