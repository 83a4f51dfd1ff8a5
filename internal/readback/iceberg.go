package readback

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
)

//go:embed read_iceberg.py
var icebergScript string

// IcebergQuery names an Iceberg table to read back through its catalog: the SQL catalog kept
// in a PostgreSQL database, or a REST catalog.
type IcebergQuery struct {
	// Database is the DSN of the database holding the SQL catalog (schema pgparquet_iceberg).
	Database string `json:"database,omitempty"`
	// REST, instead, is the base URL of a REST catalog (http://host:port), which pyiceberg
	// reads the table through.
	REST string `json:"rest,omitempty"`
	// Table is namespace.name.
	Table string `json:"table"`
	// Columns are the columns to read, in this order.
	Columns []string `json:"columns"`
	// Snapshot is the snapshot to read; 0: the current one.
	Snapshot int64 `json:"snapshot"`
	// S3, when set, is how the readers reach the files on an S3-compatible server.
	S3 *S3Access `json:"s3,omitempty"`
}

// S3Access is how the Python readers reach an S3-compatible server.
type S3Access struct {
	Endpoint string `json:"endpoint"`
	Key      string `json:"key"`
	Secret   string `json:"secret"`
	Region   string `json:"region"`
}

// IcebergRead is what read_iceberg.py reads: the table through pyiceberg (rows, snapshots,
// schema) and through DuckDB's iceberg extension (rows), every value as text, rows sorted.
type IcebergRead struct {
	PyIceberg struct {
		Columns   []string
		Rows      [][]*string
		Snapshots []struct {
			ID        int64
			Operation string
			Summary   map[string]string
		}
		Current int64
		Schema  []string
	}
	DuckDB struct {
		Columns []string
		Rows    [][]*string
	}
}

// FromIceberg reads q's table back with pyiceberg and DuckDB's iceberg extension, both
// independent of the Go code that committed it (read_iceberg.py, embedded in this package).
func FromIceberg(ctx context.Context, q IcebergQuery) (*IcebergRead, error) {
	py, err := Python()
	if err != nil {
		return nil, fmt.Errorf("read back iceberg table %s: %w", q.Table, err)
	}
	req, err := json.Marshal(q)
	if err != nil {
		return nil, fmt.Errorf("read back iceberg table %s: %w", q.Table, err)
	}
	var r IcebergRead
	if err := runScript(ctx, py, icebergScript, []string{string(req)}, &r); err != nil {
		return nil, fmt.Errorf("read back iceberg table %s: %w", q.Table, err)
	}
	return &r, nil
}
