package pki

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// cluster is a key directory with a CA and some entities' key pairs.
type cluster struct {
	dir string
	ca  *CA
}

func newCluster(t *testing.T, caNow time.Time) *cluster {
	t.Helper()
	c := &cluster{dir: t.TempDir(), ca: newCA(t, caNow)}
	if err := c.ca.Save(c.dir); err != nil {
		t.Fatal(err)
	}
	return c
}

// issue writes a key pair for entity valid from now for validity.
func (c *cluster) issue(t *testing.T, entity string, now time.Time, validity time.Duration) {
	t.Helper()
	certPEM, keyPEM, err := c.ca.Issue(entity, nil, now, validity)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteKeyPair(c.dir, entity, certPEM, keyPEM); err != nil {
		t.Fatal(err)
	}
}

func (c *cluster) caFile() string { f, _ := CAPaths(c.dir); return f }

func (c *cluster) server(t *testing.T, entity string) *tls.Config {
	t.Helper()
	cert, key := Paths(c.dir, entity)
	cfg, err := ServerConfig(cert, key, c.caFile())
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func (c *cluster) client(t *testing.T, entity string) *tls.Config {
	t.Helper()
	cert, key := Paths(c.dir, entity)
	cfg, err := ClientConfig(cert, key, c.caFile())
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

type side struct {
	entity string // the peer's, as Entity reads it
	err    error
}

// handshake connects a client with ccfg to a server with scfg over
// loopback TCP, dialing serverName. Each side reads the other's entity;
// the server then sends a byte, which the client reads, so a client the
// server refused sees the refusal (in TLS 1.3 the client finishes its
// handshake before the server checks its certificate).
func handshake(t *testing.T, scfg, ccfg *tls.Config, serverName string) (server, client side) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	deadline := time.Now().Add(10 * time.Second)
	done := make(chan side, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			done <- side{err: err}
			return
		}
		defer conn.Close()
		conn.SetDeadline(deadline)
		tc := tls.Server(conn, scfg)
		if err := tc.Handshake(); err != nil {
			done <- side{err: err}
			return
		}
		e, err := Entity(tc.ConnectionState())
		if err == nil {
			_, err = tc.Write([]byte{1})
		}
		done <- side{e, err}
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		ln.Close()
		<-done
		t.Fatal(err)
	}
	conn.SetDeadline(deadline)
	ccfg = ccfg.Clone()
	ccfg.ServerName = serverName
	tc := tls.Client(conn, ccfg)
	client.err = tc.Handshake()
	if client.err == nil {
		client.entity, client.err = Entity(tc.ConnectionState())
	}
	if client.err == nil {
		_, client.err = io.ReadFull(tc, make([]byte, 1))
	}
	tc.Close()
	return <-done, client
}

func TestHandshakeAccepted(t *testing.T) {
	now := time.Now()
	c := newCluster(t, now)
	c.issue(t, "osd.3", now, time.Hour)
	c.issue(t, "client.admin", now, time.Hour)
	for _, name := range []string{"localhost", "127.0.0.1"} {
		server, client := handshake(t, c.server(t, "osd.3"), c.client(t, "client.admin"), name)
		if server.err != nil || client.err != nil {
			t.Fatalf("dialing %s: server %v, client %v", name, server.err, client.err)
		}
		if server.entity != "client.admin" || client.entity != "osd.3" {
			t.Errorf("server saw %q, client saw %q", server.entity, client.entity)
		}
	}
}

func TestHandshakeRefused(t *testing.T) {
	now := time.Now()
	c := newCluster(t, now.Add(-72*time.Hour))
	c.issue(t, "osd.3", now, time.Hour)
	c.issue(t, "client.admin", now, time.Hour)
	c.issue(t, "client.old", now.Add(-48*time.Hour), 24*time.Hour) // expired a day ago
	c.issue(t, "osd.9", now.Add(-48*time.Hour), 24*time.Hour)
	other := newCluster(t, now)
	other.issue(t, "client.admin", now, time.Hour)
	other.issue(t, "osd.3", now, time.Hour)

	noCert := c.client(t, "client.admin")
	noCert.Certificates = nil
	tls12 := c.client(t, "client.admin")
	tls12.MinVersion, tls12.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
	// A client of the other cluster that trusts our CA, so that only the
	// server's check of the client certificate can refuse it.
	foreign := other.client(t, "client.admin")
	foreign.RootCAs = c.client(t, "client.admin").RootCAs

	tests := []struct {
		name       string
		server     *tls.Config
		client     *tls.Config
		serverName string
		refusedBy  string // "server" or "client"
		why        string // in the refusing side's error
	}{
		{"client without certificate", c.server(t, "osd.3"), noCert, "localhost", "server", "didn't provide a certificate"},
		{"client certificate from another CA", c.server(t, "osd.3"), foreign, "localhost", "server", "unknown authority"},
		{"expired client certificate", c.server(t, "osd.3"), c.client(t, "client.old"), "localhost", "server", "expired"},
		{"expired server certificate", c.server(t, "osd.9"), c.client(t, "client.admin"), "localhost", "client", "expired"},
		{"server certificate from another CA", other.server(t, "osd.3"), c.client(t, "client.admin"), "localhost", "client", "unknown authority"},
		{"server name not in the certificate", c.server(t, "osd.3"), c.client(t, "client.admin"), "node9.example.com", "client", "not node9.example.com"},
		{"TLS 1.2", c.server(t, "osd.3"), tls12, "localhost", "server", "unsupported versions"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			server, client := handshake(t, tc.server, tc.client, tc.serverName)
			if server.err == nil || client.err == nil {
				t.Fatalf("connection not refused: server %v (saw %q), client %v (saw %q)", server.err, server.entity, client.err, client.entity)
			}
			if server.entity != "" {
				t.Errorf("server read entity %q from a refused connection", server.entity)
			}
			t.Logf("server: %v; client: %v", server.err, client.err)
			// The side that refused says why; the other sees an alert.
			refusal, other := server.err, client.err
			if tc.refusedBy == "client" {
				refusal, other = client.err, server.err
			}
			if !strings.Contains(refusal.Error(), tc.why) {
				t.Errorf("%s did not refuse for %q: %v (the other side: %v)", tc.refusedBy, tc.why, refusal, other)
			}
		})
	}
}

