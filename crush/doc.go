// Package crush is CRUSH, the placement function of Loligo, bit-identical
// to Ceph's (16.2 "Pacific").
//
// It owns the CRUSH map model (devices, types, buckets of the uniform,
// list, tree, straw and straw2 algorithms, rules, tunables, device
// classes through shadow trees, choose_args weight sets), the rjenkins1
// hashes, the mapper (crush_do_rule with its firstn and indep choosers),
// crushtool's text format (Compile, Map.Decompile) and crushtool's --test
// output (Map.RunTest).
//
// Invariants:
//
//   - Placement is a pure function of (map, rule, x, replica count,
//     reweight vector, choose_args): Map.Do and Mapper.Do return exactly
//     what Ceph's crush_do_rule returns. Golden vectors made by Ceph's
//     crushtool guard this (testdata/); a change to a hash, a table, a
//     retry counter or an integer width moves data cluster-wide and must
//     fail those tests.
//   - A Map is used only after Finalize (Compile calls it); a finalized map
//     is not modified while mapped, so any number of goroutines may map
//     through it, each with its own Mapper.
//   - The package is pure: no I/O, no goroutines, no clock, stdlib only.
//
// Where crushtool accepts input with undefined or surprising results,
// Compile refuses it with an error instead: a device id or type defined
// twice (crushtool keeps the last), tunables stored in 8 bits above 255
// and rule ids or sizes above 255 (crushtool truncates them), tree buckets
// of more than 64 items and uniform buckets of zero weight (crushtool
// aborts), buckets of type 0 (the mapper would read outside the reweight
// vector), item weights that overflow to 0, and "step noop" (which
// crushtool's grammar rejects too). Rules may omit min_size and max_size
// as newer Ceph text does (1 and 100). To keep a hostile map from hanging
// or exhausting a client, ids are bounded (DeviceIDLimit, BucketIDLimit)
// and so are the tries tunables and steps (MaxTries, MaxLocalTries); Ceph
// itself recommends far lower values.
//
// Maps are edited as Ceph's monitor and crushtool edit them (edit.go:
// AddBucket, InsertItem, UpdateItem, CreateOrMoveItem, MoveBucket,
// RemoveItem, AdjustItemWeight, SetDeviceClass, RemoveDeviceClass,
// AddSimpleRule, AddErasureRule, RemoveRule): each produces the map Ceph
// would, bucket ids, item order, weights, rebuilt shadow trees (keeping
// their ids) and rule ids included, which golden cases made by crushtool
// guard (testdata/edit). An edit works on a copy and changes nothing when
// it fails; edit a Clone of a map that is in use.
//
// Errors wrap ErrSyntax (text that does not parse, with line:column) or
// ErrInvalidMap (a map that is structurally wrong); refused edits wrap
// ErrInvalidArgument, ErrNotFound, ErrExists or ErrInUse. Nothing here panics on
// bad input; Mapper.Do panics only if called on a map that was never
// finalized, which is a programming error.
//
// Who may import it: anyone. It imports nothing of Loligo's.
package crush
