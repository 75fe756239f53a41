package rados_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/loligo/loligo/rados"
)

// Overwrite, append, truncate, zero and remove through the whole path
// (client, primary, replicas, store) behave as a []byte does: a
// randomized sequence with a fixed seed, checked after every step, over
// sizes that cross the inline limit (4 KiB), chunk boundaries (64 KiB)
// and the ingest threshold (1 MiB).
func TestObjectSemanticsModel(t *testing.T) {
	cl := startCluster(t)
	c := connect(t, cl, rados.Options{})
	io := openPool(t, c, "data")
	rng := rand.New(rand.NewPCG(4, 2026))
	oids := []string{"model-a", "model-b", "model-c"}
	model := map[string][]byte{} // nil: absent
	sizes := []int{0, 1, 100, 4095, 4096, 4097, 65535, 65536, 65537, 200000, 1 << 20, 1<<20 + 3}
	payload := func() []byte {
		b := make([]byte, sizes[rng.IntN(len(sizes))])
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	for step := range 250 {
		ctx := testCtx(t)
		oid := oids[rng.IntN(len(oids))]
		cur, exists := model[oid], model[oid] != nil
		var what string
		var err error
		switch op := rng.IntN(7); op {
		case 0:
			d := payload()
			what = fmt.Sprintf("write_full %d", len(d))
			err = io.WriteFull(ctx, oid, d)
			model[oid] = d
		case 1:
			d := payload()
			off := uint64(rng.IntN(len(cur) + 70000))
			what = fmt.Sprintf("write %d at %d", len(d), off)
			err = io.Write(ctx, oid, d, off)
			n := max(uint64(len(cur)), off+uint64(len(d)))
			if len(d) == 0 {
				n = uint64(len(cur)) // as pwrite: writing nothing extends nothing
			}
			next := make([]byte, n)
			copy(next, cur)
			if len(d) > 0 {
				copy(next[off:], d)
			}
			model[oid] = next
		case 2:
			d := payload()
			what = fmt.Sprintf("append %d", len(d))
			err = io.Append(ctx, oid, d)
			model[oid] = append(append([]byte{}, cur...), d...)
		case 3:
			n := uint64(rng.IntN(len(cur) + 70000))
			what = fmt.Sprintf("truncate %d", n)
			err = io.Truncate(ctx, oid, n)
			next := make([]byte, n)
			copy(next, cur)
			model[oid] = next
		case 4:
			off, n := uint64(rng.IntN(len(cur)+10)), uint64(rng.IntN(100000))
			what = fmt.Sprintf("zero %d at %d", n, off)
			err = io.Zero(ctx, oid, off, n)
			if !exists {
				if !errors.Is(err, rados.ErrNotFound) {
					t.Fatalf("step %d: %s on an absent object: %v, want not found", step, what, err)
				}
				continue
			}
			next := append([]byte{}, cur...)
			for i := off; i < min(off+n, uint64(len(next))); i++ {
				next[i] = 0
			}
			model[oid] = next
		case 5:
			what = "remove"
			err = io.Remove(ctx, oid)
			if !exists {
				if !errors.Is(err, rados.ErrNotFound) {
					t.Fatalf("step %d: remove of an absent object: %v, want not found", step, err)
				}
				continue
			}
			model[oid] = nil
		case 6:
			what = "read"
			got, rerr := io.Read(ctx, oid, 0, 0)
			if !exists {
				if !errors.Is(rerr, rados.ErrNotFound) {
					t.Fatalf("step %d: read of an absent object: %v", step, rerr)
				}
				continue
			}
			err = rerr
			if err == nil && !bytes.Equal(got, cur) {
				t.Fatalf("step %d: read %d bytes, model holds %d", step, len(got), len(cur))
			}
		}
		if err != nil {
			t.Fatalf("step %d: %s on %s: %v", step, what, oid, err)
		}
		if want := model[oid]; want != nil {
			st, err := io.Stat(ctx, oid)
			if err != nil || st.Size != uint64(len(want)) {
				t.Fatalf("step %d after %s: stat %+v %v, model size %d", step, what, st, err, len(want))
			}
			if rng.IntN(3) == 0 {
				off := uint64(rng.IntN(len(want) + 1))
				n := uint64(rng.IntN(len(want)+1-int(off)) + 1)
				got, err := io.Read(ctx, oid, off, n)
				end := min(off+n, uint64(len(want)))
				if err != nil || !bytes.Equal(got, want[off:end]) {
					t.Fatalf("step %d after %s: read %d at %d: %d bytes, %v; model differs", step, what, n, off, len(got), err)
				}
			}
		}
	}
}
