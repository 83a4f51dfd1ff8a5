// Package outcome is the vocabulary of one export's outcome, shared by everything that
// produces or shows it: export fills a Result and reports Progress; the CLI prints the Result
// as JSON and draws Progress as a bar; _manifest.json is the Result; the control tables record
// both (sql/control). It holds plain data only, so that each of those depends on it and on
// nothing of the others.
package outcome

import "time"

// Result is what a finished export reports. Its JSON form is the manifest (_manifest.json,
// published last: its presence marks a directory as one complete export) and the CLI's
// summary.
type Result struct {
	// Version is the pgparquet version that wrote the export.
	Version string `json:"pgparquet_version"`
	// Table is the exported relation, schema-qualified as PostgreSQL prints it.
	Table string `json:"table"`
	// OutputDir is the directory the export was written to, as the caller named it; the
	// manifest leaves it out (a directory may be moved).
	OutputDir string `json:"output_dir,omitempty"`
	// Snapshot is the exported snapshot every worker read, and LSN the WAL position then.
	Snapshot string `json:"snapshot"`
	LSN      string `json:"lsn"`
	// Decoder is "gpu" when the GPU decoded the export (the first chunks may have been decoded
	// on the CPU while it started: same bytes either way), else "cpu".
	Decoder string `json:"decoder"`
	// Compression is the Parquet codec, with its level when one was given ("zstd:1").
	Compression string `json:"compression"`
	// Compat is the reader profile the types were mapped for: "default", or "spark" (see
	// docs/types.md).
	Compat string `json:"compat"`
	// Workers is the number of connections that read the table, Tasks the ctid ranges.
	Workers int `json:"workers"`
	Tasks   int `json:"tasks"`
	// Rows, CopyBytes (the COPY BINARY streams, headers and trailers included) and
	// OutputBytes (the Parquet files) are totals over the export.
	Rows        int64    `json:"rows"`
	CopyBytes   int64    `json:"copy_bytes"`
	OutputBytes int64    `json:"output_bytes"`
	Columns     []Column `json:"columns"`
	// Files lists every Parquet file, in name order.
	Files []File `json:"files"`
	// StartedAt is when the export started, RFC 3339 in UTC.
	StartedAt string `json:"started_at"`
	// Seconds is the export's wall time and GBPerSecond its COPY bytes per second (1e9 bytes).
	Seconds     float64 `json:"seconds"`
	GBPerSecond float64 `json:"gb_per_s"`
	Timings     Timings `json:"timings"`
	// Incremental describes the run of an incremental chain this export is (see package
	// incremental); nil for a plain export.
	Incremental *Incremental `json:"incremental,omitempty"`
	// Iceberg is the Iceberg snapshot the export was committed as, when it was (after the
	// manifest was published: _manifest.json itself never has it).
	Iceberg *Iceberg `json:"iceberg,omitempty"`
}

// Incremental is one run of an incremental chain: the snapshot that starts it, or the changes
// streamed from its replication slot since the previous run.
type Incremental struct {
	// Mode is "snapshot" (the table at the slot's consistent point) or "changes".
	Mode string `json:"mode"`
	// Run numbers the runs of the chain from 1 (the snapshot).
	Run int `json:"run"`
	// Slot and Publication are the logical replication slot and the publication the chain
	// reads.
	Slot        string `json:"slot"`
	Publication string `json:"publication"`
	// TableOID is the table's OID: a table dropped and created again under the same name is
	// another table, whose changes the slot does not carry.
	TableOID uint32 `json:"table_oid"`
	// FromLSN and ToLSN bound the run: it holds exactly the transactions whose commit record
	// starts at or after FromLSN and before ToLSN. A snapshot run has only ToLSN, the slot's
	// consistent point; the next run starts there.
	FromLSN string `json:"from_lsn,omitempty"`
	ToLSN   string `json:"to_lsn"`
	// KeyColumns are the replica identity's columns, which materialize matches rows by; none
	// with REPLICA IDENTITY FULL, where a row is known by all its values.
	KeyColumns []string `json:"key_columns"`
	// Ops counts the change rows by _pgparquet_op.
	Ops map[string]int64 `json:"ops,omitempty"`
	// SchemaVersion is the table's schema version at the end of the run (1 at the snapshot);
	// it grows by one whenever the columns change.
	SchemaVersion int `json:"schema_version"`
	// Series are the run's files by schema, in stream order; a snapshot run has one.
	Series []Series `json:"series"`
	// Restart, on a snapshot run after the first, says why the chain started again from a
	// snapshot (its slot was dropped or lost its WAL); materialize starts at the last one.
	Restart string `json:"restart,omitempty"`
}

