package control_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgparquet/pgparquet/internal/pgtest"
	"github.com/pgparquet/pgparquet/sql/control"
)

// TestRetentionOptionsChecked: keep and keep_for are refused when written with one line naming
// the option and what it takes; keep is a schedule's option only.
func TestRetentionOptionsChecked(t *testing.T) {
	ctx := context.Background()
	_, as := setupRoles(t)
	alice := as("alice")
	for _, tc := range []struct {
		name, sql, wantErr string
	}{
		{"request keep_for", `INSERT INTO parquet_export_requests (table_name, keep_for) VALUES ('t', '7 days')`, ""},
		{"function keep_for", `SELECT parquet_export('t', '{"keep_for": "1 hour"}')`, ""},
		{"request keep_for zero", `INSERT INTO parquet_export_requests (table_name, keep_for) VALUES ('t', '0')`, "keep_for '00:00:00' is out of range: give a positive interval, like '7 days'"},
		{"request keep_for negative", `SELECT parquet_export('t', '{"keep_for": "-1 day"}')`, "keep_for '-1 days' is out of range"},
		{"request keep", `SELECT parquet_export('t', '{"keep": 3}')`, "keep is a schedule's option"},
		{"schedule", `SELECT parquet_export_schedule('s1', '@daily', 't', '{"keep": 3, "keep_for": "30 days", "output_path": "d/{slot}"}')`, ""},
		{"schedule keep zero", `SELECT parquet_export_schedule('s2', '@daily', 't', '{"keep": 0}')`, "schedule 's2': keep 0 is out of range: give 1 or more"},
		{"schedule keep fraction", `SELECT parquet_export_schedule('s2', '@daily', 't', '{"keep": 1.5}')`, "schedule 's2': keep must be a whole number of runs, not 1.5"},
		{"schedule keep string", `SELECT parquet_export_schedule('s2', '@daily', 't', '{"keep": "2"}')`, `schedule 's2': keep must be a whole number of runs, not "2"`},
		{"schedule keep_for type", `SELECT parquet_export_schedule('s2', '@daily', 't', '{"keep_for": 7}')`, `schedule 's2': keep_for must be an interval as a string, like "7 days", not 7`},
		{"schedule keep_for syntax", `SELECT parquet_export_schedule('s2', '@daily', 't', '{"keep_for": "forever"}')`, "schedule 's2': keep_for 'forever' is not an interval"},
		{"schedule keep_for zero", `SELECT parquet_export_schedule('s2', '@daily', 't', '{"keep_for": "0 days"}')`, "schedule 's2': keep_for '00:00:00' is out of range"},
		{"schedule options change", `UPDATE parquet_export_schedules SET options = '{"keep": -1}' WHERE name = 's1'`, "schedule 's1': keep -1 is out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := alice.Exec(ctx, tc.sql)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("%s: %v", tc.sql, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("%s: error %v, want %q", tc.sql, err, tc.wantErr)
			case err != nil && strings.Contains(err.Error(), "\n"):
				t.Errorf("%s: error of several lines: %v", tc.sql, err)
			}
		})
	}
}

