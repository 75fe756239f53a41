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
	_, _, h = mix(x, a, h)
	_, _, h = mix(b, y, h)
	return h
}

// Hash3 is crush_hash32_rjenkins1_3(a, b, c).
func Hash3(a, b, c uint32) uint32 {
	h := hashSeed ^ a ^ b ^ c
	x, y := uint32(hashX), uint32(hashY)
	a, b, h = mix(a, b, h)
	c, x, h = mix(c, x, h)
	y, _, h = mix(y, a, h)
	_, _, h = mix(b, x, h)
	_, _, h = mix(y, c, h)
	return h
}

// Hash4 is crush_hash32_rjenkins1_4(a, b, c, d).
func Hash4(a, b, c, d uint32) uint32 {
	h := hashSeed ^ a ^ b ^ c ^ d
	x, y := uint32(hashX), uint32(hashY)
	a, b, h = mix(a, b, h)
	c, d, h = mix(c, d, h)
	_, x, h = mix(a, x, h)
	y, _, h = mix(y, b, h)
	_, _, h = mix(c, x, h)
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

// StrHash is ceph_str_hash_rjenkins: Bob Jenkins' lookup2 hash of a byte
// string, which Ceph (and Loligo) applies to object names to choose their
// placement group. Keys are read as little-endian 32-bit words.
func StrHash(key []byte) uint32 {
	a, b, c := uint32(0x9e3779b9), uint32(0x9e3779b9), uint32(0)
	k := key
	for len(k) >= 12 {
		a += le32(k[0:4])
		b += le32(k[4:8])
		c += le32(k[8:12])
		a, b, c = mix(a, b, c)
		k = k[12:]
	}
	c += uint32(len(key))
	// The tail: bytes 0-3 go to a, 4-7 to b, 8-10 to c shifted up one
	// byte (c's low byte holds the length).
	for i := len(k) - 1; i >= 0; i-- {
		v := uint32(k[i])
		switch {
		case i >= 8:
			c += v << (8 * (i - 7))
		case i >= 4:
			b += v << (8 * (i - 4))
		default:
			a += v << (8 * i)
		}
	}
	_, _, c = mix(a, b, c)
	return c
}

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}
