package export

import (
	"testing"

	"github.com/apache/arrow-go/v18/parquet/compress"
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