// TestDeleteSecurity: parquet_export_delete marks a succeeded export's files for deletion for
// its requester or an administrator, never for another role; a running request is refused;
// the row of a request may be deleted (by its requester or an administrator) only once
// nothing of it is on disk; another role's rows stay out of reach.
func TestDeleteSecurity(t *testing.T) {
	ctx := context.Background()
	dsn, as := setupRoles(t)
	alice, bob, carol := as("alice"), as("bob"), as("carol")
	su := pgtest.Connect(t, dsn)
	// request inserts a request as conn and ends it in state (as a sidecar would).
	request := func(conn *pgx.Conn, state string) int64 {
		t.Helper()
		var id int64
		if err := conn.QueryRow(ctx, `INSERT INTO parquet_export_requests (table_name) VALUES ('t') RETURNING id`).Scan(&id); err != nil {
			t.Fatal(err)
		}
		pgtest.Exec(t, su, `UPDATE parquet_export_requests SET state = $2, finished_at = now() WHERE id = $1`, id, state)
		return id
	}
	aliceDone, aliceOther, bobDone := request(alice, "succeeded"), request(alice, "succeeded"), request(bob, "succeeded")
	aliceRunning, aliceFailed := request(alice, "running"), request(alice, "failed")

	del := func(conn *pgx.Conn, id int64) (string, error) {
		var got string
		err := conn.QueryRow(ctx, `SELECT parquet_export_delete($1)`, id).Scan(&got)
		return got, err
	}
	for _, tc := range []struct {
		name    string
		conn    *pgx.Conn
		id      int64
		want    string
		wantErr string
	}{
		{"another role's", bob, aliceDone, "", "no such request of yours"},
		{"owner", alice, aliceDone, "deleting", ""},
		{"twice", alice, aliceDone, "deleting", ""},
		{"admin", carol, bobDone, "deleting", ""},
		{"running", alice, aliceRunning, "", "it is running; cancel it first (SELECT parquet_export_cancel("},
		{"failed", alice, aliceFailed, "no files", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := del(tc.conn, tc.id)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("delete %d as %s: %q, %v; want error %q", tc.id, tc.conn.Config().User, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("delete %d as %s: %q, %v; want %q", tc.id, tc.conn.Config().User, got, err, tc.want)
			}
		})
	}
	var reason string
	if err := alice.QueryRow(ctx, `SELECT delete_reason FROM parquet_export_status WHERE id = $1`, aliceDone).Scan(&reason); err != nil || reason != "deleted by alice" {
		t.Errorf("delete_reason %q (%v), want deleted by alice", reason, err)
	}
	if err := carol.QueryRow(ctx, `SELECT delete_reason FROM parquet_export_status WHERE id = $1`, bobDone).Scan(&reason); err != nil || reason != "deleted by carol" {
		t.Errorf("delete_reason %q (%v), want deleted by carol", reason, err)
	}
	// Requesters may not write the columns the sidecar writes, nor take a deletion back.
	for _, tc := range []struct {
		conn    *pgx.Conn
		sql     string
		wantErr string
	}{
		{alice, `UPDATE parquet_export_requests SET deleted_at = now() WHERE id = ` + itoa(aliceOther), "permission denied"},
		{alice, `UPDATE parquet_export_requests SET delete_reason = 'x' WHERE id = ` + itoa(aliceOther), "permission denied"},
		{alice, `UPDATE parquet_export_requests SET delete_requested_at = now() WHERE id = ` + itoa(aliceRunning), "only a succeeded request has files to delete; it is running"},
		{alice, `DELETE FROM parquet_export_requests WHERE id = ` + itoa(aliceOther), "its files are still there; SELECT parquet_export_delete"},
		{alice, `DELETE FROM parquet_export_requests WHERE id = ` + itoa(aliceDone), "its files are being deleted"},
		{alice, `DELETE FROM parquet_export_requests WHERE id = ` + itoa(aliceRunning), "it is running; cancel it first"},
	} {
		if _, err := tc.conn.Exec(ctx, tc.sql); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: %v, want %q", tc.sql, err, tc.wantErr)
		}
	}
	pgtest.Exec(t, alice, `UPDATE parquet_export_requests SET delete_requested_at = NULL WHERE id = $1`, aliceDone)
	var requested *time.Time
	if err := su.QueryRow(ctx, `SELECT delete_requested_at FROM parquet_export_requests WHERE id = $1`, aliceDone).Scan(&requested); err != nil || requested == nil {
		t.Errorf("a deletion was taken back: %v, %v", requested, err)
	}

	// The sidecar deletes the files; DeleteExport takes the row, and a second call finds
	// nothing to do.
	db := control.Over(su, control.DefaultSchema)
	ids, err := db.Deletions(ctx, 10)
	if err != nil || !slices.Equal(ids, []int64{aliceDone, bobDone}) {
		t.Fatalf("deletions %v (%v), want %d and %d", ids, err, aliceDone, bobDone)
	}
	boom := errors.New("boom")
	if done, err := db.DeleteExport(ctx, aliceDone, func(control.Deletion) error { return boom }); done || !errors.Is(err, boom) {
		t.Errorf("a failed removal: %v, %v; want the error", done, err)
	}
	for _, id := range ids {
		var got control.Deletion
		if done, err := db.DeleteExport(ctx, id, func(d control.Deletion) error { got = d; return nil }); !done || err != nil || got.ID != id {
			t.Errorf("delete %d: %v, %v, %+v", id, done, err, got)
		}
		if done, err := db.DeleteExport(ctx, id, func(control.Deletion) error { t.Error("removed twice"); return nil }); done || err != nil {
			t.Errorf("delete %d again: %v, %v", id, done, err)
		}
	}
	if got, err := del(alice, aliceDone); err != nil || got != "deleted" {
		t.Errorf("delete a deleted export: %q, %v", got, err)
	}
	status, err := control.Over(alice, control.DefaultSchema).Status(ctx, control.StatusFilter{States: []string{"succeeded"}})
	if err != nil {
		t.Fatal(err)
	}
	notes := map[string]string{}
	for _, row := range status {
		notes[row[0]] = row[len(row)-1]
	}
	if want := map[string]string{itoa(aliceDone): "files deleted: deleted by alice", itoa(aliceOther): ""}; !maps.Equal(notes, want) {
		t.Errorf("pgparquet status notes %q, want %q", notes, want)
	}

	// Rows: bob cannot delete alice's (not visible), alice deletes her deleted and her failed
	// ones, carol (admin) deletes bob's.
	for _, tc := range []struct {
		conn *pgx.Conn
		id   int64
		want int64
	}{
		{bob, aliceDone, 0},
		{bob, aliceFailed, 0},
		{alice, aliceDone, 1},
		{alice, aliceFailed, 1},
		{alice, bobDone, 0},
		{carol, bobDone, 1},
	} {
		tag, err := tc.conn.Exec(ctx, `DELETE FROM parquet_export_requests WHERE id = $1`, tc.id)
		if err != nil || tag.RowsAffected() != tc.want {
			t.Errorf("DELETE request %d as %s: %d rows (%v), want %d", tc.id, tc.conn.Config().User, tag.RowsAffected(), err, tc.want)
		}
	}
}
