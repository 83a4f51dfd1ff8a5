package incremental

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgparquet/pgparquet/outcome"
)

// binaryVersion is the first server_version_num whose pgoutput sends values in their binary
// send form (option binary), which is what COPY BINARY sends: change rows then decode with
// the snapshot's own decoder into exactly the snapshot's Arrow types.
const binaryVersion = 140000

// ErrReplicaIdentity is wrapped by the error of a table whose changes cannot be matched to
// rows: no primary key and no REPLICA IDENTITY USING INDEX.
var ErrReplicaIdentity = errors.New("no usable REPLICA IDENTITY")

// ErrRowSecurity is wrapped by the error of a table whose row-level security applies to the
// exporting role: logical decoding would bypass it.
var ErrRowSecurity = errors.New("row-level security applies")

// ErrSlotActive is wrapped by the error of a run whose slot another process streams from (a
// run of the chain elsewhere, or the walsender of one that died and has not noticed yet): the
// run can be tried again later.
var ErrSlotActive = errors.New("replication slot is active")

// ErrRewritten is wrapped by the error of a change run that met a column whose type changed
// (to another Arrow type): ALTER TYPE rewrote the table, and the rows it converted are not in
// the WAL. Like a lost slot, only a snapshot run (Options.Restart) can go on from there.
var ErrRewritten = errors.New("the table was rewritten")

// NeedsSnapshot says whether err refuses a change run that only a snapshot run
// (Options.Restart) can go on from: the slot lost changes (ErrSlotLost), or the table was
// rewritten (ErrRewritten).
func NeedsSnapshot(err error) bool {
	return errors.Is(err, ErrSlotLost) || errors.Is(err, ErrRewritten)
}

// ErrSlotLost is wrapped by the error of a change run whose slot no longer holds the changes
// the chain needs (dropped, recreated, or advanced past the chain's last run).
var ErrSlotLost = errors.New("the replication slot lost changes the chain needs")

// DefaultSlot derives a slot name from a table name: pgparquet_ and the name's letters,
// digits and underscores, lower-cased (slot names allow nothing else), with _ for the dot of a
// schema-qualified name, at most 63 bytes.
func DefaultSlot(table string) string {
	var b strings.Builder
	b.WriteString("pgparquet_")
	for _, r := range strings.ToLower(table) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_':
			b.WriteRune(r)
		case r == '.':
			b.WriteByte('_')
		}
	}
	s := b.String()
	if len(s) > 63 {
		s = s[:63]
	}
	return s
}

