package pgtest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Shared is one cluster started on first use and reused by every test of a package, so a
// package pays for initdb once. Each test asks it for its own database with NewDB.
type Shared struct {
	once    sync.Once
	cluster *Cluster
	err     error
	seq     atomic.Int64
}

// Cluster returns the shared cluster, starting it on first call. A failure to start is fatal to
// the calling test: tests here need a real server and never skip for lack of one.
func (s *Shared) Cluster(t testing.TB) *Cluster {
	t.Helper()
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		s.cluster, s.err = Start(ctx, Options{})
	})
	if s.err != nil {
		t.Fatalf("start PostgreSQL: %v", s.err)
	}
	return s.cluster
}

// NewDB creates a fresh database in the shared cluster for test t and returns its superuser DSN.
func (s *Shared) NewDB(t testing.TB) string {
	t.Helper()
	c := s.Cluster(t)
	name := fmt.Sprintf("t%d_%s", s.seq.Add(1), sanitize(t.Name()))
	if len(name) > 60 {
		name = name[:60]
	}
	dsn, err := c.CreateDatabase(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}

// Stop stops the shared cluster if it was started. Call it from TestMain after m.Run.
func (s *Shared) Stop() {
	if s.cluster != nil {
		if err := s.cluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
		}
	}
}

// Main runs a package's tests with s and stops the cluster afterwards; use it as
// `func TestMain(m *testing.M) { pgtest.Main(m, &shared) }`; cleanups run after the cluster stops.
func Main(m *testing.M, s *Shared, cleanups ...func()) {
	code := m.Run()
	s.Stop()
	for _, c := range cleanups {
		c()
	}
	os.Exit(code)
}

func sanitize(name string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		case r >= 'A' && r <= 'Z':
			return r + ('a' - 'A')
		}
		return '_'
	}, name)
}