// Series is the files of a run that share one schema version.
type Series struct {
	SchemaVersion int            `json:"schema_version"`
	Columns       []SchemaColumn `json:"columns"`
	Files         []string       `json:"files"`
	// ArrowSchema is the Arrow schema of the table's columns in these files (base64 of its
	// IPC form, as Parquet's ARROW:schema): readers of the files without it see extension
	// types such as JSON as their storage.
	ArrowSchema string `json:"arrow_schema,omitempty"`
}

// SchemaColumn is one column of a schema version as logical replication names it.
type SchemaColumn struct {
	Name      string `json:"name"`
	TypeOID   uint32 `json:"type_oid"`
	Typmod    int32  `json:"typmod"`
	PGType    string `json:"pg_type"`
	ArrowType string `json:"arrow_type"`
	Key       bool   `json:"key,omitempty"`
}

// Column describes one exported column.
type Column struct {
	Name string `json:"name"`
	// PGType is the PostgreSQL type as format_type prints it.
	PGType string `json:"pg_type"`
	// ArrowType is the Arrow type the column was written as.
	ArrowType string `json:"arrow_type"`
	// AsText marks a column exported as its text form (::text cast in the COPY query).
	AsText bool `json:"as_text,omitempty"`
	// Note says how values are encoded where the Arrow type alone does not ("time as int64
	// microseconds since midnight" with compat spark); the files' pgparquet.columns has it too.
	Note string `json:"note,omitempty"`
}

// File describes one Parquet file of an export.
type File struct {
	// Name is the file name inside the output directory.
	Name   string `json:"name"`
	Rows   int64  `json:"rows"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// Timings splits an export's time by stage, in seconds. Decode and Encode are summed over
// workers (time spent, not wall time); the others are wall time.
type Timings struct {
	// Setup covers connecting, exporting the snapshot, resolving the table, planning and
	// opening the workers.
	Setup float64 `json:"setup_s"`
	// Copy is the wall time from the first COPY to the last file closed.
	Copy float64 `json:"copy_s"`
	// Receive is the wall time from the first COPY to the end of the last: the rest of Copy
	// is the last batches' encoding and the files' closing.
	Receive float64 `json:"receive_s"`
	// ReceiveIdle is the mean time a worker connection had no task left while others still
	// read: how ragged the end of the reading was.
	ReceiveIdle float64 `json:"receive_idle_s"`
	// ReceiveWait is the time the worker connections waited for the export to take what
	// they read (a free receive buffer, or their writer), summed over them: when it is a
	// large share of Receive times the workers, encoding held up the reading.
	ReceiveWait float64 `json:"receive_wait_s"`
	Decode      float64 `json:"decode_s"`
	Encode      float64 `json:"encode_s"`
	Finalize    float64 `json:"finalize_s"`
	Total       float64 `json:"total_s"`
}

// Progress is a snapshot of an export in flight.
type Progress struct {
	Rows      int64
	CopyBytes int64
	// EstimatedRows is the planner's row estimate, -1 when the table was never analyzed.
	EstimatedRows int64
	TasksDone     int
	Tasks         int
	Elapsed       time.Duration
}

// Iceberg is the Iceberg table snapshot an export was committed as (package lakehouse).
type Iceberg struct {
	// Catalog is the catalog's URI without secrets ("postgres": the exported database's).
	Catalog string `json:"catalog"`
	// Table is the table's identifier, namespace.name.
	Table string `json:"table"`
	// SnapshotID is the snapshot that holds the export's files; MetadataLocation the table
	// metadata file the catalog points to after the commit.
	SnapshotID       int64  `json:"snapshot_id"`
	MetadataLocation string `json:"metadata_location"`
	// Created is set when the commit created the table; AddedColumns names the columns it
	// added to the table's schema.
	Created      bool     `json:"created,omitempty"`
	AddedColumns []string `json:"added_columns,omitempty"`
}
