package clustermap

import (
	"testing"

	"github.com/loligo/loligo/crush"
	pb "github.com/loligo/loligo/proto/loligopb"
	"google.golang.org/protobuf/proto"
)

// FuzzFromProto: any bytes either fail to decode, fail validation with an
// error, or give a map whose placements compute without panics and whose
// sets hold only existing OSDs or holes.
func FuzzFromProto(f *testing.F) {
	// A small seed: the fuzzer minimizes every new input, which is slow
	// for big ones.
	cm, err := crush.Compile(`device 0 a
device 1 b
device 2 c
type 0 osd
type 1 root
root r {
	id -1
	alg straw2
	item a weight 1
	item b weight 2
	item c weight 1
}
rule rep {
	id 0
	type replicated
	step take r
	step choose firstn 0 type osd
	step emit
}
`)
	if err != nil {
		f.Fatal(err)
	}
	m := &Map{Crush: cm, OSDs: map[int32]*OSD{}, Pools: map[int64]*Pool{
		1: {ID: 1, Name: "p", Type: PoolReplicated, Size: 2, MinSize: 1, PGNum: 8, PGPNum: 8, Flags: FlagHashPSPool},
	}}
	for i := int32(0); i < 3; i++ {
		m.OSDs[i] = &OSD{ID: i, Up: i != 1, Weight: crush.WeightOne, PrimaryAffinity: crush.WeightOne}
	}
	if err := m.Finalize(); err != nil {
		f.Fatal(err)
	}
	b, err := proto.Marshal(m.ToProto())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var pm pb.OSDMap
		if proto.Unmarshal(data, &pm) != nil {
			return
		}
		m, err := FromProto(&pm)
		if err != nil {
			return
		}
		for _, id := range m.PoolIDs() {
			for seed := uint32(0); seed < 4; seed++ {
				pl, err := m.Place(PGID{Pool: id, Seed: seed})
				if err != nil {
					t.Fatal(err)
				}
				for _, o := range append(pl.Up, pl.Acting...) {
					if o != NoOSD && !m.Exists(o) {
						t.Fatalf("pg %d.%x places on osd.%d, which does not exist", id, seed, o)
					}
				}
			}
		}
	})
}
