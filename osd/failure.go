package osd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/loligo/loligo/clustermap"
	"github.com/loligo/loligo/internal/pki"
	"github.com/loligo/loligo/internal/transport"
	"github.com/loligo/loligo/osd/store"
	pb "github.com/loligo/loligo/proto/loligopb"
)

// The OSD's own failures. A store that fails (store.Store.Failed: a
// failed sync or commit, a full file system, corruption a compaction
// met in Pebble's files) cannot serve: every call to it fails. The OSD
// then tells the monitor it is down and why (shown in health), stops
// serving, and Run returns ErrStoreFailed wrapping the store's cause.
// Serve starts it again, as a new incarnation, once the cause is gone:
//   - no space: when the file system has room again;
//   - corruption: never on its own. Its copies are rebuilt on other
//     OSDs; a marker file (failedMarker) keeps the OSD from starting
//     until an operator moves the damaged store away (the OSD then
//     starts empty and is backfilled) and removes the marker;
//   - anything else: a restart (the process's, or the supervisor's).

// ErrStoreFailed: the OSD's store failed and the OSD stopped.
var ErrStoreFailed = errors.New("osd: the store failed")

// failedMarker is the file, in the data directory, that records a
// store failed by corruption.
const failedMarker = "store-failed"

// MarkerPath is where an OSD records that its store is corrupt.
func MarkerPath(dataDir string) string { return filepath.Join(dataDir, failedMarker) }

// checkMarker returns an error wrapping ErrStoreFailed (and
// store.ErrCorrupt) when the data directory holds a failure marker.
func checkMarker(cfg Config) error {
	b, err := os.ReadFile(MarkerPath(cfg.DataDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("osd.%d: reading %s: %w", cfg.ID, MarkerPath(cfg.DataDir), err)
	}
	return fmt.Errorf("%w: %w: osd.%d's store was found corrupt (%s); its data is recovered on other OSDs. "+
		"To rebuild it empty: mv %s %s.bad && rm %s, then start it again",
		ErrStoreFailed, store.ErrCorrupt, cfg.ID, strings.TrimSpace(string(b)),
		filepath.Join(cfg.DataDir, "store"), filepath.Join(cfg.DataDir, "store"), MarkerPath(cfg.DataDir))
}

// storeFailed handles the store's failure: the marker for corruption,
// then the reason for the monitor. It returns the error Run returns.
func (o *OSD) storeFailed() (reason string, err error) {
	cause := o.store.FailCause()
	o.log.Error("the store failed; this OSD stops serving", "err", cause)
	if errors.Is(cause, store.ErrCorrupt) {
		if werr := os.WriteFile(MarkerPath(o.cfg.DataDir), []byte(cause.Error()+"\n"), 0o644); werr != nil {
			o.log.Error("could not write the failure marker", "path", MarkerPath(o.cfg.DataDir), "err", werr)
		}
		return "its store is corrupt: " + cause.Error(), fmt.Errorf("%w: %w", ErrStoreFailed, cause)
	}
	if errors.Is(cause, store.ErrNoSpace) {
		return "its disk is full (the store ran out of space); it returns once space is freed",
			fmt.Errorf("%w: %w", ErrStoreFailed, cause)
	}
	return "its store failed: " + cause.Error(), fmt.Errorf("%w: %w", ErrStoreFailed, cause)
}

// diskSpace returns the size of the file system holding dir, as the
// OSD can use it, and the bytes still free for the OSD. As df counts it:
// blocks the file system keeps back (ext4's reserve for root, a quota)
// are neither used nor available, so the share in use, (total -
// avail) / total, is df's Use% and reaches 1 exactly when nothing more
// can be written.
func diskSpace(dir string) (total, avail uint64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, 0, err
	}
	bs := uint64(st.Bsize)
	used := (st.Blocks - min(st.Bfree, st.Blocks)) * bs
	return used + st.Bavail*bs, st.Bavail * bs, nil
}

// Serve runs the OSD of cfg until ctx ends, calling started with each
// incarnation once it runs (nil: nothing). An incarnation whose store ran
// out of space is followed, once the file system is below the full
// ratio again (checked every SpaceRetry), by a new one; every other
// failure ends Serve with its error, after telling the monitor why the
// OSD is down when it can.
func Serve(ctx context.Context, cfg Config, started func(*OSD)) error {
	cfg.setDefaults()
	for {
		o, err := New(cfg)
		if err == nil {
			if started != nil {
				started(o)
			}
			err = o.Run(ctx)
		} else if !errors.Is(err, store.ErrNoSpace) {
			if errors.Is(err, store.ErrCorrupt) && !errors.Is(err, ErrStoreFailed) {
				// Pebble's files are damaged where opening reads them:
				// the marker keeps the next start from trying again.
				if werr := os.WriteFile(MarkerPath(cfg.DataDir), []byte(err.Error()+"\n"), 0o644); werr != nil {
					cfg.Logger.Error("could not write the failure marker", "path", MarkerPath(cfg.DataDir), "err", werr)
				}
			}
			rctx, cancel := context.WithTimeout(ctx, cfg.MonTimeout)
			if rerr := ReportDown(rctx, cfg, err.Error()); rerr != nil {
				cfg.Logger.Warn("could not tell the monitor why the OSD is down", "osd", cfg.ID, "err", rerr)
			}
			cancel()
		}
		if ctx.Err() != nil || !errors.Is(err, store.ErrNoSpace) {
			return err
		}
		cfg.Logger.Warn("the OSD's disk is full; waiting for free space before starting again", "osd", cfg.ID, "err", err)
		if werr := waitForSpace(ctx, cfg); werr != nil {
			return werr
		}
		cfg.Logger.Info("space freed; starting the OSD again", "osd", cfg.ID)
	}
}

