package pgarrow

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/extensions"
	"github.com/jackc/pgx/v5/pgtype"
)

func TestPlanColumn(t *testing.T) {
	tests := []struct {
		oid      uint32
		typmod   int32
		kind     Kind
		p, s     int32
		castText bool
	}{
		{pgtype.BoolOID, -1, KindBool, 0, 0, false},
		{pgtype.ByteaOID, -1, KindBinary, 0, 0, false},
		{pgtype.NameOID, -1, KindString, 0, 0, false},
		{pgtype.Int8OID, -1, KindInt64, 0, 0, false},
		{pgtype.Int2OID, -1, KindInt16, 0, 0, false},
		{pgtype.Int4OID, -1, KindInt32, 0, 0, false},
		{pgtype.TextOID, -1, KindString, 0, 0, false},
		{pgtype.JSONOID, -1, KindJSON, 0, 0, false},
		{pgtype.Float4OID, -1, KindFloat32, 0, 0, false},
		{pgtype.Float8OID, -1, KindFloat64, 0, 0, false},
		{pgtype.BPCharOID, 19, KindString, 0, 0, false},
		{pgtype.VarcharOID, 14, KindString, 0, 0, false},
		{pgtype.DateOID, -1, KindDate, 0, 0, false},
		{pgtype.TimestampOID, 10, KindTimestamp, 0, 0, false},
		{pgtype.TimestamptzOID, -1, KindTimestampTZ, 0, 0, false},
		{pgtype.UUIDOID, -1, KindUUID, 0, 0, false},
		{pgtype.JSONBOID, -1, KindJSONB, 0, 0, false},
		{pgtype.NumericOID, -1, KindNumericString, 0, 0, false},
		{pgtype.NumericOID, numTypmod(12, 2), KindDecimal128, 12, 2, false},
		{pgtype.NumericOID, numTypmod(1, 0), KindDecimal128, 1, 0, false},
		{pgtype.NumericOID, numTypmod(38, 38), KindDecimal128, 38, 38, false},
		{pgtype.NumericOID, numTypmod(39, 2), KindNumericString, 0, 0, false}, // decimal256 only with WideDecimal
		{pgtype.NumericOID, numTypmod(76, 10), KindNumericString, 0, 0, false},
		{pgtype.NumericOID, numTypmod(77, 0), KindNumericString, 0, 0, false},
		{pgtype.NumericOID, numTypmod(1000, 0), KindNumericString, 0, 0, false},
		{pgtype.NumericOID, numTypmod(5, -2), KindNumericString, 0, 0, false}, // PG15 negative scale
		{pgtype.NumericOID, numTypmod(2, 5), KindNumericString, 0, 0, false},  // PG15 scale > precision
		{pgtype.NumericOID, 3, KindNumericString, 0, 0, false},
		{26, -1, KindUint32, 0, 0, false},     // oid
		{1186, -1, KindInterval, 0, 0, false}, // interval
		{1083, -1, KindTime, 0, 0, false},     // time
		{869, -1, KindString, 0, 0, true},     // inet
		{600, -1, KindString, 0, 0, true},     // point
		{1007, -1, KindString, 0, 0, true},    // int4[]
		{99999, -1, KindString, 0, 0, true},   // an enum or other user type
	}
	for _, tt := range tests {
		c := PlanColumn("col", tt.oid, tt.typmod, "t")
		if c.Kind != tt.kind || c.Precision != tt.p || c.Scale != tt.s || c.CastText != tt.castText ||
			c.Name != "col" || c.TypeOID != tt.oid || c.Typmod != tt.typmod || c.PGType != "t" {
			t.Errorf("PlanColumn(%d, %d) = %+v, want kind %v (%d,%d) castText %v", tt.oid, tt.typmod, c, tt.kind, tt.p, tt.s, tt.castText)
		}
	}
}

func TestNumericTypmodNegativeScale(t *testing.T) {
	p, s, ok := numericTypmod(numTypmod(5, -2))
	if !ok || p != 5 || s != -2 {
		t.Errorf("got %d, %d, %v", p, s, ok)
	}
}

func TestArrowSchema(t *testing.T) {
	cols := []Column{
		PlanColumn("b", pgtype.BoolOID, -1, "boolean"),
		PlanColumn("i2", pgtype.Int2OID, -1, "smallint"),
		PlanColumn("i4", pgtype.Int4OID, -1, "integer"),
		PlanColumn("i8", pgtype.Int8OID, -1, "bigint"),
		PlanColumn("f4", pgtype.Float4OID, -1, "real"),
		PlanColumn("f8", pgtype.Float8OID, -1, "double precision"),
		PlanColumn("Mixed Case", pgtype.TextOID, -1, "text"),
		PlanColumn("bin", pgtype.ByteaOID, -1, "bytea"),
		PlanColumn("u", pgtype.UUIDOID, -1, "uuid"),
		PlanColumn("j", pgtype.JSONOID, -1, "json"),
		PlanColumn("jb", pgtype.JSONBOID, -1, "jsonb"),
		PlanColumn("d", pgtype.DateOID, -1, "date"),
		PlanColumn("ts", pgtype.TimestampOID, -1, "timestamp without time zone"),
		PlanColumn("tstz", pgtype.TimestamptzOID, -1, "timestamp with time zone"),
		numCol("n128", 12, 2),
		PlanType("n256", &TypeDesc{OID: pgtype.NumericOID, Typmod: numTypmod(50, 4)}, "numeric(50,4)", PlanOptions{WideDecimal: true}),
		PlanColumn("n", pgtype.NumericOID, -1, "numeric"),
		PlanColumn("ip", 869, -1, "inet"),
	}
	jsonType, _ := extensions.NewJSONType(arrow.BinaryTypes.String)
	want := []arrow.DataType{
		arrow.FixedWidthTypes.Boolean, arrow.PrimitiveTypes.Int16, arrow.PrimitiveTypes.Int32, arrow.PrimitiveTypes.Int64,
		arrow.PrimitiveTypes.Float32, arrow.PrimitiveTypes.Float64, arrow.BinaryTypes.String, arrow.BinaryTypes.Binary,
		extensions.NewUUIDType(), jsonType, jsonType, arrow.FixedWidthTypes.Date32,
		&arrow.TimestampType{Unit: arrow.Microsecond}, &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"},
		&arrow.Decimal128Type{Precision: 12, Scale: 2}, &arrow.Decimal256Type{Precision: 50, Scale: 4},
		arrow.BinaryTypes.String, arrow.BinaryTypes.String,
	}
	sc := ArrowSchema(cols)
	if sc.NumFields() != len(cols) || sc.Metadata().Len() != 0 {
		t.Fatalf("schema %v", sc)
	}
	for i, f := range sc.Fields() {
		if f.Name != cols[i].Name || !f.Nullable || !arrow.TypeEqual(f.Type, want[i]) {
			t.Errorf("field %d: %v, want %s %v nullable", i, f, cols[i].Name, want[i])
		}
		if v, ok := f.Metadata.GetValue("pg_type"); !ok || v != cols[i].PGType || f.Metadata.Len() != 1 {
			t.Errorf("field %d metadata %v, want pg_type=%q", i, f.Metadata, cols[i].PGType)
		}
	}
}

func TestKindString(t *testing.T) {
	if KindDecimal128.String() != "decimal128" || Kind(0).String() != "Kind(0)" || KindNumericString.String() != "numeric_string" {
		t.Error("Kind.String")
	}
}
