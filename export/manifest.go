package export

// ManifestColumn describes one exported column for readers of the manifest.
type ManifestColumn struct {
	Name string `json:"name"`
	// PGType is the PostgreSQL type as format_type prints it.
	PGType string `json:"pg_type"`
	// ArrowType is the Arrow type the column was written as.
	ArrowType string `json:"arrow_type"`
	// AsText marks a column exported as its text form (::text cast in the COPY query).
	AsText bool `json:"as_text,omitempty"`
}

// Manifest is the content of _manifest.json, written after every Parquet file is complete and
// durable: its presence is what marks the directory as one finished export.
type Manifest struct {
	Version  string `json:"pgparquet_version"`
	Table    string `json:"table"`
	Snapshot string `json:"snapshot"`
	LSN      string `json:"lsn"`
	// Decoder is "gpu" when the GPU decoded the export (the first chunks may have been decoded
	// on the CPU while it started: same bytes either way), else "cpu".
	Decoder     string           `json:"decoder"`
	Compression string           `json:"compression"`
	Rows        int64            `json:"rows"`
	CopyBytes   int64            `json:"copy_bytes"`
	OutputBytes int64            `json:"output_bytes"`
	Columns     []ManifestColumn `json:"columns"`
	Files       []FileResult     `json:"files"`
	StartedAt   string           `json:"started_at"`
	Timings     Timings          `json:"timings"`
}
