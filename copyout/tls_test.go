package copyout

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/pgparquet/pgparquet/internal/pgtest"
)

// TestCopyToOverTLS runs the differential test on connections that use TLS: Conn reads the TLS
// connection pgconn negotiated, not the socket under it.
func TestCopyToOverTLS(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := pgtest.Start(ctx, pgtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	writeServerCert(t, c.DataDir())
	admin := connect(t, c.DSN("postgres"))
	exec(t, admin, "ALTER SYSTEM SET ssl = on")
	exec(t, admin, "SELECT pg_reload_conf()")
	dsn, err := c.CreateDatabase(ctx, "tls")
	if err != nil {
		t.Fatal(err)
	}
	dsn = dsn[:len(dsn)-len("disable")] + "require"
	pg := connect(t, dsn)
	r, err := pg.Exec(ctx, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").ReadAll()
	if err != nil || len(r[0].Rows) != 1 || string(r[0].Rows[0][0]) != "t" {
		t.Fatalf("the connection does not use TLS: %v %v", r, err)
	}
	exec(t, pg, typesSQL)
	differential(t, dsn)
}

// writeServerCert writes a self-signed certificate and its key as server.crt and server.key
// (the server's defaults) into dataDir, owned by dataDir's owner, who runs the server.
func writeServerCert(t *testing.T, dataDir string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	owner := st.Sys().(*syscall.Stat_t)
	for name, block := range map[string]*pem.Block{"server.crt": {Type: "CERTIFICATE", Bytes: der}, "server.key": {Type: "EC PRIVATE KEY", Bytes: keyDER}} {
		path := filepath.Join(dataDir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(path, int(owner.Uid), int(owner.Gid)); err != nil {
			t.Fatal(err)
		}
	}
}