// validSlot says whether name is a slot name PostgreSQL accepts (and needs no quoting in the
// replication commands, which take it bare).
func validSlot(name string) bool {
	if name == "" || len(name) > 63 {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// tableInfo is what a run checks and needs of the table, read from the catalog.
type tableInfo struct {
	oid     uint32
	name    string                 // quoted, schema-qualified
	version int                    // server_version_num
	keys    []string               // the replica identity's columns; none with REPLICA IDENTITY FULL
	columns []outcome.SchemaColumn // live, non-generated columns in attnum order, as pgoutput sends them
}

// inspect reads and checks the table for incremental mode: a server with binary pgoutput, a
// plain table (no partitions, no inheritance children), a usable replica identity, no
// row-level security that applies to the exporting role (requester, when set, else the
// current role), no generated columns (pgoutput leaves them out). A requester must also be
// allowed to SELECT every column: change runs read the WAL as the current role.
func inspect(ctx context.Context, conn *pgx.Conn, table, requester string) (*tableInfo, error) {
	t := &tableInfo{}
	var kind, ident, who string
	var rls, generated, children, allowed bool
	err := conn.QueryRow(ctx, `SELECT c.oid, quote_ident(n.nspname) || '.' || quote_ident(c.relname), c.relkind::text,
			c.relreplident::text, current_setting('server_version_num')::int4,
			EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated <> ''),
			c.relhassubclass, r.rolname,
			CASE WHEN $2 = '' THEN row_security_active(c.oid)
				ELSE c.relrowsecurity AND NOT r.rolbypassrls AND (c.relforcerowsecurity OR NOT pg_has_role(r.oid, c.relowner, 'USAGE')) END,
			$2 = '' OR has_table_privilege(r.oid, c.oid, 'SELECT') OR NOT EXISTS (SELECT FROM pg_attribute a
				WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND NOT has_column_privilege(r.oid, c.oid, a.attnum, 'SELECT'))
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			JOIN pg_roles r ON r.rolname = CASE WHEN $2 = '' THEN current_user ELSE $2 END
		WHERE c.oid = $1::text::regclass`, table, requester).
		Scan(&t.oid, &t.name, &kind, &ident, &t.version, &generated, &children, &who, &rls, &allowed)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("inspect table %q: role %q does not exist", table, requester)
	}
	if err != nil {
		return nil, fmt.Errorf("inspect table %q: %w", table, err)
	}
	switch {
	case !allowed:
		return nil, fmt.Errorf("incremental export of %s: role %s may not SELECT every column of it", t.name, who)
	case t.version < binaryVersion:
		return nil, fmt.Errorf("incremental export of %s: PostgreSQL %d has no binary pgoutput; incremental mode needs PostgreSQL 14 or later", t.name, t.version/10000)
	case kind == "p" || children:
		// The snapshot reads the children too; their changes come under their own relations
		// (and a partition's TRUNCATE not at all with publish_via_partition_root).
		return nil, fmt.Errorf("incremental export of %s: partitioned tables and tables with inheritance children are not supported yet", t.name)
	case kind != "r":
		return nil, fmt.Errorf("incremental export of %s: only tables are published (relkind %s)", t.name, kind)
	case rls:
		return nil, fmt.Errorf("incremental export of %s: %w to the role %s, and logical decoding would bypass it: export it without incremental mode, or as a role that bypasses it",
			t.name, ErrRowSecurity, who)
	case generated:
		return nil, fmt.Errorf("incremental export of %s: the table has generated columns, which logical replication does not send", t.name)
	}
	keyCond := ""
	switch ident {
	case "d":
		keyCond = "i.indisprimary"
	case "i":
		keyCond = "i.indisreplident"
	case "f":
		// Rows are known by all their values: pgoutput sends the whole old row of every
		// update and delete.
		keyCond = ""
	default:
		return nil, fmt.Errorf("incremental export of %s: %w: set REPLICA IDENTITY (a primary key, or REPLICA IDENTITY USING INDEX on a unique index of NOT NULL columns)", t.name, ErrReplicaIdentity)
	}
	if keyCond != "" {
		rows, err := conn.Query(ctx, `SELECT a.attname FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(att, n)
			JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.att
			WHERE i.indrelid = $1 AND `+keyCond+` ORDER BY k.n`, t.oid)
		if err == nil {
			t.keys, err = pgx.CollectRows(rows, pgx.RowTo[string])
		}
		if err != nil {
			return nil, fmt.Errorf("read the replica identity of %s: %w", t.name, err)
		}
	}
	if len(t.keys) == 0 && ident != "f" {
		return nil, fmt.Errorf("incremental export of %s: %w: the table has no primary key; add one or set REPLICA IDENTITY USING INDEX", t.name, ErrReplicaIdentity)
	}
	rows, err := conn.Query(ctx, `SELECT a.attname, a.atttypid, a.atttypmod, format_type(a.atttypid, a.atttypmod)
		FROM pg_attribute a WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`, t.oid)
	if err == nil {
		t.columns, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (outcome.SchemaColumn, error) {
			var c outcome.SchemaColumn
			err := r.Scan(&c.Name, &c.TypeOID, &c.Typmod, &c.PGType)
			return c, err
		})
	}
	if err != nil {
		return nil, fmt.Errorf("read the columns of %s: %w", t.name, err)
	}
	for i := range t.columns {
		// pgoutput flags every column as the key with REPLICA IDENTITY FULL.
		t.columns[i].Key = ident == "f" || contains(t.keys, t.columns[i].Name)
	}
	return t, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// ensurePublication creates the publication named name for the table unless it exists; one
// that exists must publish the table. Adding a table to a publication takes owning the
// table: where deploy/roles.sql installed pgparquet_auth.publish_table (a superuser's
// function that the sidecar's role alone may call, for tables the requester may read), the
// publication is made through it.
func ensurePublication(ctx context.Context, conn *pgx.Conn, name string, t *tableInfo, requester string) error {
	var helper bool
	if err := conn.QueryRow(ctx, `SELECT to_regprocedure('pgparquet_auth.publish_table(name,regclass,name)') IS NOT NULL
			AND has_function_privilege('pgparquet_auth.publish_table(name,regclass,name)', 'EXECUTE')`).Scan(&helper); err != nil {
		return fmt.Errorf("look up pgparquet_auth.publish_table: %w", err)
	}
	if helper {
		if requester == "" {
			requester = conn.Config().User
		}
		if _, err := conn.Exec(ctx, `SELECT pgparquet_auth.publish_table($1, $2, $3)`, name, t.oid, requester); err != nil {
			return fmt.Errorf("publication %s for %s (pgparquet_auth.publish_table): %w", name, t.name, err)
		}
		return nil
	}
	var exists, covers bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_publication WHERE pubname = $1),
			EXISTS (SELECT FROM pg_publication_tables WHERE pubname = $1 AND format('%I.%I', schemaname, tablename) = $2)`,
		name, t.name).Scan(&exists, &covers); err != nil {
		return fmt.Errorf("look up publication %s: %w", name, err)
	}
	if exists && covers {
		return nil
	}
	stmt := "CREATE PUBLICATION " + pgx.Identifier{name}.Sanitize() + " FOR TABLE " + t.name + " WITH (publish_via_partition_root = true)"
	if exists {
		stmt = "ALTER PUBLICATION " + pgx.Identifier{name}.Sanitize() + " ADD TABLE " + t.name
	}
	if _, err := conn.Exec(ctx, stmt); err != nil {
		return fmt.Errorf("publication %s for %s: %w", name, t.name, err)
	}
	return nil
}

// slotState is a slot as pg_replication_slots shows it.
type slotState struct {
	exists    bool
	plugin    string
	database  string
	confirmed pglogrepl.LSN
	active    bool
	// walStatus is "lost" once max_slot_wal_keep_size let the WAL the slot needs go.
	walStatus string
}

func readSlot(ctx context.Context, conn *pgx.Conn, name string) (slotState, error) {
	var s slotState
	var plugin, db, confirmed, walStatus *string
	err := conn.QueryRow(ctx, `SELECT plugin, database, confirmed_flush_lsn::text, active, wal_status FROM pg_replication_slots WHERE slot_name = $1`, name).
		Scan(&plugin, &db, &confirmed, &s.active, &walStatus)
	if errors.Is(err, pgx.ErrNoRows) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("read slot %s: %w", name, err)
	}
	s.exists = true
	if plugin != nil {
		s.plugin = *plugin
	}
	if db != nil {
		s.database = *db
	}
	if walStatus != nil {
		s.walStatus = *walStatus
	}
	if confirmed != nil {
		if s.confirmed, err = pglogrepl.ParseLSN(*confirmed); err != nil {
			return s, fmt.Errorf("read slot %s: %w", name, err)
		}
	}
	return s, nil
}

// dropSlot drops the slot, waiting a little for a walsender that still holds it to exit.
func dropSlot(ctx context.Context, conn *pgx.Conn, name string) error {
	var err error
	for range 50 {
		if _, err = conn.Exec(ctx, "SELECT pg_drop_replication_slot($1)", name); err == nil {
			return nil
		}
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "55006" { // object_in_use: still active
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("drop slot %s: %w", name, err)
}

// waitInactive waits up to slotWait for no process to stream from the slot (the walsender of
// a run that just ended, or of one whose client died, exits a moment later), and fails with
// ErrSlotActive after.
func waitInactive(ctx context.Context, conn *pgx.Conn, name string) error {
	deadline := time.Now().Add(slotWait)
	for {
		s, err := readSlot(ctx, conn, name)
		if err != nil || !s.exists || !s.active {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("incremental: slot %s: %w (another run of the chain streams from it, or a dead one's walsender has not exited yet): try again later", name, ErrSlotActive)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for slot %s: %w", name, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// slotWait bounds how long a run waits for its slot to be free.
var slotWait = 20 * time.Second

// Drop ends a chain on the server: it drops its slot and its publication (both named slot),
// whichever exist, waiting a little for a walsender that still holds the slot. The chain's
// files stay. conn's role must hold REPLICATION (or be a superuser) and own the publication,
// or be allowed pgparquet_auth.unpublish (deploy/roles.sql).
func Drop(ctx context.Context, conn *pgx.Conn, slot string) error {
	if !validSlot(slot) {
		return fmt.Errorf("incremental: slot name %q is not one pgparquet makes", slot)
	}
	s, err := readSlot(ctx, conn, slot)
	if err != nil {
		return err
	}
	if s.exists {
		if err := dropSlot(ctx, conn, slot); err != nil {
			return err
		}
	}
	var exists, helper bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_publication WHERE pubname = $1),
			to_regprocedure('pgparquet_auth.unpublish(name)') IS NOT NULL
			AND has_function_privilege('pgparquet_auth.unpublish(name)', 'EXECUTE')`, slot).Scan(&exists, &helper); err != nil {
		return fmt.Errorf("look up publication %s: %w", slot, err)
	}
	switch {
	case !exists:
	case helper:
		if _, err := conn.Exec(ctx, `SELECT pgparquet_auth.unpublish($1)`, slot); err != nil {
			return fmt.Errorf("drop publication %s (pgparquet_auth.unpublish): %w", slot, err)
		}
	default:
		if _, err := conn.Exec(ctx, "DROP PUBLICATION IF EXISTS "+pgx.Identifier{slot}.Sanitize()); err != nil {
			return fmt.Errorf("drop publication %s: %w", slot, err)
		}
	}
	return nil
}

