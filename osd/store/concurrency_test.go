package store

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pb "github.com/loligo/loligo/proto/loligopb"
)

func TestConcurrentWriters(t *testing.T) {
	// Writers of different objects of the same PGs share the PG info and
	// log; readers run alongside. The counts must come out right.
	s := openStore(t, inMem(smallOpts("")))
	var ver atomic.Uint64
	pgs := []PGID{testPG, {Pool: 1, PS: 2}}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 30 {
				pg := pgs[i%2]
				oid := fmt.Sprintf("w%d-%d", w, i%5)
				steps := []*pb.OpStep{writeFullStep(pattern(100*(i%9)+w, byte(i)))}
				if i%7 == 6 {
					steps = []*pb.OpStep{removeStep()}
				}
				v := &pb.Eversion{Epoch: 1, Version: ver.Add(1)}
				txn, _, err := s.Prepare(pg, oid, steps, v, time.Now())
				if errors.Is(err, ErrNotFound) {
					continue
				}
				if err == nil {
					err = s.Apply(pg, txn, &pb.LogEntry{Version: v, Oid: oid})
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 20 {
			if _, err := s.Check(); err != nil {
				errs <- err
				return
			}
			if _, _, err := s.List(testPG, "", 0); err != nil {
				errs <- err
				return
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	r := s.checkClean()
	var objs uint64
	for _, pg := range pgs {
		info, _ := s.Info(pg)
		objs += info.Objects
	}
	if objs != r.Objects {
		t.Fatalf("infos count %d objects, Check found %d", objs, r.Objects)
	}
}

func TestCloseWaits(t *testing.T) {
	s := openStore(t, inMem(smallOpts("")))
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				_, err := s.op(testPG, fmt.Sprintf("o%d", w), appendStep([]byte("x")))
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wantErr(t, s.Close(), nil)
	wg.Wait()
}
