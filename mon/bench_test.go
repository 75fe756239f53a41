package mon_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loligo/loligo/internal/testcluster"
	pb "github.com/loligo/loligo/proto/loligopb"
)

// BenchmarkMapChanges measures admin changes per second through one
// leader with an embedded etcd on this machine's disk: each change is a
// pool creation, acknowledged after its epoch is committed in etcd.
// "serial" is one client (one epoch per change); "parallel" is 32
// clients, whose changes the leader batches into shared epochs.
func BenchmarkMapChanges(b *testing.B) {
	for _, par := range []int{1, 32} {
		name := "serial"
		if par > 1 {
			name = fmt.Sprintf("parallel%d", par)
		}
		b.Run(name, func(b *testing.B) {
			c := testcluster.StartMons(b, 1, testcluster.Options{})
			cl := c.Client("client.admin", 0)
			var n atomic.Int64
			start := time.Now()
			b.ResetTimer()
			b.SetParallelism(par)
			if par == 1 {
				for i := 0; i < b.N; i++ {
					mustCreate(b, cl, fmt.Sprintf("p%d", n.Add(1)))
				}
			} else {
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						mustCreate(b, cl, fmt.Sprintf("p%d", n.Add(1)))
					}
				})
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "changes/s")
		})
	}
}

func mustCreate(b *testing.B, cl pb.MonClient, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := cl.Command(ctx, poolCreate(name, 1)); err != nil {
		b.Fatal(err)
	}
}
