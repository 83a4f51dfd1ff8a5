package pqfile

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/metadata"
)

// countingCompressor is CPUPlain counting its calls and the pages they held.
type countingCompressor struct {
	*CPUPlain
	calls, pages atomic.Int64
}

func (c *countingCompressor) Compress(raw [][]RawPage) [][]Page {
	c.calls.Add(1)
	for _, g := range raw {
		c.pages.Add(int64(len(g)))
	}
	return c.CPUPlain.Compress(raw)
}

// heldPlan is how a test writer drives a Writer's compressor: none (comp nil), Compress after
// every batch, and Seal before Close in every other row group (the others leave their held
// pages to Close).
type heldPlan struct {
	comp       PageCompressor
	everyBatch bool
	seal       bool
	async      bool // CompressAsync after every batch, not waited for
}

func (h heldPlan) afterBatch(t *testing.T, g *RowGroup) {
	t.Helper()
	if h.comp == nil || !h.everyBatch {
		return
	}
	if h.async {
		c, err := g.CompressAsync(nil)
		if err != nil {
			t.Fatal(err)
		}
		if g.HeldBytes() != 0 {
			t.Fatalf("%d bytes held after CompressAsync", g.HeldBytes())
		}
		_ = c // the row group's own pages: Close waits for them
		return
	}
	if out, err := g.Compress(nil); err != nil || len(out) != 0 {
		t.Fatalf("Compress(nil): %d groups, %v", len(out), err)
	}
	if n := g.HeldBytes(); n != 0 {
		t.Fatalf("%d bytes held after Compress", n)
	}
}

func (h heldPlan) beforeClose(t *testing.T, g *RowGroup, group int) {
	t.Helper()
	if h.comp == nil || !h.seal || group%2 == 1 {
		return
	}
	if err := g.Seal(); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Compress(nil); err != nil {
		t.Fatal(err)
	}
	if n := g.HeldBytes(); n != 0 {
		t.Fatalf("%d bytes held after Seal and Compress", n)
	}
}

// TestHeldPagesSameFile writes the batch-by-batch row groups of TestRowGroupBatchByBatch
// (flat columns: encoded pages, arrow-go's plain and dictionary-encoded chunks, a dictionary
// fallback, statistics off, empty row groups) and of TestAppendFieldNested (lists, structs,
// maps) with a compressor (CPUPlain) that compresses the pages arrow-go encodes, held by the
// row groups, and without: the files are the same bytes, however the held pages are
// compressed (after every batch, waited for or not, or sealed before Close, or all at Close).
// Compressing after
// every batch makes no more calls than batches (and row groups, at Close), and a row group
// sealed and compressed makes none at Close.
func TestHeldPagesSameFile(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	total := 0
	for _, p := range testPlans {
		total += p.rows()
	}
	batches := 0
	for _, p := range testPlans {
		batches += len(p.batches)
	}
	rec := testRecord(total, seed)
	defer rec.Release()
	nested := nestedBatches(nestedSchema, seed)
	defer releaseNested(nested)
	nestedProps := func(c compress.Compression) func() *parquet.WriterProperties {
		return func() *parquet.WriterProperties {
			return parquet.NewWriterProperties(parquet.WithCompression(c), parquet.WithStats(true),
				parquet.WithDataPageSize(2048), parquet.WithDictionaryPageSizeLimit(512), parquet.WithMaxRowGroupLength(1<<20))
		}
	}
	for _, codec := range []compress.Compression{compress.Codecs.Snappy, compress.Codecs.Zstd, compress.Codecs.Gzip} {
		for _, tc := range []struct {
			name       string
			everyBatch bool
			seal       bool
			async      bool
		}{
			{"at Close", false, false, false},
			{"every batch", true, false, false},
			{"every batch, sealed", true, true, false},
			{"every batch, not waited for", true, true, true},
		} {
			t.Run(codec.String()+"/"+tc.name, func(t *testing.T) {
				dir := t.TempDir()
				cpu, err := NewCPUPlain(codec)
				if err != nil {
					t.Fatal(err)
				}
				comp := &countingCompressor{CPUPlain: cpu}
				h := heldPlan{comp: comp, everyBatch: tc.everyBatch, seal: tc.seal, async: tc.async}

				ref, held := filepath.Join(dir, "ref.parquet"), filepath.Join(dir, "held.parquet")
				writeBatches(t, ref, rec, testPlans, 700, codec)
				writeBatchesHeld(t, held, rec, testPlans, 700, codec, h)
				sameFile(t, ref, held)
				if tc.everyBatch && comp.calls.Load() > int64(batches+len(testPlans)) {
					t.Errorf("%d calls of the compressor for %d batches in %d row groups", comp.calls.Load(), batches, len(testPlans))
				}
				if comp.pages.Load() == 0 {
					t.Error("the compressor compressed no page")
				}

				ref, held = filepath.Join(dir, "nested-ref.parquet"), filepath.Join(dir, "nested-held.parquet")
				writeNested(t, ref, nestedSchema, nested, nestedProps(codec), heldPlan{})
				writeNested(t, held, nestedSchema, nested, nestedProps(codec), h)
				sameFile(t, ref, held)
			})
		}
	}
}

