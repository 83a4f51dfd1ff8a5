package pgarrow

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/extensions"
	"github.com/jackc/pgx/v5/pgtype"
)

func TestParseProfile(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Profile
		bad  bool
	}{
		{"", ProfileDefault, false},
		{"default", ProfileDefault, false},
		{"spark", ProfileSpark, false},
		{"Spark", ProfileSpark, false},
		{"arrow", 0, true},
		{"duckdb", 0, true},
	} {
		got, err := ParseProfile(tc.in)
		if (err != nil) != tc.bad || (!tc.bad && got != tc.want) {
			t.Errorf("ParseProfile(%q) = %v, %v", tc.in, got, err)
		}
		if tc.bad && (err == nil || err.Error() != `"`+tc.in+`" is not one of default, spark`) {
			t.Errorf("ParseProfile(%q) error %v, want one listing the profiles", tc.in, err)
		}
		if !tc.bad && tc.in != "" && got.String() != map[Profile]string{ProfileDefault: "default", ProfileSpark: "spark"}[got] {
			t.Errorf("%v.String() = %q", got, got.String())
		}
	}
}

// TestPlanProfiles checks the planning that reader profiles and WideDecimal change, and that
// they change nothing else.
func TestPlanProfiles(t *testing.T) {
	base := func(oid uint32, typmod int32) *TypeDesc { return &TypeDesc{OID: oid, Typmod: typmod} }
	arrayOf := func(e *TypeDesc) *TypeDesc {
		return &TypeDesc{OID: 1, Typmod: -1, Class: ClassArray, Elem: e, Dims: 1}
	}
	timetzMicros := arrow.StructOf(
		arrow.Field{Name: "time", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		arrow.Field{Name: "utc_offset_seconds", Type: arrow.PrimitiveTypes.Int32, Nullable: true})
	timetz := arrow.StructOf(
		arrow.Field{Name: "time", Type: arrow.FixedWidthTypes.Time64us, Nullable: true},
		arrow.Field{Name: "utc_offset_seconds", Type: arrow.PrimitiveTypes.Int32, Nullable: true})
	str := arrow.BinaryTypes.String
	spark := PlanOptions{Profile: ProfileSpark}
	for _, tc := range []struct {
		name string
		t    *TypeDesc
		o    PlanOptions
		kind Kind
		want arrow.DataType
	}{
		{"uuid", base(pgtype.UUIDOID, -1), PlanOptions{}, KindUUID, extensions.NewUUIDType()},
		{"uuid spark", base(pgtype.UUIDOID, -1), spark, KindUUIDText, str},
		{"uuid[] spark", arrayOf(base(pgtype.UUIDOID, -1)), spark, KindList, arrow.ListOf(str)},
		{"time", base(pgtype.TimeOID, -1), PlanOptions{}, KindTime, arrow.FixedWidthTypes.Time64us},
		{"time spark", base(pgtype.TimeOID, -1), spark, KindTimeMicros, arrow.PrimitiveTypes.Int64},
		{"time[] spark", arrayOf(base(pgtype.TimeOID, -1)), spark, KindList, arrow.ListOf(arrow.PrimitiveTypes.Int64)},
		{"timetz", base(pgtype.TimetzOID, -1), PlanOptions{}, KindTimeTZ, timetz},
		{"timetz spark", base(pgtype.TimetzOID, -1), spark, KindTimeTZMicros, timetzMicros},
		{"numeric(38,2)", base(pgtype.NumericOID, numTypmod(38, 2)), PlanOptions{}, KindDecimal128, &arrow.Decimal128Type{Precision: 38, Scale: 2}},
		{"numeric(38,2) spark", base(pgtype.NumericOID, numTypmod(38, 2)), spark, KindDecimal128, &arrow.Decimal128Type{Precision: 38, Scale: 2}},
		{"numeric(60,10)", base(pgtype.NumericOID, numTypmod(60, 10)), PlanOptions{}, KindNumericString, str},
		{"numeric(60,10) wide", base(pgtype.NumericOID, numTypmod(60, 10)), PlanOptions{WideDecimal: true}, KindDecimal256, &arrow.Decimal256Type{Precision: 60, Scale: 10}},
		{"numeric(76,38) wide", base(pgtype.NumericOID, numTypmod(76, 38)), PlanOptions{WideDecimal: true}, KindDecimal256, &arrow.Decimal256Type{Precision: 76, Scale: 38}},
		{"numeric(77,0) wide", base(pgtype.NumericOID, numTypmod(77, 0)), PlanOptions{WideDecimal: true}, KindNumericString, str},
		{"numeric(60,10) wide spark", base(pgtype.NumericOID, numTypmod(60, 10)), PlanOptions{Profile: ProfileSpark, WideDecimal: true}, KindNumericString, str},
		{"numeric decimal:50,2", base(pgtype.NumericOID, -1), PlanOptions{Numeric: NumericDecimal, NumericPrecision: 50, NumericScale: 2}, KindDecimal256, &arrow.Decimal256Type{Precision: 50, Scale: 2}},
		{"numeric decimal:50,2 spark", base(pgtype.NumericOID, -1), PlanOptions{Profile: ProfileSpark, Numeric: NumericDecimal, NumericPrecision: 50, NumericScale: 2}, KindNumericString, str},
		{"numeric decimal:20,2 spark", base(pgtype.NumericOID, -1), PlanOptions{Profile: ProfileSpark, Numeric: NumericDecimal, NumericPrecision: 20, NumericScale: 2}, KindDecimal128, &arrow.Decimal128Type{Precision: 20, Scale: 2}},
		{"oid spark", base(pgtype.OIDOID, -1), spark, KindUint32, arrow.PrimitiveTypes.Uint32},
		{"xid8 spark", base(pgtype.XID8OID, -1), spark, KindUint64, arrow.PrimitiveTypes.Uint64},
		{"timestamp spark", base(pgtype.TimestampOID, -1), spark, KindTimestamp, &arrow.TimestampType{Unit: arrow.Microsecond}},
		{"interval spark", base(pgtype.IntervalOID, -1), spark, KindInterval, nil},
		{"inet spark", base(869, -1), spark, KindString, str},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := PlanType("c", tc.t, "t", tc.o)
			if c.Kind != tc.kind {
				t.Fatalf("kind %v, want %v", c.Kind, tc.kind)
			}
			dt, err := ArrowType(c)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want != nil && !arrow.TypeEqual(dt, tc.want) {
				t.Errorf("arrow type %v, want %v", dt, tc.want)
			}
		})
	}
}

