package osd_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/loligo/loligo/rados"
)

// regInput is one operation on a register kept in an object's xattr.
type regInput struct {
	key      string
	op       string // read, write, cas
	old, new string
}

type regOutput struct {
	value   string // read: the value ("" absent)
	ok      bool   // cas: swapped
	unknown bool   // the op failed or timed out: it may or may not have taken effect
}

// registerModel is a set of registers, partitioned by key.
var registerModel = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		by := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range h {
			k := op.Input.(regInput).key
			if _, ok := by[k]; !ok {
				keys = append(keys, k)
			}
			by[k] = append(by[k], op)
		}
		var out [][]porcupine.Operation
		for _, k := range keys {
			out = append(out, by[k])
		}
		return out
	},
	Init: func() any { return "" },
	Step: func(state, input, output any) (bool, any) {
		in, out, s := input.(regInput), output.(regOutput), state.(string)
		switch in.op {
		case "read":
			return out.value == s, s
		case "write":
			return true, in.new
		default: // cas
			if out.unknown {
				if s == in.old {
					return true, in.new
				}
				return true, s
			}
			if out.ok {
				return s == in.old, in.new
			}
			return s != in.old, s
		}
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(regInput), output.(regOutput)
		return fmt.Sprintf("%s %s(%q,%q) -> %+v", in.key, in.op, in.old, in.new, out)
	},
}

// Concurrent reads, writes and compare-and-sets on a few objects, while
// one OSD is stopped and started again, form a linearizable history.
func TestLinearizableWithRestart(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	conn, err := rados.Connect(ctx, rados.Options{ConfPath: c.ConfPath, Timeout: 60 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io, err := conn.OpenPool(ctx, "data")
	if err != nil {
		t.Fatal(err)
	}
	keys := []string{"reg-a", "reg-b", "reg-c"}
	const clients, opsEach = 6, 150
	t0 := time.Now()
	var mu sync.Mutex
	var history []porcupine.Operation
	var wg sync.WaitGroup
	stop := make(chan struct{})
	restarted := make(chan struct{})
	go func() {
		defer close(restarted)
		select {
		case <-time.After(300 * time.Millisecond):
		case <-stop:
			return
		}
		victim := len(c.OSDs) - 1
		c.StopOSD(victim)
		time.Sleep(500 * time.Millisecond)
		c.StartOSD(victim)
	}()
	for cl := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(cl), 42))
			for i := range opsEach {
				in := regInput{key: keys[rng.IntN(len(keys))]}
				switch r := rng.IntN(10); {
				case r < 4:
					in.op = "read"
				case r < 7:
					in.op, in.new = "write", fmt.Sprintf("c%d-%d", cl, i)
				default:
					in.op, in.old, in.new = "cas", fmt.Sprintf("c%d-%d", rng.IntN(clients), rng.IntN(i+1)), fmt.Sprintf("c%d-%d", cl, i)
				}
				call := time.Since(t0).Nanoseconds()
				out := runReg(ctx, io, in)
				ret := time.Since(t0).Nanoseconds()
				if out.unknown {
					if in.op == "read" {
						continue // a failed read constrains nothing
					}
					ret = math.MaxInt64 // it may take effect at any later time
				}
				mu.Lock()
				history = append(history, porcupine.Operation{ClientId: cl, Input: in, Call: call, Output: out, Return: ret})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-restarted
	res := porcupine.CheckOperationsTimeout(registerModel, history, time.Minute)
	if res == porcupine.Illegal {
		t.Fatalf("history of %d operations is not linearizable", len(history))
	}
	if res == porcupine.Unknown {
		t.Logf("linearizability check timed out on %d operations", len(history))
	}
	var unknown int
	for _, op := range history {
		if op.Output.(regOutput).unknown {
			unknown++
		}
	}
	t.Logf("%d operations checked, %d with unknown outcome", len(history), unknown)
	if unknown > len(history)/2 {
		t.Errorf("%d of %d operations failed; the cluster did not serve through the restart", unknown, len(history))
	}
}

func runReg(ctx context.Context, io *rados.IOContext, in regInput) regOutput {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	switch in.op {
	case "read":
		v, err := io.GetXattr(ctx, in.key, "v")
		if errors.Is(err, rados.ErrNotFound) || errors.Is(err, rados.ErrNoData) {
			return regOutput{}
		}
		if err != nil {
			return regOutput{unknown: true}
		}
		return regOutput{value: string(v)}
	case "write":
		if err := io.SetXattr(ctx, in.key, "v", []byte(in.new)); err != nil {
			return regOutput{unknown: true}
		}
		return regOutput{}
	default:
		op := rados.NewWriteOp()
		op.CmpXattr("v", rados.CmpEQ, []byte(in.old))
		op.SetXattr("v", []byte(in.new))
		_, err := io.Operate(ctx, in.key, op)
		switch {
		case err == nil:
			return regOutput{ok: true}
		case errors.Is(err, rados.ErrCanceled):
			return regOutput{ok: false}
		}
		return regOutput{unknown: true}
	}
}

// The checker rejects a stale read, so the test above can fail.
func TestRegisterModelRejectsStaleRead(t *testing.T) {
	h := []porcupine.Operation{
		{ClientId: 0, Input: regInput{key: "k", op: "write", new: "x"}, Call: 0, Output: regOutput{}, Return: 10},
		{ClientId: 1, Input: regInput{key: "k", op: "read"}, Call: 20, Output: regOutput{value: ""}, Return: 30},
	}
	if porcupine.CheckOperations(registerModel, h) {
		t.Fatal("a read after an acknowledged write returned the old value, and the model accepted it")
	}
	h[1].Output = regOutput{value: "x"}
	if !porcupine.CheckOperations(registerModel, h) {
		t.Fatal("the model rejects a correct history")
	}
}