// sameFile fails t unless the files at a and b hold the same pages (the same bytes up to the
// footer) and footers of the same length, whose column chunks say the same (their encoding
// statistics compared in any order: arrow-go lists them from a map).
func sameFile(t *testing.T, a, b string) {
	t.Helper()
	x, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(x) != len(y) || len(x) < 12 {
		t.Fatalf("%s holds %d bytes, %s %d", filepath.Base(a), len(x), filepath.Base(b), len(y))
	}
	footer := len(x) - 8 - int(binary.LittleEndian.Uint32(x[len(x)-8:]))
	if at := bytes.Compare(x[:footer], y[:footer]); at != 0 {
		at := 0
		for x[at] == y[at] {
			at++
		}
		t.Fatalf("%s and %s differ from byte %d, before the footer (at %d)", filepath.Base(a), filepath.Base(b), at, footer)
	}
	ra, rb := openFile(t, a), openFile(t, b)
	defer ra.Close()
	defer rb.Close()
	ma, mb := ra.MetaData(), rb.MetaData()
	if ma.NumRowGroups() != mb.NumRowGroups() || ma.NumRows != mb.NumRows {
		t.Fatalf("%d row groups of %d rows against %d of %d", ma.NumRowGroups(), ma.NumRows, mb.NumRowGroups(), mb.NumRows)
	}
	for g := range ma.NumRowGroups() {
		ga, gb := ma.RowGroup(g), mb.RowGroup(g)
		for c := range ga.NumColumns() {
			ca, err := ga.ColumnChunk(c)
			if err != nil {
				t.Fatal(err)
			}
			cb, err := gb.ColumnChunk(c)
			if err != nil {
				t.Fatal(err)
			}
			describe := func(m *metadata.ColumnChunkMetaData) string {
				var lines []string
				for _, s := range m.EncodingStats() {
					lines = append(lines, fmt.Sprint(s))
				}
				slices.Sort(lines)
				stats := strings.Join(lines, " ")
				st := ""
				if e, ok := storedStats(t, m); ok {
					st = statsText(e)
				}
				return fmt.Sprintf("values %d, %s, encodings %v (%s), dictionary %t at %d, data at %d, %d/%d bytes, stats %s",
					m.NumValues(), m.Compression(), m.Encodings(), stats, m.HasDictionaryPage(), m.DictionaryPageOffset(), m.DataPageOffset(),
					m.TotalCompressedSize(), m.TotalUncompressedSize(), st)
			}
			if da, db := describe(ca), describe(cb); da != db {
				t.Errorf("row group %d, column %s:\n%s\nagainst\n%s", g, ca.PathInSchema(), da, db)
			}
		}
	}
}

// nestedBatches are the batches of TestAppendFieldNested's row groups (per row group).
func nestedBatches(sc *arrow.Schema, seed uint64) [][]arrow.RecordBatch {
	var recs [][]arrow.RecordBatch
	id := int64(0)
	for g, p := range []nestedPlan{{batches: []int{300, 0, 1, 250}}, {batches: []int{0, 2000, 3}}, {batches: []int{120, 80}, allNull: true}, {batches: []int{1}}} {
		var batches []arrow.RecordBatch
		for _, n := range p.batches {
			batches = append(batches, nestedRecord(sc, n, id, seed+uint64(g), p.allNull))
			id += int64(n)
		}
		recs = append(recs, batches)
	}
	return recs
}

func releaseNested(recs [][]arrow.RecordBatch) {
	for _, batches := range recs {
		for _, b := range batches {
			b.Release()
		}
	}
}

