package export

import (
	"testing"

	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/jackc/pgx/v5"

	"github.com/pgparquet/pgparquet/gpuparse"
	"github.com/pgparquet/pgparquet/pgarrow"
)

func TestCodec(t *testing.T) {
	tests := []struct {
		in    string
		codec compress.Compression
		level int
		bad   bool
	}{
		{in: "zstd", codec: compress.Codecs.Zstd, level: compress.DefaultCompressionLevel},
		{in: "ZSTD:1", codec: compress.Codecs.Zstd, level: 1},
		{in: "zstd:22", codec: compress.Codecs.Zstd, level: 22},
		{in: "gzip:9", codec: compress.Codecs.Gzip, level: 9},
		{in: "brotli:0", codec: compress.Codecs.Brotli, level: 0},
		{in: "lz4", codec: compress.Codecs.Lz4Raw, level: compress.DefaultCompressionLevel},
		{in: "none", codec: compress.Codecs.Uncompressed, level: compress.DefaultCompressionLevel},
		{in: "zstd:0", bad: true},
		{in: "zstd:23", bad: true},
		{in: "gzip:x", bad: true},
		{in: "snappy:1", bad: true},
		{in: "lzma", bad: true},
	}
	for _, tc := range tests {
		c, level, err := codec(tc.in)
		if (err != nil) != tc.bad || (!tc.bad && (c != tc.codec || level != tc.level)) {
			t.Errorf("codec(%q) = %v, %d, %v", tc.in, c, level, err)
		}
	}
}

// TestCompatOptions checks the reader profile and the wide numeric options: the values each
// takes, what compile makes of them, and one-line errors that list what would work.
func TestCompatOptions(t *testing.T) {
	base := Options{ConnConfig: &pgx.ConnConfig{}, Table: "t", OutputDir: "out"}
	for _, tc := range []struct {
		name    string
		compat  string
		wide    string
		numeric string
		profile pgarrow.Profile
		wideDec bool
		err     string
	}{
		{name: "defaults", profile: pgarrow.ProfileDefault},
		{name: "default", compat: "default", profile: pgarrow.ProfileDefault},
		{name: "spark", compat: "spark", profile: pgarrow.ProfileSpark},
		{name: "SPARK", compat: "SPARK", profile: pgarrow.ProfileSpark},
		{name: "wide decimal256", wide: "decimal256", wideDec: true},
		{name: "wide string", wide: "string"},
		{name: "spark numeric decimal:38,2", compat: "spark", numeric: "decimal:38,2", profile: pgarrow.ProfileSpark},
		{name: "unknown compat", compat: "hive", err: `invalid options: compat: "hive" is not one of default, spark`},
		{name: "unknown wide", wide: "float64", err: `invalid options: wide numeric: "float64" is not string or decimal256`},
		{name: "spark decimal256", compat: "spark", wide: "decimal256", err: "invalid options: wide numeric: decimal256 is not read by Spark (compat spark): leave it at string"},
		{name: "spark numeric decimal:40,2", compat: "spark", numeric: "decimal:40,2", err: `invalid options: numeric: "decimal:40,2" is decimal256, which Spark does not read (compat spark): use a precision of at most 38, or string`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := base
			o.Compat, o.WideNumeric, o.Numeric = tc.compat, tc.wide, tc.numeric
			s, err := o.compile()
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("compile: %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.planOpts.Profile != tc.profile || s.planOpts.WideDecimal != tc.wideDec {
				t.Errorf("plan options %+v, want profile %v, wide decimal %v", s.planOpts, tc.profile, tc.wideDec)
			}
		})
	}
}

// gpuEngine is an Engine that may or may not decode on the GPU (gpuDecoding).
type gpuEngine struct {
	gpuparse.Engine
	may bool
}

func (e gpuEngine) MayDecode() bool { return e.may }

// TestBufferSizeDefault: 4 MiB receive buffers where the GPU may decode, 2 MiB for the CPU
// decoder; a size given is kept.
func TestBufferSizeDefault(t *testing.T) {
	for _, tc := range []struct {
		name   string
		engine gpuparse.Engine
		size   int
		want   int
	}{
		{"no engine", nil, 0, DefaultBufferSize},
		{"CPU", gpuparse.CPU, 0, DefaultBufferSize},
		{"GPU expected", gpuEngine{gpuparse.CPU, true}, 0, DefaultGPUBufferSize},
		{"GPU not expected", gpuEngine{gpuparse.CPU, false}, 0, DefaultBufferSize},
		{"given", gpuEngine{gpuparse.CPU, true}, 1 << 20, 1 << 20},
	} {
		if got := (Options{Engine: tc.engine, BufferSize: tc.size}).withDefaults().BufferSize; got != tc.want {
			t.Errorf("%s: buffer size %d, want %d", tc.name, got, tc.want)
		}
	}
}
