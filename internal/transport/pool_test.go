package transport

import "testing"

func TestBufferPoolClasses(t *testing.T) {
	p := &bufferPool{}
	for _, n := range []int{0, 1, 255, 256, 257, 4096, 4 << 20, 16 << 20, 16<<20 + 1} {
		b := p.Get(n)
		if len(*b) != n {
			t.Fatalf("Get(%d) has length %d", n, len(*b))
		}
		if n > 0 && n <= 16<<20 && cap(*b) >= 2*n && n > 256 {
			t.Errorf("Get(%d) has capacity %d: more than twice the request", n, cap(*b))
		}
		p.Put(b)
		c := p.Get(n)
		if len(*c) != n {
			t.Fatalf("reused Get(%d) has length %d", n, len(*c))
		}
	}
	// A foreign buffer of odd capacity is not pooled.
	odd := make([]byte, 300)
	p.Put(&odd)
	if b := p.Get(300); cap(*b) != 512 {
		t.Errorf("Get(300) after a foreign Put has capacity %d, want 512", cap(*b))
	}
}