// TestHeldPagesRefuses: Compress on a Writer without compressor, appends to a sealed row
// group, Compress after Close; a sealed row group may still be aborted, and the file then
// holds the row groups closed before it.
func TestHeldPagesRefuses(t *testing.T) {
	ctx := context.Background()
	sc := arrow.NewSchema([]arrow.Field{{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	b := array.NewStringBuilder(memory.DefaultAllocator)
	for i := range 5000 {
		b.Append(strings.Repeat("x", i%40))
	}
	a := b.NewArray()
	defer a.Release()
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Zstd), parquet.WithDataPageSize(4096), parquet.WithDictionaryDefault(false))

	var buf bytes.Buffer
	plain, err := NewWriter(&buf, sc, props)
	if err != nil {
		t.Fatal(err)
	}
	g, err := plain.NewRowGroup(props)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Compress(nil); err == nil || !strings.Contains(err.Error(), "no compressor") {
		t.Errorf("Compress without a compressor: %v", err)
	}
	if err := g.Abort(); err != nil {
		t.Fatal(err)
	}

	cpu, err := NewCPUPlain(compress.Codecs.Zstd)
	if err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	w, err := NewWriterWith(&buf, sc, props, WriterOptions{Compressor: cpu})
	if err != nil {
		t.Fatal(err)
	}
	g, err = w.NewRowGroup(props)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.AppendArrow(ctx, 0, a); err != nil {
		t.Fatal(err)
	}
	if g.HeldBytes() == 0 {
		t.Error("no bytes held after 5000 values in pages of 4 KiB")
	}
	if err := g.Seal(); err != nil {
		t.Fatal(err)
	}
	if err := g.AppendArrow(ctx, 0, a); err == nil || !strings.Contains(err.Error(), "sealed") {
		t.Errorf("AppendArrow to a sealed row group: %v", err)
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Compress(nil); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Compress after Close: %v", err)
	}
	g, err = w.NewRowGroup(props)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.AppendArrow(ctx, 0, a); err != nil {
		t.Fatal(err)
	}
	if err := g.Seal(); err != nil {
		t.Fatal(err)
	}
	if err := g.Abort(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "held.parquet")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	r := openFile(t, path)
	defer r.Close()
	if r.NumRowGroups() != 1 || r.NumRows() != 5000 {
		t.Errorf("%d row groups of %d rows, want 1 of 5000", r.NumRowGroups(), r.NumRows())
	}
	got := readTable(t, path)
	defer got.Release()
	col := concatColumn(t, got.Column(0))
	defer col.Release()
	if !array.Equal(col, a) {
		t.Error("the column reads back otherwise")
	}
}

// TestSealedRowGroupsCloseInOrder: the next row group starts while the one before is sealed and
// not closed; row groups close in order (a later one first is refused, as is the file's Close
// while one is sealed), and the file holds them in that order, every value read back.
func TestSealedRowGroupsCloseInOrder(t *testing.T) {
	ctx := context.Background()
	sc := arrow.NewSchema([]arrow.Field{{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	parts := make([]arrow.Array, 3)
	for k := range parts {
		b := array.NewStringBuilder(memory.DefaultAllocator)
		for i := range 3000 {
			b.Append(fmt.Sprintf("group %d row %d", k, i))
		}
		parts[k] = b.NewArray()
		defer parts[k].Release()
	}
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Zstd), parquet.WithDataPageSize(4096))
	cpu, err := NewCPUPlain(compress.Codecs.Zstd)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "sealed.parquet")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := NewWriterWith(f, sc, props, WriterOptions{Compressor: cpu})
	if err != nil {
		t.Fatal(err)
	}
	groups := make([]*RowGroup, 3)
	start := func(k int) {
		if groups[k], err = w.NewRowGroup(props); err != nil {
			t.Fatal(err)
		}
		if err := groups[k].AppendArrow(ctx, 0, parts[k]); err != nil {
			t.Fatal(err)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	start(0)
	if _, err := w.NewRowGroup(props); err == nil || !strings.Contains(err.Error(), "row group 0 is open") {
		t.Errorf("NewRowGroup with row group 0 taking appends: %v", err)
	}
	must(groups[0].Seal())
	if _, err := groups[0].CompressAsync(nil); err != nil {
		t.Fatal(err)
	}
	start(1)
	if err := groups[1].Close(); err == nil || !strings.Contains(err.Error(), "close row group 1 before row group 0") {
		t.Errorf("Close of row group 1 before 0: %v", err)
	}
	must(groups[1].Seal())
	start(2)
	if err := w.Close(); err == nil {
		t.Error("the file closed with row groups open")
	}
	must(groups[0].Close())
	must(groups[1].Close())
	must(groups[2].Close())
	must(w.Close())
	r := openFile(t, path)
	defer r.Close()
	if r.NumRowGroups() != 3 {
		t.Fatalf("%d row groups, want 3", r.NumRowGroups())
	}
	got := readTable(t, path)
	defer got.Release()
	col := concatColumn(t, got.Column(0))
	defer col.Release()
	all, err := array.Concatenate(parts, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	defer all.Release()
	if !array.Equal(col, all) {
		t.Error("the row groups read back otherwise, or in another order")
	}
}
