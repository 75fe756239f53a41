package crush

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

// map1MCases are the two rules of the speed anchor.
var map1MCases = []struct {
	name   string
	rule   int
	numRep int
}{
	{"rep3", 0, 3},
	{"indep6", 1, 6},
}

// BenchmarkMap1M maps x = 0..999,999 on m20_big_100osd (100 OSDs in
// root/rack/host/osd, straw2, jewel tunables) as crushtool's timing anchor
// does (shared/crush-vectors/tools/timing.sh):
//
//	rep3:  rule 0, chooseleaf firstn 0 type host, 3 replicas
//	indep6: rule 1, chooseleaf indep 0 type host, 6 positions
//
// One benchmark op is a full pass over the million inputs; the mappings/s
// metric is what to compare with crushtool --test --min-x 0 --max-x 999999.
func BenchmarkMap1M(b *testing.B) {
	m := loadMap(b, "m20_big_100osd")
	weights := m.Reweights(nil)
	for _, bc := range map1MCases {
		b.Run(bc.name, func(b *testing.B) {
			mp := m.NewMapper()
			args := m.ChooseArgsFor(0)
			out := make([]int32, 0, bc.numRep)
			const n = 1_000_000
			b.ReportAllocs()
			start := time.Now()
			for b.Loop() {
				for x := uint32(0); x < n; x++ {
					out = mp.Do(bc.rule, x, bc.numRep, weights, args, out)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/time.Since(start).Seconds(), "mappings/s")
		})
	}
}

// BenchmarkMap1MParallel is BenchmarkMap1M spread over GOMAXPROCS
// goroutines, one Mapper each, sharing the map: how placement scales on a
// client or monitor computing many PGs at once.
func BenchmarkMap1MParallel(b *testing.B) {
	m := loadMap(b, "m20_big_100osd")
	weights := m.Reweights(nil)
	for _, bc := range map1MCases {
		b.Run(bc.name, func(b *testing.B) {
			const n = 1_000_000
			procs := runtime.GOMAXPROCS(0)
			start := time.Now()
			for b.Loop() {
				var wg sync.WaitGroup
				for p := 0; p < procs; p++ {
					wg.Add(1)
					go func(p int) {
						defer wg.Done()
						mp := m.NewMapper()
						args := m.ChooseArgsFor(0)
						out := make([]int32, 0, bc.numRep)
						for x := uint32(p); x < n; x += uint32(procs) {
							out = mp.Do(bc.rule, x, bc.numRep, weights, args, out)
						}
					}(p)
				}
				wg.Wait()
			}
			b.ReportMetric(float64(n)*float64(b.N)/time.Since(start).Seconds(), "mappings/s")
		})
	}
}
