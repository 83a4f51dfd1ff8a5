package lakehouse

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/iceberg-go"
	iceio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
)

// readArrowSchema reads the Arrow schema from the footer of the Parquet file at uri.
func readArrowSchema(fsys iceio.IO, uri string) (*arrow.Schema, error) {
	f, err := fsys.Open(uri)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", uri, err)
	}
	defer f.Close()
	rdr, err := file.NewParquetReader(f)
	if err != nil {
		return nil, fmt.Errorf("read the footer of %s: %w", uri, err)
	}
	defer rdr.Close()
	sc, err := pqarrow.FromParquet(rdr.MetaData().Schema, nil, rdr.MetaData().KeyValueMetadata())
	if err != nil {
		return nil, fmt.Errorf("read the Arrow schema of %s: %w", uri, err)
	}
	return sc, nil
}

// icebergSchema converts an export's Arrow schema to an Iceberg schema with fresh field ids,
// every field optional (a later export may lack a column: it reads as null). A column whose
// type Iceberg cannot hold is refused with its name and what would work.
func icebergSchema(sc *arrow.Schema) (*iceberg.Schema, error) {
	for _, f := range sc.Fields() {
		if why := unsupported(f.Type); why != "" {
			return nil, fmt.Errorf("column %q (%s): %s; export it --as-text, or leave it out with --columns", f.Name, f.Type, why)
		}
	}
	s, err := table.ArrowSchemaToIcebergWithFreshIDs(sc, false)
	if err != nil {
		return nil, err
	}
	fields := s.Fields()
	for i := range fields {
		fields[i] = optional(fields[i])
	}
	return iceberg.NewSchema(0, fields...), nil
}

// unsupported says why Iceberg cannot hold an Arrow type exactly, or "".
func unsupported(dt arrow.DataType) string {
	switch t := dt.(type) {
	case *arrow.Uint32Type, *arrow.Uint64Type:
		return "Iceberg has no unsigned integers and would read large values as negative"
	case *arrow.Decimal256Type:
		return "Iceberg decimals hold at most 38 digits"
	case *arrow.DictionaryType:
		return unsupported(t.ValueType)
	case arrow.ExtensionType:
		if t.ExtensionName() == "arrow.uuid" {
			return ""
		}
		return unsupported(t.StorageType())
	case arrow.ListLikeType:
		return unsupported(t.Elem())
	case *arrow.StructType:
		for _, f := range t.Fields() {
			if why := unsupported(f.Type); why != "" {
				return fmt.Sprintf("field %q: %s", f.Name, why)
			}
		}
	}
	return ""
}

// optional returns f, and every field nested in it, optional.
func optional(f iceberg.NestedField) iceberg.NestedField {
	f.Required = false
	switch t := f.Type.(type) {
	case *iceberg.StructType:
		fields := make([]iceberg.NestedField, len(t.FieldList))
		for i, c := range t.FieldList {
			fields[i] = optional(c)
		}
		f.Type = &iceberg.StructType{FieldList: fields}
	case *iceberg.ListType:
		l := *t
		l.ElementRequired = false
		if sub, ok := l.Element.(*iceberg.StructType); ok {
			l.Element = optional(iceberg.NestedField{Type: sub}).Type
		}
		f.Type = &l
	}
	return f
}

// IncompatibleError is a column whose type in the export cannot replace its type in the
// table (PostgreSQL changed the column's type): the commit is refused and the table is left
// as it was.
type IncompatibleError struct {
	Table, Column string
	Was, Now      iceberg.Type
}

func (e *IncompatibleError) Error() string {
	return fmt.Sprintf("column %q is %s in table %s but %s in this export; Iceberg cannot change it (commit to a new table, or export the column cast back with a view)",
		e.Column, e.Was, e.Table, e.Now)
}

// compatible checks that every column of the export that the table has already has a type
// the table's can be promoted to (the same, int to long, float to double, a wider decimal of
// the same scale), recursively; it returns the names of the export's new top-level columns.
func compatible(name string, tbl, exp *iceberg.Schema) (added []string, err error) {
	for _, f := range exp.Fields() {
		old, ok := tbl.FindFieldByName(f.Name)
		if !ok {
			added = append(added, f.Name)
			continue
		}
		if path, ok := promotable(old.Type, f.Type); !ok {
			col := f.Name
			if path != "" {
				col += "." + path
			}
			return nil, &IncompatibleError{Table: name, Column: col, Was: old.Type, Now: f.Type}
		}
	}
	return added, nil
}

// promotable reports whether a column of type was may hold values of type now (Iceberg's
// allowed promotions); for nested types it compares fields by name, new fields being
// additions, and returns the path of the first field that is not.
func promotable(was, now iceberg.Type) (string, bool) {
	switch w := was.(type) {
	case *iceberg.StructType:
		n, ok := now.(*iceberg.StructType)
		if !ok {
			return "", false
		}
		for _, nf := range n.FieldList {
			for _, wf := range w.FieldList {
				if wf.Name == nf.Name {
					if p, ok := promotable(wf.Type, nf.Type); !ok {
						return strings.TrimSuffix(nf.Name+"."+p, "."), false
					}
				}
			}
		}
		return "", true
	case *iceberg.ListType:
		n, ok := now.(*iceberg.ListType)
		if !ok {
			return "", false
		}
		p, ok := promotable(w.Element, n.Element)
		return strings.TrimSuffix("element."+p, "."), ok
	case *iceberg.MapType:
		n, ok := now.(*iceberg.MapType)
		if !ok {
			return "", false
		}
		if _, ok := promotable(w.KeyType, n.KeyType); !ok {
			return "key", false
		}
		p, ok := promotable(w.ValueType, n.ValueType)
		return strings.TrimSuffix("value."+p, "."), ok
	}
	if was.Equals(now) {
		return "", true
	}
	switch w := was.(type) {
	case iceberg.Int64Type:
		return "", false
	case iceberg.Int32Type:
		_, ok := now.(iceberg.Int64Type)
		return "", ok
	case iceberg.Float32Type:
		_, ok := now.(iceberg.Float64Type)
		return "", ok
	case iceberg.DecimalType:
		n, ok := now.(iceberg.DecimalType)
		return "", ok && n.Scale() == w.Scale() && n.Precision() >= w.Precision()
	}
	return "", false
}

// filesSchema is the Iceberg schema of files, from their footers: every column of any of
// them, in the order they first appear; a column whose type differs between files takes the
// later file's (files are in stream order: the later type is the current one, and the table
// checks that it may hold it).
func filesSchema(fsys iceio.IO, uris []string) (*iceberg.Schema, error) {
	var fields []arrow.Field
	at := map[string]int{}
	for _, uri := range uris {
		sc, err := readArrowSchema(fsys, uri)
		if err != nil {
			return nil, err
		}
		for _, f := range sc.Fields() {
			if i, ok := at[f.Name]; ok {
				fields[i] = f
				continue
			}
			at[f.Name] = len(fields)
			fields = append(fields, f)
		}
	}
	return icebergSchema(arrow.NewSchema(fields, nil))
}
