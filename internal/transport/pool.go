package transport

import (
	"math/bits"
	"sync"

	"google.golang.org/grpc/mem"
)

// bufferPool is gRPC's buffer pool without the zeroing: gRPC's default
// pool clears every buffer it hands out (cap bytes, so a 4 MiB object
// costs a 4 MiB memclr per message on each side), though gRPC fills each
// buffer it asks for before use. Buffers come in power-of-two classes
// from 256 B to 16 MiB; bigger ones are not pooled.
type bufferPool struct {
	classes [maxClass - minClass + 1]sync.Pool
}

const (
	minClass = 8  // 256 B
	maxClass = 24 // 16 MiB
)

var sharedPool = &bufferPool{}

var _ mem.BufferPool = (*bufferPool)(nil)

// class returns the class whose buffers hold n bytes.
func class(n int) int {
	if n <= 1<<minClass {
		return minClass
	}
	return bits.Len(uint(n - 1))
}

func (p *bufferPool) Get(length int) *[]byte {
	c := class(length)
	if c > maxClass {
		b := make([]byte, length)
		return &b
	}
	if v, ok := p.classes[c-minClass].Get().(*[]byte); ok {
		*v = (*v)[:length]
		return v
	}
	b := make([]byte, length, 1<<c)
	return &b
}

func (p *bufferPool) Put(b *[]byte) {
	c := cap(*b)
	if c < 1<<minClass || c > 1<<maxClass || c&(c-1) != 0 {
		return // not one of ours
	}
	p.classes[class(c)-minClass].Put(b)
}
