// Package ec is the erasure code of erasure-coded pools: it turns an
// object's logical bytes into the k+m shards its OSDs store, and shards
// back into bytes, verifying every cell it uses. It is pure computation:
// no I/O, no clock, no logging and no goroutines of its own (the
// Reed-Solomon library may run a few while it codes large buffers).
//
// Only package osd (and its tests) may import ec. It imports no package
// of this module, only the standard library, klauspost/reedsolomon and
// minio/highwayhash.
//
// # Layout
//
// A profile is k data shards, m parity shards and a stripe unit su (see
// New). The logical object is cut into stripes of StripeWidth = k*su
// bytes: stripe s holds the object's bytes [s*k*su, (s+1)*k*su), and its
// cell j < k is the bytes [s*k*su + j*su, s*k*su + (j+1)*su), zero-padded
// past the object's size. Cells k..k+m-1 of a stripe are the Reed-Solomon
// parity of its k data cells (klauspost/reedsolomon with its default,
// systematic Vandermonde-derived matrix: reedsolomon.New(k, m)).
//
// Shard j of an object is the concatenation, over the stripes, of cell j
// of each stripe, every cell stored as its su bytes followed by an 8-byte
// big-endian HighwayHash-64 of those su bytes under the key SumKey
// (CellSize = su+8 bytes on disk per cell). A shard of an object of
// logical size S therefore has Stripes(S)*CellSize bytes, and stripe s
// starts at shard offset s*CellSize.
//
// # Holes
//
// An OSD's store reads absent bytes as zeros (objects may be sparse, for
// example after a truncate that extends them), so a cell whose CellSize
// bytes are all zero (data and sum) is valid and means su zero bytes.
// Reed-Solomon is linear, so a stripe whose data cells are all zero has
// all-zero parity cells: an all-zero stripe is consistent, and a hole in
// every shard decodes to zeros. The consequence: a cell corrupted to all
// zeros, sum included, passes as a valid zero cell; checksums cannot
// catch that, only CheckParity (a parity mismatch) can. A zero cell with
// a nonzero sum that is not the sum of zeros, or nonzero data with a zero
// sum that is not its sum, is bad.
//
// # Use
//
// Encode (EncodeTo to reuse buffers) makes the shards of an object;
// Decode (DecodeTo) reads them back, rebuilding from parity what is
// missing or fails its checksum and naming the bad shards; Reconstruct
// rebuilds whole shards for recovery and repair; VerifyShard checks one
// shard's cells (an OSD's shallow check); CheckParity checks a complete
// shard set for consistency (deep scrub). Stripes, ShardSize and
// StripeSpan do the layout arithmetic.
//
// # Invariants
//
//   - The layout above and SumKey are on-disk formats: they never change.
//   - A Code is immutable and safe for concurrent use.
//   - No function returns bytes from a cell that failed its checksum:
//     such a cell is treated as missing and rebuilt from the others, or
//     the call fails with an error wrapping ErrTooFew.
//   - Inputs are never modified, and returned buffers never alias the
//     input data or shards: they are fresh allocations the caller owns,
//     or the caller's own dst for EncodeTo and DecodeTo.
//   - Bad input (wrong shard count, lengths that do not match) is refused
//     with an error wrapping ErrInvalid, never a panic.
package ec