func TestEntityUnverified(t *testing.T) {
	if _, err := Entity(tls.ConnectionState{}); !errors.Is(err, ErrUnverified) {
		t.Errorf("Entity(empty state) = %v, want ErrUnverified", err)
	}
	// A verified chain whose name is not an entity is refused.
	now := time.Now()
	c := newCluster(t, now)
	cs := tls.ConnectionState{HandshakeComplete: true, VerifiedChains: [][]*x509.Certificate{{c.ca.Certificate()}}}
	if _, err := Entity(cs); !errors.Is(err, ErrBadEntity) {
		t.Errorf("Entity(chain of loligo-ca) = %v, want ErrBadEntity", err)
	}
}

func TestConfigFileErrors(t *testing.T) {
	now := time.Now()
	c := newCluster(t, now)
	c.issue(t, "osd.3", now, time.Hour)
	c.issue(t, "osd.4", now, time.Hour)
	other := newCluster(t, now)
	other.issue(t, "osd.3", now, time.Hour)
	cert, key := Paths(c.dir, "osd.3")
	_, key4 := Paths(c.dir, "osd.4")
	otherCert, otherKey := Paths(other.dir, "osd.3")
	caCert, caKey := CAPaths(c.dir)
	missing := filepath.Join(c.dir, "missing.crt")
	garbage := filepath.Join(c.dir, "garbage")
	if err := os.WriteFile(garbage, []byte("not PEM at all"), 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name          string
		cert, key, ca string
		kind          error
		names         string // the file the error must name
		says          string
	}{
		{"cert missing", missing, key, caCert, ErrMissing, missing, hint},
		{"key missing", cert, missing, caCert, ErrMissing, missing, hint},
		{"CA missing", cert, key, missing, ErrMissing, missing, hint},
		{"cert garbage", garbage, key, caCert, ErrBadFile, garbage, "no PEM CERTIFICATE"},
		{"cert file holds a key", key, key, caCert, ErrBadFile, key, "no PEM CERTIFICATE"},
		{"key file holds a cert", cert, cert, caCert, ErrBadFile, cert, "no PEM PRIVATE KEY"},
		{"key of another entity", cert, key4, caCert, ErrBadFile, key4, "do not belong together"},
		{"CA garbage", cert, key, garbage, ErrBadFile, garbage, "no PEM CERTIFICATE"},
		{"CA file holds a leaf", cert, key, cert, ErrBadFile, cert, "not a CA certificate"},
		{"CA file holds the CA key", cert, key, caKey, ErrBadFile, caKey, "no PEM CERTIFICATE"},
		{"cert from another cluster", otherCert, otherKey, caCert, ErrBadFile, caCert, "different clusters"},
	}
	for _, tc := range tests {
		for _, mk := range []struct {
			name string
			fn   func(string, string, string) (*tls.Config, error)
		}{{"ServerConfig", ServerConfig}, {"ClientConfig", ClientConfig}} {
			t.Run(tc.name+"/"+mk.name, func(t *testing.T) {
				cfg, err := mk.fn(tc.cert, tc.key, tc.ca)
				if cfg != nil || !errors.Is(err, tc.kind) {
					t.Fatalf("%s = %v, %v; want %v", mk.name, cfg, err, tc.kind)
				}
				if tc.kind == ErrMissing && !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%v does not wrap fs.ErrNotExist", err)
				}
				if msg := err.Error(); !strings.Contains(msg, tc.names) || !strings.Contains(msg, tc.says) || !strings.Contains(msg, hint) {
					t.Errorf("error %q should name %s, say %q and what to do", msg, tc.names, tc.says)
				}
			})
		}
	}
}

func TestConfigSettings(t *testing.T) {
	now := time.Now()
	c := newCluster(t, now)
	c.issue(t, "mon.a", now, time.Hour)
	s, cl := c.server(t, "mon.a"), c.client(t, "mon.a")
	if s.MinVersion != tls.VersionTLS13 || cl.MinVersion != tls.VersionTLS13 {
		t.Error("MinVersion is not TLS 1.3")
	}
	if s.ClientAuth != tls.RequireAndVerifyClientCert || s.ClientCAs == nil {
		t.Error("server does not require and verify client certificates")
	}
	if cl.InsecureSkipVerify || cl.RootCAs == nil || cl.ServerName != "" {
		t.Error("client does not verify the server against the CA, or sets ServerName")
	}
	if len(s.Certificates) != 1 || len(cl.Certificates) != 1 {
		t.Error("a side presents no certificate")
	}
}
