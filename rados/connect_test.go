package rados_test

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loligo/loligo/internal/config"
	"github.com/loligo/loligo/internal/pki"
	"github.com/loligo/loligo/mon"
	"github.com/loligo/loligo/rados"
)

// TestConnectSaysWhatFailed: Connect tells a refused connection, a name
// that does not resolve and an expired certificate apart, as soon as it
// knows, instead of waiting out its timeout to say "no monitor answered
// in time". The timeout here is ten minutes: a Connect that waited it
// out would end the test run.
func TestConnectSaysWhatFailed(t *testing.T) {
	dir := t.TempDir()
	caStart := time.Now().Add(-3 * time.Hour)
	// Nothing listens on port 1.
	if _, err := mon.Bootstrap(dir, []mon.MonSpec{{Name: "a", Addr: "127.0.0.1:1"}}, caStart); err != nil {
		t.Fatal(err)
	}
	confPath := mon.ConfPath(dir)
	connect := func(opts rados.Options) error {
		t.Helper()
		opts.Timeout = 10 * time.Minute
		if opts.ConfPath == "" {
			opts.ConfPath = confPath
		}
		c, err := rados.Connect(context.Background(), opts)
		if err == nil {
			c.Close()
			t.Fatal("connected to nothing")
		}
		if strings.Contains(err.Error(), "in time") {
			t.Errorf("waited out the timeout: %v", err)
		}
		return err
	}

	err := connect(rados.Options{})
	if !errors.Is(err, rados.ErrUnavailable) || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("refused: %v", err)
	}

	const nohost = "nosuchhost.invalid"
	if _, lerr := net.LookupHost(nohost); lerr != nil && strings.Contains(lerr.Error(), "no such host") {
		err = connect(rados.Options{MonHosts: []string{nohost + ":6789"}})
		if !strings.Contains(err.Error(), "no such host") {
			t.Errorf("unknown host: %v", err)
		}
	} else {
		t.Logf("this machine's resolver does not answer 'no such host' for %s (%v): case skipped", nohost, lerr)
	}

	// A certificate that expired an hour ago.
	ca, err := pki.LoadCA(mon.KeysDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := ca.Issue("client.old", nil, time.Now().Add(-2*time.Hour), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := pki.WriteKeyPair(mon.KeysDir(dir), "client.old", cert, key); err != nil {
		t.Fatal(err)
	}
	conf, err := config.Load(confPath)
	if err != nil {
		t.Fatal(err)
	}
	conf.Entities["client.old"] = config.EntityKeys{Cert: filepath.Join("keys", "client.old.crt"), Key: filepath.Join("keys", "client.old.key")}
	old := filepath.Join(dir, "old.conf")
	if err := conf.WriteFile(old); err != nil {
		t.Fatal(err)
	}
	err = connect(rados.Options{ConfPath: old, Entity: "client.old"})
	if !errors.Is(err, rados.ErrConfig) || !strings.Contains(err.Error(), "expired") || !strings.Contains(err.Error(), "client.old") {
		t.Errorf("expired certificate: %v", err)
	}
}
