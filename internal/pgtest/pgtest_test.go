package pgtest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

var shared Shared

func TestMain(m *testing.M) { Main(m, &shared) }

func TestClusterServesQueriesAndRestarts(t *testing.T) {
	ctx := context.Background()
	dsn := shared.NewDB(t)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	var v string
	if err := conn.QueryRow(ctx, "SHOW server_version_num").Scan(&v); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	if v < "150000" {
		t.Fatalf("server_version_num = %s, want >= 150000", v)
	}
	if err := shared.Cluster(t).Restart(ctx); err != nil {
		t.Fatal(err)
	}
	conn, err = pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect after restart: %v", err)
	}
	defer conn.Close(ctx)
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1 after restart = %d, %v", one, err)
	}
}
