package osd

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	pb "github.com/loligo/loligo/proto/loligopb"
)

// Identity is who an OSD data directory belongs to, kept in DIR/osd.json
// (Ceph keeps whoami and fsid files): a directory can only be served as
// the OSD and cluster it was made for.
type Identity struct {
	ID   int32  `json:"id"`
	UUID string `json:"uuid"`
	FSID string `json:"fsid"`
	// Created is false while the monitor has not confirmed the id yet.
	Created bool `json:"created"`
}

// IdentityPath is the identity file of a data directory.
func IdentityPath(dir string) string { return filepath.Join(dir, "osd.json") }

// LoadIdentity reads a data directory's identity; the error wraps
// fs.ErrNotExist when the directory has none.
func LoadIdentity(dir string) (Identity, error) {
	var id Identity
	b, err := os.ReadFile(IdentityPath(dir))
	if err != nil {
		return id, err
	}
	if err := json.Unmarshal(b, &id); err != nil {
		return id, fmt.Errorf("%w: %s: %v", ErrConfig, IdentityPath(dir), err)
	}
	if id.UUID == "" || id.FSID == "" {
		return id, fmt.Errorf("%w: %s names no uuid or fsid", ErrConfig, IdentityPath(dir))
	}
	return id, nil
}

// saveIdentity writes the identity file atomically and durably.
func saveIdentity(dir string, id Identity) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(id, "", "  ")
	if err != nil {
		return err
	}
	tmp := IdentityPath(dir) + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, IdentityPath(dir))
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Create makes the OSD of a data directory: it picks a uuid (or reuses the
// one a half-finished create left), asks the monitor for an id (placing
// the OSD under host in CRUSH) and records both. A directory that already
// has a created identity of the same cluster is returned as it is.
func Create(ctx context.Context, mc pb.MonClient, dir, fsid, host string, weight uint32) (Identity, error) {
	id, err := LoadIdentity(dir)
	switch {
	case err == nil && id.FSID != fsid:
		return id, fmt.Errorf("%w: %s belongs to cluster %s, not %s", ErrConfig, dir, id.FSID, fsid)
	case err == nil && id.Created:
		return id, nil
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return id, err
	case err != nil:
		var b [16]byte
		_, _ = rand.Read(b[:])
		b[6] = b[6]&0x0f | 0x40
		b[8] = b[8]&0x3f | 0x80
		id = Identity{UUID: fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), FSID: fsid}
		if err := saveIdentity(dir, id); err != nil {
			return id, err
		}
	}
	rep, err := mc.OSDCreate(ctx, &pb.OSDCreateRequest{Uuid: id.UUID, Host: host, Weight: weight})
	if err != nil {
		return id, fmt.Errorf("osd create: %w", err)
	}
	id.ID, id.Created = rep.GetId(), true
	return id, saveIdentity(dir, id)
}
