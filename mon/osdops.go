package mon

import (
	"fmt"
	"time"

	"github.com/loligo/loligo/clustermap"
	"github.com/loligo/loligo/crush"
	pb "github.com/loligo/loligo/proto/loligopb"
)

// defaultRoot is the CRUSH root new hosts go under, as in Ceph.
const defaultRoot = "default"

// createOSD adds a new OSD (exists, down, out) with the given uuid, placed
// in CRUSH under its host, which is created under the default root if it
// is new. Creating a uuid that exists returns the existing id and
// changes nothing, so an OSD that retries its creation gets one id.
func createOSD(m *clustermap.Map, req *pb.OSDCreateRequest) (id int32, created bool, err error) {
	uuid := req.GetUuid()
	if uuid == "" || len(uuid) > 64 {
		return 0, false, fmt.Errorf("%w: an OSD needs a uuid of 1..64 characters", ErrInvalid)
	}
	for _, o := range m.OSDs {
		if o.UUID == uuid {
			return o.ID, false, nil
		}
	}
	host := req.GetHost()
	if !crush.ValidName(host) {
		return 0, false, fmt.Errorf("%w: host name %q: use letters, digits, '-', '_' and '.'", ErrInvalid, host)
	}
	weight := req.GetWeight()
	if weight == 0 {
		weight = crush.WeightOne
	}
	for id = 0; ; id++ {
		if id >= crush.DeviceIDLimit {
			return 0, false, fmt.Errorf("%w: no free OSD id below %d", ErrInvalid, crush.DeviceIDLimit)
		}
		if _, used := m.OSDs[id]; used {
			continue
		}
		if _, used := m.Crush.ItemName(id); used {
			continue
		}
		break
	}
	name := fmt.Sprintf("osd.%d", id)
	if err := m.Crush.InsertItem(id, weight, name, crush.Location{"host": host, "root": defaultRoot}); err != nil {
		return 0, false, fmt.Errorf("%w: placing %s under host %s: %v", ErrInvalid, name, host, err)
	}
	if c := req.GetDeviceClass(); c != "" {
		if err := m.Crush.SetDeviceClass(id, c); err != nil {
			return 0, false, fmt.Errorf("%w: device class %q: %v", ErrInvalid, c, err)
		}
	}
	m.OSDs[id] = &clustermap.OSD{ID: id, UUID: uuid, PrimaryAffinity: crush.WeightOne}
	if m.MaxOSD < id+1 {
		m.MaxOSD = id + 1
	}
	return id, true, nil
}

// bootOSD marks an OSD up at addr in epoch. A first boot marks it in
// (unless noin is set), and so does a boot after the monitor marked it
// out for being down too long.
//
// An OSD the map shows up already is a restart when the boot comes from
// another incarnation or address: bootOSD then only marks the old
// instance down (restarted is true) and the caller boots it again in the
// next epoch. As Ceph does, the restart so becomes two intervals, and
// every PG of the OSD peers again: a copy that lost writes with its
// process (an unsynced tail, a disk that lied about a sync) is found and
// recovered by comparing logs.
func bootOSD(m *clustermap.Map, req *pb.OSDBootRequest, epoch uint64, now time.Time) (restarted bool, err error) {
	o, ok := m.OSDs[req.GetId()]
	if !ok {
		return false, fmt.Errorf("%w: osd.%d does not exist; create it first", ErrNotFound, req.GetId())
	}
	if req.GetUuid() != o.UUID {
		return false, fmt.Errorf("%w: osd.%d has uuid %s, not %s: is this the right data directory?",
			ErrDenied, o.ID, o.UUID, req.GetUuid())
	}
	if err := checkHostPort(req.GetAddr()); err != nil {
		return false, err
	}
	if o.Up {
		if o.Addr == req.GetAddr() && o.Incarnation == req.GetIncarnation() {
			return false, nil
		}
		o.Up = false
		o.DownStamp = now
		o.DownReason = "restarted: a new instance booted while the map showed the old one up"
		return true, nil
	}
	if m.Flags&clustermap.FlagNoUp != 0 {
		return false, fmt.Errorf("%w: the noup flag is set; osd.%d stays down until 'radosctl osd unset noup'", ErrBusy, o.ID)
	}
	firstBoot := o.UpFrom == 0
	o.Up = true
	o.Addr = req.GetAddr()
	o.UpFrom = epoch
	o.UpStamp = now
	o.Incarnation = req.GetIncarnation()
	// DownReason stays: it says why the OSD was last down (status shows
	// recent restarts with it).
	if (firstBoot && m.Flags&clustermap.FlagNoIn == 0) || (o.AutoOut && o.Weight == 0) {
		o.Weight = crush.WeightOne
		o.AutoOut = false
	}
	return false, nil
}

// beaconCounts reports whether a beacon from OSD id's incarnation inc
// (0: an OSD that does not say) counts as that OSD's liveness in m: not
// when m shows another incarnation of it up. That one may be dead; the
// sender is a later process whose boot has not landed yet, or an
// earlier one that lives on cut off from its peers, and either boots
// again on seeing the map.
func beaconCounts(m *clustermap.Map, id int32, inc uint64) bool {
	o, ok := m.OSDs[id]
	return !ok || inc == 0 || !o.Up || o.Incarnation == inc
}

// markDown marks up OSDs down at now, recording why (why[id], or
// reason when why has none); it reports whether any changed.
func markDown(m *clustermap.Map, ids []int32, now time.Time, reason string, why map[int32]string) bool {
	changed := false
	for _, id := range ids {
		if o, ok := m.OSDs[id]; ok && o.Up {
			o.Up = false
			o.DownStamp = now
			o.DownReason = reason
			if w := why[id]; w != "" {
				o.DownReason = w
			}
			changed = true
		}
	}
	return changed
}

// markAutoOut marks down OSDs out on the monitor's own account.
func markAutoOut(m *clustermap.Map, ids []int32) bool {
	changed := false
	for _, id := range ids {
		if o, ok := m.OSDs[id]; ok && !o.Up && o.In() {
			o.Weight = 0
			o.AutoOut = true
			changed = true
		}
	}
	return changed
}