// replicationConn opens a logical replication connection (replication=database) to cfg's
// database with the session settings of every export, so that anything printed there is
// printed as the snapshot's sessions print it. The caller closes it.
func replicationConn(ctx context.Context, cfg *pgx.ConnConfig) (*pgconn.PgConn, error) {
	c := cfg.Copy().Config
	params := map[string]string{}
	for k, v := range c.RuntimeParams {
		params[k] = v
	}
	params["replication"] = "database"
	if params["application_name"] == "" {
		params["application_name"] = "pgparquet"
	}
	for k, v := range sessionSettings {
		params[k] = v
	}
	c.RuntimeParams = params
	conn, err := pgconn.ConnectConfig(ctx, &c)
	if err != nil {
		return nil, fmt.Errorf("replication connection to %s:%d/%s as %s: %w", c.Host, c.Port, c.Database, c.User, err)
	}
	return conn, nil
}

// sessionSettings are snapshot's: values reach us in binary, but error messages and any text
// the server prints must not depend on the role's or database's settings.
var sessionSettings = map[string]string{
	"client_encoding": "UTF8",
	"DateStyle":       "ISO, YMD",
	"IntervalStyle":   "postgres",
	"TimeZone":        "UTC",
}

// createSlot creates the logical slot with pgoutput and exports its snapshot, which stays
// valid until the next command on conn or its close.
func createSlot(ctx context.Context, conn *pgconn.PgConn, name string) (pglogrepl.CreateReplicationSlotResult, error) {
	res, err := pglogrepl.CreateReplicationSlot(ctx, conn, name, "pgoutput",
		pglogrepl.CreateReplicationSlotOptions{Mode: pglogrepl.LogicalReplication, SnapshotAction: "EXPORT_SNAPSHOT"})
	if err != nil {
		return res, fmt.Errorf("create replication slot %s: %w", name, err)
	}
	return res, nil
}