// waitForSpace waits until the file system holding the OSD's data is
// used below cfg.RestartBelow, with room for a memtable to flush.
func waitForSpace(ctx context.Context, cfg Config) error {
	for {
		total, avail, err := diskSpace(cfg.DataDir)
		if err == nil && total > 0 {
			used := float64(total-avail) / float64(total)
			if used < cfg.RestartBelow && avail >= min(restartMinFree, total/10) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-cfg.Clock.After(cfg.SpaceRetry):
		}
	}
}

// restartMinFree is the least free space a full OSD waits for (or a
// tenth of a smaller disk), whatever the ratio says: a memtable flush
// and the WAL need room.
const restartMinFree = 64 << 20

// ReportDown tells the monitors that the OSD of cfg is down and why,
// without starting it: an OSD that cannot open its store says so.
func ReportDown(ctx context.Context, cfg Config, reason string) error {
	cfg.setDefaults()
	tlsConf, err := pki.ClientConfig(cfg.CertFile, cfg.KeyFile, cfg.CAFile)
	if err != nil {
		return err
	}
	var last error
	for _, h := range cfg.MonHosts {
		cc, err := transport.Dial(h, tlsConf, cfg.MonDialOptions...)
		if err != nil {
			last = err
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, cfg.MonTimeout)
		_, err = pb.NewMonClient(cc).OSDShutdown(cctx, &pb.OSDShutdownRequest{Id: cfg.ID, Uuid: cfg.UUID, Reason: reason})
		cancel()
		cc.Close()
		if err == nil {
			return nil
		}
		last = err
	}
	return last
}

// defaultFailsafe is Config.FailsafeRatio's default.
const defaultFailsafe = 0.97

// spaceTick measures the file system now and then; writes check the
// result (fullLocal) without a system call.
func (o *OSD) spaceTick(context.Context) {
	total, avail, err := diskSpace(o.cfg.DataDir)
	if err != nil || total == 0 {
		return
	}
	o.fsTotal.Store(total)
	o.fsAvail.Store(avail)
	o.fullLocal.Store(float64(total-avail)/float64(total) >= o.cfg.FailsafeRatio)
}

// noSpaceRetry is how often Serve looks for freed space by default.
const noSpaceRetry = 5 * time.Second

// addsData reports whether an op may need more space: any write step but
// those that only take data away (remove, truncate, zero, rmxattr, omap
// removals). A full PG still takes those, so space can be freed.
func addsData(steps []*pb.OpStep) bool {
	for _, st := range steps {
		switch c := st.GetCode(); {
		case !store.IsWrite(c):
		case c == pb.OpCode_OP_REMOVE, c == pb.OpCode_OP_TRUNCATE, c == pb.OpCode_OP_ZERO,
			c == pb.OpCode_OP_RMXATTR, c == pb.OpCode_OP_OMAP_RM_KEYS, c == pb.OpCode_OP_OMAP_CLEAR:
		default:
			return true
		}
	}
	return false
}

// fullReply refuses a write that adds data to a PG one of whose acting
// members the map shows full, or when this OSD's own disk is past the
// failsafe ratio; nil lets it through.
func (o *OSD) fullReply(p *pg, m *clustermap.Map) *pb.OpReply {
	v := p.view()
	var full []int32
	for _, id := range v.acting {
		if st, ok := m.OSDs[id]; ok && st.Fullness >= clustermap.FullnessFull {
			full = append(full, id)
		}
	}
	switch {
	case len(full) > 0:
		return &pb.OpReply{Result: pb.Result_FULL, FailedStep: -1, Message: fmt.Sprintf(
			"pg %s: %s full (past the full ratio %.2f of the disk, epoch %d): writes that add data are refused; deletes and truncates still work. Free space or add OSDs",
			p.id, osdList(full), m.Ratios.Effective().Full, m.Epoch)}
	case o.fullLocal.Load():
		return &pb.OpReply{Result: pb.Result_FULL, FailedStep: -1, Message: fmt.Sprintf(
			"pg %s: osd.%d's disk is %.0f%% used, past the failsafe ratio %.2f: writes that add data are refused; deletes and truncates still work. Free space or add OSDs",
			p.id, o.cfg.ID, 100*o.diskUsed(), o.cfg.FailsafeRatio)}
	}
	return nil
}

// diskUsed is the share of the OSD's file system in use, as last measured.
func (o *OSD) diskUsed() float64 {
	total := o.fsTotal.Load()
	if total == 0 {
		return 0
	}
	return float64(total-min(o.fsAvail.Load(), total)) / float64(total)
}

// osdList names OSDs for a message: "osd.1 is", "osd.1, osd.2 are".
func osdList(ids []int32) string {
	names := make([]string, len(ids))
	for i, id := range ids {
		names[i] = fmt.Sprintf("osd.%d", id)
	}
	if len(ids) == 1 {
		return names[0] + " is"
	}
	return strings.Join(names, ", ") + " are"
}