// TestColumnNote checks the notes on encodings the Arrow type does not tell, found anywhere in a
// column's tree, each once.
func TestColumnNote(t *testing.T) {
	spark := PlanOptions{Profile: ProfileSpark}
	uuid := &TypeDesc{OID: pgtype.UUIDOID, Typmod: -1}
	tm := &TypeDesc{OID: pgtype.TimeOID, Typmod: -1}
	comp := &TypeDesc{OID: 99999, Class: ClassComposite, Fields: []FieldDesc{{"a", uuid}, {"b", tm}, {"c", uuid}}}
	const uuidNote, timeNote = "uuid as its text", "time as int64 microseconds since midnight"
	for _, tc := range []struct {
		name string
		t    *TypeDesc
		o    PlanOptions
		want string
	}{
		{"uuid", uuid, PlanOptions{}, ""},
		{"uuid spark", uuid, spark, uuidNote},
		{"time spark", tm, spark, timeNote},
		{"time[] spark", &TypeDesc{OID: 1183, Class: ClassArray, Elem: tm, Dims: 1}, spark, timeNote},
		{"composite spark", comp, spark, uuidNote + "; " + timeNote},
		{"composite", comp, PlanOptions{}, ""},
		{"int4 spark", &TypeDesc{OID: pgtype.Int4OID, Typmod: -1}, spark, ""},
	} {
		if got := PlanType("c", tc.t, "t", tc.o).Note(); got != tc.want {
			t.Errorf("%s: note %q, want %q", tc.name, got, tc.want)
		}
	}
}
