package mon

import (
	"fmt"
	"maps"
	"time"

	"github.com/loligo/loligo/clustermap"
	"github.com/loligo/loligo/crush"
)

// initialCrush is a new cluster's CRUSH map, as a new Ceph cluster's:
// the optimal tunables, Ceph's bucket types, an empty root "default" and
// the rule replicated_rule, one copy per host.
const initialCrush = `tunable choose_local_tries 0
tunable choose_local_fallback_tries 0
tunable choose_total_tries 50
tunable chooseleaf_descend_once 1
tunable chooseleaf_vary_r 1
tunable chooseleaf_stable 1
tunable straw_calc_version 1
tunable allowed_bucket_algs 54

type 0 osd
type 1 host
type 2 chassis
type 3 rack
type 4 row
type 5 pdu
type 6 pod
type 7 room
type 8 datacenter
type 9 zone
type 10 region
type 11 root

root default {
	id -1
	alg straw2
	hash 0
}

rule replicated_rule {
	id 0
	type replicated
	min_size 1
	max_size 10
	step take default
	step chooseleaf firstn 0 type host
	step emit
}
`

// initialMap is epoch 1 of a new cluster: no OSDs, no pools, the default
// CRUSH map and the default erasure-code profile.
func initialMap(fsid string, now time.Time) (*clustermap.Map, error) {
	cm, err := crush.Compile(initialCrush)
	if err != nil {
		return nil, fmt.Errorf("mon: the built-in initial CRUSH map does not compile: %w", err)
	}
	m := &clustermap.Map{FSID: fsid, Epoch: 1, Crush: cm, OSDs: map[int32]*clustermap.OSD{},
		Pools: map[int64]*clustermap.Pool{}, Created: now, Modified: now,
		ECProfiles: map[string]map[string]string{"default": maps.Clone(defaultECProfile)}}
	if err := m.Finalize(); err != nil {
		return nil, err
	}
	return m, nil
}
