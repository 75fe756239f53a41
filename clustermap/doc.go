// Package clustermap is the cluster map of one epoch and the placement of
// objects through it: object name -> placement group -> OSDs, exactly as
// Ceph's OSDMap computes it (rjenkins string hash, ceph_stable_mod,
// HASHPSPOOL seeds, the pool's CRUSH rule and size, then dropping OSDs
// that do not exist or are down, primary affinity, pg_temp and
// primary_temp).
//
// It owns the OSD map model (OSD states, pools, the CRUSH map, temporary
// mappings) and its stored form (ToProto, FromProto).
//
// Invariants:
//
//   - Placement is a pure function of the map: every party holding the
//     same epoch computes the same up and acting sets (golden vectors made
//     with Ceph's osdmaptool guard this in testdata/).
//   - A Map is used only after Finalize; a finalized Map is not modified
//     (a change is a new epoch, a new Map) and is safe for concurrent use.
//   - Pure: no I/O, no goroutines, no clock.
//
// Errors wrap ErrInvalid (a structurally wrong map) or ErrNoPool.
//
// Who may import it: everything above crush (mon, osd, rados, mds, the
// gateways, cmd). It imports crush and proto only.
package clustermap
