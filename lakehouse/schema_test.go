package lakehouse

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/extensions"
	"github.com/apache/iceberg-go"
)

// TestPromotable checks which type changes a table column takes: Iceberg's promotions, field
// by field for nested types, and nothing else.
func TestPromotable(t *testing.T) {
	st := func(fields ...iceberg.NestedField) *iceberg.StructType { return &iceberg.StructType{FieldList: fields} }
	f := func(id int, name string, typ iceberg.Type) iceberg.NestedField {
		return iceberg.NestedField{ID: id, Name: name, Type: typ}
	}
	list := func(elem iceberg.Type) *iceberg.ListType { return &iceberg.ListType{ElementID: 9, Element: elem} }
	tests := []struct {
		name     string
		was, now iceberg.Type
		ok       bool
		path     string
	}{
		{"same", iceberg.PrimitiveTypes.String, iceberg.PrimitiveTypes.String, true, ""},
		{"int to long", iceberg.PrimitiveTypes.Int32, iceberg.PrimitiveTypes.Int64, true, ""},
		{"long to int", iceberg.PrimitiveTypes.Int64, iceberg.PrimitiveTypes.Int32, false, ""},
		{"float to double", iceberg.PrimitiveTypes.Float32, iceberg.PrimitiveTypes.Float64, true, ""},
		{"int to string", iceberg.PrimitiveTypes.Int32, iceberg.PrimitiveTypes.String, false, ""},
		{"wider decimal", iceberg.DecimalTypeOf(10, 2), iceberg.DecimalTypeOf(12, 2), true, ""},
		{"narrower decimal", iceberg.DecimalTypeOf(12, 2), iceberg.DecimalTypeOf(10, 2), false, ""},
		{"other scale", iceberg.DecimalTypeOf(10, 2), iceberg.DecimalTypeOf(12, 3), false, ""},
		{"timestamp to timestamptz", iceberg.PrimitiveTypes.Timestamp, iceberg.PrimitiveTypes.TimestampTz, false, ""},
		{"struct with a new field", st(f(1, "a", iceberg.PrimitiveTypes.Int32)),
			st(f(1, "a", iceberg.PrimitiveTypes.Int64), f(2, "b", iceberg.PrimitiveTypes.String)), true, ""},
		{"struct field changed", st(f(1, "a", iceberg.PrimitiveTypes.Int32)), st(f(5, "a", iceberg.PrimitiveTypes.String)), false, "a"},
		{"list element promoted", list(iceberg.PrimitiveTypes.Int32), list(iceberg.PrimitiveTypes.Int64), true, "element"},
		{"list element changed", list(iceberg.PrimitiveTypes.Int32), list(iceberg.PrimitiveTypes.Date), false, "element"},
		{"list to scalar", list(iceberg.PrimitiveTypes.Int32), iceberg.PrimitiveTypes.Int32, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, ok := promotable(tt.was, tt.now)
			if ok != tt.ok || (!ok && path != tt.path) {
				t.Errorf("promotable(%s, %s) = %q, %v; want %v (path %q)", tt.was, tt.now, path, ok, tt.ok, tt.path)
			}
		})
	}
}

// TestUnsupported checks the Arrow types refused before a commit, nested ones too.
func TestUnsupported(t *testing.T) {
	tests := []struct {
		typ     arrow.DataType
		refused bool
	}{
		{arrow.PrimitiveTypes.Int16, false},
		{extensions.NewUUIDType(), false},
		{arrow.ListOf(arrow.BinaryTypes.String), false},
		{arrow.PrimitiveTypes.Uint32, true},
		{arrow.PrimitiveTypes.Uint64, true},
		{&arrow.Decimal256Type{Precision: 50, Scale: 2}, true},
		{arrow.ListOf(arrow.PrimitiveTypes.Uint32), true},
		{arrow.StructOf(arrow.Field{Name: "x", Type: &arrow.Decimal256Type{Precision: 40}}), true},
	}
	for _, tt := range tests {
		if got := unsupported(tt.typ) != ""; got != tt.refused {
			t.Errorf("unsupported(%s) = %q, want refused %v", tt.typ, unsupported(tt.typ), tt.refused)
		}
	}
}

// TestParseIdent reads namespace.name, the name after the last dot.
func TestParseIdent(t *testing.T) {
	tests := []struct {
		in   string
		want []string // nil: refused
	}{
		{"sales.orders", []string{"sales", "orders"}},
		{"a.b.orders", []string{"a", "b", "orders"}},
		{"orders", nil},
		{".orders", nil},
		{"sales.", nil},
		{"a..b", nil},
	}
	for _, tt := range tests {
		got, err := parseIdent(tt.in)
		if (err != nil) != (tt.want == nil) || (err == nil && len(got) != len(tt.want)) {
			t.Errorf("parseIdent(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			continue
		}
		for i := range tt.want {
			if got[i] != tt.want[i] {
				t.Errorf("parseIdent(%q) = %v, want %v", tt.in, got, tt.want)
			}
		}
	}
}
