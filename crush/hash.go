package crush

// HashType names the hash function a bucket uses. Ceph defines only
// rjenkins1 (0); any other value makes every hash return 0, exactly as
// Ceph's crush_hash32_* do for an unknown type.
type HashType uint8

// HashRjenkins1 is Robert Jenkins' 96-bit mix as Ceph uses it.
const HashRjenkins1 HashType = 0

// Seed and fixed operands of Ceph's crush_hash32_rjenkins1_* family.
const (
	hashSeed = 1315423911
	hashX    = 231232
	hashY    = 1232
)

// mix is Bob Jenkins' 96-bit mix: nine rounds rotating the roles of a, b
// and c. The shift amounts and the order are part of the placement
// function and must never change.
func mix(a, b, c uint32) (uint32, uint32, uint32) {
	a -= b
	a -= c
	a ^= c >> 13
	b -= c
	b -= a
	b ^= a << 8
	c -= a
	c -= b
	c ^= b >> 13
	a -= b
	a -= c
	a ^= c >> 12
	b -= c
	b -= a
	b ^= a << 16
	c -= a
	c -= b
	c ^= b >> 5
	a -= b
	a -= c
	a ^= c >> 3
	b -= c
	b -= a
	b ^= a << 10
	c -= a
	c -= b
	c ^= b >> 15
	return a, b, c
}

// Hash2 is crush_hash32_rjenkins1_2(a, b).
func Hash2(a, b uint32) uint32 {
	h := hashSeed ^ a ^ b
	x, y := uint32(hashX), uint32(hashY)
	a, b, h = mix(a, b, h)
	x, a, h = mix(x, a, h)
	b, _, h = mix(b, y, h)
	return h
}

// Hash3 is crush_hash32_rjenkins1_3(a, b, c).
func Hash3(a, b, c uint32) uint32 {
	h := hashSeed ^ a ^ b ^ c
	x, y := uint32(hashX), uint32(hashY)
	a, b, h = mix(a, b, h)
	c, x, h = mix(c, x, h)
	y, a, h = mix(y, a, h)
	b, x, h = mix(b, x, h)
	_, _, h = mix(y, c, h)
	return h
}

// Hash4 is crush_hash32_rjenkins1_4(a, b, c, d).
func Hash4(a, b, c, d uint32) uint32 {
	h := hashSeed ^ a ^ b ^ c ^ d
	x, y := uint32(hashX), uint32(hashY)
	a, b, h = mix(a, b, h)
	c, d, h = mix(c, d, h)
	a, x, h = mix(a, x, h)
	y, b, h = mix(y, b, h)
	c, _, h = mix(c, x, h)
	_, _, h = mix(y, d, h)
	return h
}

// hash3 and hash4 dispatch on the bucket's hash type.
func hash3(t HashType, a, b, c uint32) uint32 {
	if t != HashRjenkins1 {
		return 0
	}
	return Hash3(a, b, c)
}

func hash4(t HashType, a, b, c, d uint32) uint32 {
	if t != HashRjenkins1 {
		return 0
	}
	return Hash4(a, b, c, d)
}
