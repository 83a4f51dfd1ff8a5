package pgarrow

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/extensions"
	"github.com/jackc/pgx/v5/pgtype"
)

// Kind is the decoding of one column: how its COPY BINARY field bytes become
// Arrow values. Every decoder implements every Kind identically, so the Kind
// alone fixes both the Arrow type (see ArrowSchema) and the values.
type Kind int

// The Kinds. The zero value is deliberately invalid so that a Column built
// without PlanColumn is caught by the decoder instead of decoding as bool.
const (
	// KindBool decodes bool (1 byte, non-zero = true) to arrow boolean.
	KindBool Kind = iota + 1
	// KindInt16 decodes int2 to int16.
	KindInt16
	// KindInt32 decodes int4 (only int4; oid, xid and cid are KindUint32) to int32.
	KindInt32
	// KindInt64 decodes int8 to int64.
	KindInt64
	// KindFloat32 decodes float4 to float32, keeping the bits exactly (NaN payload, -0, ±Inf).
	KindFloat32
	// KindFloat64 decodes float8 to float64, keeping the bits exactly.
	KindFloat64
	// KindString decodes text, varchar, bpchar (padding kept), name and every
	// column cast ::text to arrow string (utf8). Bytes are copied as sent; the
	// server sends UTF-8 and the decoder does not validate it per value.
	KindString
	// KindBinary decodes bytea to arrow binary.
	KindBinary
	// KindUUID decodes uuid to the arrow-go extensions.UUIDType
	// (fixed_size_binary(16) storage; pqarrow writes the Parquet UUID logical type).
	KindUUID
	// KindJSON decodes json to extensions.JSONType over string (Parquet JSON
	// logical type); the field bytes are the JSON text.
	KindJSON
	// KindJSONB decodes jsonb to the same Arrow type as KindJSON; the wire form
	// is one version byte (must be 1) followed by the text.
	KindJSONB
	// KindDate decodes date to date32: days since 1970-01-01 = PostgreSQL days
	// since 2000-01-01 + 10957. ±infinity (int32 max/min) are kept unchanged.
	KindDate
	// KindTimestamp decodes timestamp to timestamp[us] without time zone:
	// µs since 2000-01-01 + 946684800000000. ±infinity (int64 max/min) are
	// kept unchanged; a finite value whose shift leaves the int64 range (or
	// would land on a sentinel) is a *DecodeError.
	KindTimestamp
	// KindTimestampTZ decodes timestamptz to timestamp[us, tz "UTC"], with the
	// same conversion as KindTimestamp.
	KindTimestampTZ
	// KindDecimal128 decodes numeric(p,s) with p <= 38 to decimal128(p,s),
	// exactly; NaN, ±Infinity and values that do not fit are *DecodeErrors.
	KindDecimal128
	// KindDecimal256 decodes numeric(p,s) with 38 < p <= 76 to decimal256(p,s),
	// with the same rules as KindDecimal128.
	KindDecimal256
	// KindNumericString decodes numeric without typmod (or with one no Arrow
	// decimal can hold) to string: exactly the text numeric_out prints
	// ("1.50", "NaN", "Infinity", "-Infinity").
	KindNumericString

	// The kinds below are decoded by the CPU decoder's type-tree path
	// (KindInfo.Tree) and never on the GPU. New kinds go at the end: the CUDA
	// ABI numbers the kinds above.

	// KindUint32 decodes oid, xid and cid (4 bytes, unsigned) to uint32.
	KindUint32
	// KindUint64 decodes xid8 (8 bytes, unsigned) to uint64.
	KindUint64
	// KindMoney decodes money (int64 in the currency's minor unit) to
	// decimal128(19, Scale), where Scale is lc_monetary's fraction digits:
	// the unscaled value is the int64 itself, so every value is exact.
	KindMoney
	// KindTime decodes time (int64 µs since midnight, 0..86400000000) to
	// time64[us]; 24:00:00 is 86400000000.
	KindTime
	// KindTimeTZ decodes timetz (int64 µs + int32 zone in seconds west of UTC)
	// to struct<time: time64[us], utc_offset_seconds: int32>, the offset in
	// seconds east of UTC (ISO sign: +02 is 7200).
	KindTimeTZ
	// KindInterval decodes interval (int64 µs, int32 days, int32 months) to
	// struct<months: int32, days: int32, microseconds: int64>, all exact.
	KindInterval
	// KindTimestampText decodes timestamp to string, exactly as PostgreSQL
	// prints it with DateStyle ISO ("294276-12-31 23:59:59.999999",
	// "0044-03-15 12:00:00 BC", "infinity"); every value fits.
	KindTimestampText
	// KindTimestampTZText decodes timestamptz to string as PostgreSQL prints
	// it with DateStyle ISO and TimeZone UTC ("2000-01-01 00:00:00+00").
	KindTimestampTZText
	// KindNumericFloat64 decodes numeric to the float64 nearest to its exact
	// value (NaN and ±Infinity kept); a finite value beyond float64's range is
	// a *DecodeError. Chosen only by PlanOptions (--numeric float64).
	KindNumericFloat64
	// KindEnum decodes an enum (its label text) to dictionary<int32, string>;
	// each batch has its own dictionary, in order of first appearance.
	KindEnum
	// KindList decodes an array of Dims dimensions to Dims nested lists of
	// Children[0]. Every dimension's lower bound must be 1, and a value must
	// have Dims dimensions (or none: an empty array is an empty list).
	KindList
	// KindStruct decodes a composite type to a struct of its attributes
	// (Children, named as the attributes).
	KindStruct
	// KindRange decodes a range to struct<lower: T, upper: T, lower_inc: bool,
	// upper_inc: bool, empty: bool> with T = Children[0], the subtype; an
	// unbounded side has a NULL bound, an empty range NULL bounds and empty true.
	KindRange
	// KindMultirange decodes a multirange to a list of Children[0] (a
	// KindRange), in the multirange's order.
	KindMultirange
	// KindUUIDText decodes uuid to string, exactly as PostgreSQL prints it (36
	// characters, lowercase: "12345678-9abc-def0-1234-56789abcdef0"). Chosen only
	// by ProfileSpark, whose reader refuses the Parquet UUID type.
	KindUUIDText
	// KindTimeMicros decodes time to int64 microseconds since midnight
	// (0..86400000000), the value time64[us] holds, without the TIME logical
	// type. Chosen only by ProfileSpark, whose reader refuses TIME.
	KindTimeMicros
	// KindTimeTZMicros decodes timetz to struct<time: int64, utc_offset_seconds:
	// int32>, KindTimeTZ with the time as KindTimeMicros. Chosen only by
	// ProfileSpark.
	KindTimeTZMicros

	kindCount // one past the last Kind: the length of the kinds table
)

// KindInfo is everything the program knows about a Kind apart from its decode loops: planning
// (which base types map to it), typing (its Arrow type), the wire (its fixed field width), the
// decoders' layout (Arrow buffer shapes, which decoder path and device handle it) and the
// writer (whether dictionary encoding pays). Adding a kind means one entry in kinds plus its
// decode code in package gpuparse (and, for a GPU kernel, the CUDA library).
type KindInfo struct {
	// Name names the kind in logs and messages (Kind.String); "" marks an invalid Kind.
	Name string
	// Arrow is the Arrow type of a kind whose type does not depend on the Column.
	Arrow arrow.DataType
	// ArrowFunc gives the Arrow type of parameterised kinds (decimals, money, and the tree
	// kinds built from their Children), checking the Column's parameters; it wins over Arrow.
	ArrowFunc func(c Column) (arrow.DataType, error)
	// Fixed is the exact COPY BINARY field length of fixed-width kinds, 0 for the others.
	Fixed int
	// Width is the bytes per value of the Arrow values buffer of the flat (non-Tree) kinds; 0
	// for bool (a bitmap) and variable-length kinds.
	Width int
	// VarLen: the flat kind's Arrow array has offsets and data buffers (strings, binary).
	VarLen bool
	// Tree: the kind is decoded by the CPU decoder's type-tree path into an Arrow builder.
	Tree bool
	// GPU: the CUDA kernels decode the kind; columns of other kinds are decoded on the CPU
	// even by the GPU decoder.
	GPU bool
	// Dictionary: Parquet column chunks of the kind are worth dictionary-encoding.
	Dictionary bool
	// Note says how values are encoded where the Arrow type alone does not (an int64 of
	// microseconds since midnight); Column.Note collects it into the file metadata.
	Note string
	// OIDs are the base types (by OID) that plan to this kind; PlanType refines some (numeric
	// typmods, timestamp text, money scale). A base type in no entry (xml among them: xml_send
	// drops a version-1.0 declaration that xml_out keeps) is exported through its text form.
	OIDs []uint32
}

// MoneyOID is the OID of money, which pgtype has no constant for.
const MoneyOID = 790

// Decimal precision limits of Arrow's decimal types.
const (
	maxDecimal128Precision = 38
	maxDecimal256Precision = 76
	moneyPrecision         = 19
	maxArrayDims           = 6
)

// Names of the fields of the struct kinds.
const (
	fieldTime       = "time"
	fieldUTCOffset  = "utc_offset_seconds"
	fieldMonths     = "months"
	fieldDays       = "days"
	fieldMicros     = "microseconds"
	fieldLower      = "lower"
	fieldUpper      = "upper"
	fieldLowerInc   = "lower_inc"
	fieldUpperInc   = "upper_inc"
	fieldEmpty      = "empty"
	listElementName = "element"
)

// kinds is the table of kinds, indexed by Kind. It is filled by init, not by a composite
// literal, because the ArrowFunc of tree kinds recurse through ArrowType, which reads it.
var kinds [kindCount]KindInfo

// kindByOID maps the base type OIDs of the table to their kinds.
var kindByOID = map[uint32]Kind{}

func init() {
	str := arrow.BinaryTypes.String
	kinds = [kindCount]KindInfo{
		KindBool:  {Name: "bool", Arrow: arrow.FixedWidthTypes.Boolean, Fixed: 1, GPU: true, OIDs: []uint32{pgtype.BoolOID}},
		KindInt16: {Name: "int16", Arrow: arrow.PrimitiveTypes.Int16, Fixed: 2, Width: 2, GPU: true, OIDs: []uint32{pgtype.Int2OID}},
		KindInt32: {Name: "int32", Arrow: arrow.PrimitiveTypes.Int32, Fixed: 4, Width: 4, GPU: true, OIDs: []uint32{pgtype.Int4OID}},
		KindInt64: {Name: "int64", Arrow: arrow.PrimitiveTypes.Int64, Fixed: 8, Width: 8, GPU: true, OIDs: []uint32{pgtype.Int8OID}},
		KindFloat32: {Name: "float32", Arrow: arrow.PrimitiveTypes.Float32, Fixed: 4, Width: 4, GPU: true,
			OIDs: []uint32{pgtype.Float4OID}},
		KindFloat64: {Name: "float64", Arrow: arrow.PrimitiveTypes.Float64, Fixed: 8, Width: 8, GPU: true,
			OIDs: []uint32{pgtype.Float8OID}},
		KindString: {Name: "string", Arrow: str, VarLen: true, GPU: true, Dictionary: true,
			OIDs: []uint32{pgtype.NameOID, pgtype.TextOID, pgtype.BPCharOID, pgtype.VarcharOID}},
		KindBinary: {Name: "binary", Arrow: arrow.BinaryTypes.Binary, VarLen: true, GPU: true, Dictionary: true,
			OIDs: []uint32{pgtype.ByteaOID}},
		KindUUID: {Name: "uuid", Arrow: extensions.NewUUIDType(), Fixed: 16, Width: 16, GPU: true, OIDs: []uint32{pgtype.UUIDOID}},
		KindJSON: {Name: "json", ArrowFunc: jsonType, VarLen: true, GPU: true, Dictionary: true, OIDs: []uint32{pgtype.JSONOID}},
		KindJSONB: {Name: "jsonb", ArrowFunc: jsonType, VarLen: true, GPU: true, Dictionary: true,
			OIDs: []uint32{pgtype.JSONBOID}},
		KindDate: {Name: "date", Arrow: arrow.FixedWidthTypes.Date32, Fixed: 4, Width: 4, GPU: true, OIDs: []uint32{pgtype.DateOID}},
		KindTimestamp: {Name: "timestamp", Arrow: &arrow.TimestampType{Unit: arrow.Microsecond}, Fixed: 8, Width: 8, GPU: true,
			OIDs: []uint32{pgtype.TimestampOID}},
		KindTimestampTZ: {Name: "timestamptz", Arrow: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"},
			Fixed: 8, Width: 8, GPU: true, OIDs: []uint32{pgtype.TimestamptzOID}},
		KindDecimal128:    {Name: "decimal128", ArrowFunc: decimal128Type, Width: 16, GPU: true},
		KindDecimal256:    {Name: "decimal256", ArrowFunc: decimal256Type, Width: 32},
		KindNumericString: {Name: "numeric_string", Arrow: str, VarLen: true, Dictionary: true, OIDs: []uint32{pgtype.NumericOID}},

		KindUint32: {Name: "uint32", Arrow: arrow.PrimitiveTypes.Uint32, Fixed: 4, Tree: true,
			OIDs: []uint32{pgtype.OIDOID, pgtype.XIDOID, pgtype.CIDOID}},
		KindUint64: {Name: "uint64", Arrow: arrow.PrimitiveTypes.Uint64, Fixed: 8, Tree: true, OIDs: []uint32{pgtype.XID8OID}},
		KindMoney:  {Name: "money", ArrowFunc: moneyType, Fixed: 8, Tree: true, OIDs: []uint32{MoneyOID}},
		KindTime:   {Name: "time", Arrow: arrow.FixedWidthTypes.Time64us, Fixed: 8, Tree: true, OIDs: []uint32{pgtype.TimeOID}},
		KindTimeTZ: {Name: "timetz", Arrow: arrow.StructOf(
			arrow.Field{Name: fieldTime, Type: arrow.FixedWidthTypes.Time64us, Nullable: true},
			arrow.Field{Name: fieldUTCOffset, Type: arrow.PrimitiveTypes.Int32, Nullable: true}),
			Fixed: 12, Tree: true, OIDs: []uint32{pgtype.TimetzOID}},
		KindInterval: {Name: "interval", Arrow: arrow.StructOf(
			arrow.Field{Name: fieldMonths, Type: arrow.PrimitiveTypes.Int32, Nullable: true},
			arrow.Field{Name: fieldDays, Type: arrow.PrimitiveTypes.Int32, Nullable: true},
			arrow.Field{Name: fieldMicros, Type: arrow.PrimitiveTypes.Int64, Nullable: true}),
			Fixed: 16, Tree: true, OIDs: []uint32{pgtype.IntervalOID}},
		KindTimestampText:   {Name: "timestamp_text", Arrow: str, Fixed: 8, Tree: true, Dictionary: true},
		KindTimestampTZText: {Name: "timestamptz_text", Arrow: str, Fixed: 8, Tree: true, Dictionary: true},
		KindNumericFloat64:  {Name: "numeric_float64", Arrow: arrow.PrimitiveTypes.Float64, Tree: true},
		KindEnum: {Name: "enum", Arrow: &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: str},
			Tree: true, Dictionary: true},
		KindList:       {Name: "list", ArrowFunc: listType, Tree: true},
		KindStruct:     {Name: "struct", ArrowFunc: structType, Tree: true},
		KindRange:      {Name: "range", ArrowFunc: rangeType, Tree: true},
		KindMultirange: {Name: "multirange", ArrowFunc: multirangeType, Tree: true},
		KindUUIDText:   {Name: "uuid_text", Arrow: str, Fixed: 16, Tree: true, Note: "uuid as its text"},
		KindTimeMicros: {Name: "time_micros", Arrow: arrow.PrimitiveTypes.Int64, Fixed: 8, Tree: true,
			Note: "time as int64 microseconds since midnight"},
		KindTimeTZMicros: {Name: "timetz_micros", Arrow: arrow.StructOf(
			arrow.Field{Name: fieldTime, Type: arrow.PrimitiveTypes.Int64, Nullable: true},
			arrow.Field{Name: fieldUTCOffset, Type: arrow.PrimitiveTypes.Int32, Nullable: true}),
			Fixed: 12, Tree: true, Note: "timetz as its time in int64 microseconds since midnight and its offset in seconds east of UTC"},
	}
	for k, info := range kinds {
		for _, oid := range info.OIDs {
			kindByOID[oid] = Kind(k)
		}
	}
}

// Info returns the kind's entry of the kinds table; an invalid Kind gets an empty one (Name "").
// The entry is shared: callers must not modify it.
func (k Kind) Info() *KindInfo {
	if k <= 0 || k >= kindCount {
		return &KindInfo{}
	}
	return &kinds[k]
}

// String names the Kind for logs and error messages.
func (k Kind) String() string {
	if n := k.Info().Name; n != "" {
		return n
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

func jsonType(Column) (arrow.DataType, error) {
	return extensions.NewJSONType(arrow.BinaryTypes.String)
}

func decimal128Type(c Column) (arrow.DataType, error) {
	if c.Precision < 1 || c.Precision > maxDecimal128Precision || c.Scale < 0 || c.Scale > c.Precision {
		return nil, fmt.Errorf("column %q (%s): invalid decimal128 precision/scale (%d,%d)", c.Name, c.PGType, c.Precision, c.Scale)
	}
	return &arrow.Decimal128Type{Precision: c.Precision, Scale: c.Scale}, nil
}

func decimal256Type(c Column) (arrow.DataType, error) {
	if c.Precision < 1 || c.Precision > maxDecimal256Precision || c.Scale < 0 || c.Scale > c.Precision {
		return nil, fmt.Errorf("column %q (%s): invalid decimal256 precision/scale (%d,%d)", c.Name, c.PGType, c.Precision, c.Scale)
	}
	return &arrow.Decimal256Type{Precision: c.Precision, Scale: c.Scale}, nil
}

func moneyType(c Column) (arrow.DataType, error) {
	if c.Scale < 0 || c.Scale > moneyPrecision {
		return nil, fmt.Errorf("column %q (%s): invalid money scale %d", c.Name, c.PGType, c.Scale)
	}
	return &arrow.Decimal128Type{Precision: moneyPrecision, Scale: c.Scale}, nil
}

// childType is the Arrow type of c's i-th child.
func childType(c Column, i int) (arrow.DataType, error) {
	if len(c.Children) <= i {
		return nil, fmt.Errorf("column %q (%s): %v without its child types", c.Name, c.PGType, c.Kind)
	}
	return ArrowType(c.Children[i])
}

func listType(c Column) (arrow.DataType, error) {
	if c.Dims < 1 || c.Dims > maxArrayDims {
		return nil, fmt.Errorf("column %q (%s): invalid array dimensions %d", c.Name, c.PGType, c.Dims)
	}
	dt, err := childType(c, 0)
	if err != nil {
		return nil, err
	}
	for range c.Dims {
		dt = arrow.ListOfField(arrow.Field{Name: listElementName, Type: dt, Nullable: true})
	}
	return dt, nil
}

func multirangeType(c Column) (arrow.DataType, error) {
	dt, err := childType(c, 0)
	if err != nil {
		return nil, err
	}
	if c.Children[0].Kind != KindRange {
		return nil, fmt.Errorf("column %q (%s): multirange of %v", c.Name, c.PGType, c.Children[0].Kind)
	}
	return arrow.ListOfField(arrow.Field{Name: listElementName, Type: dt, Nullable: true}), nil
}

func structType(c Column) (arrow.DataType, error) {
	if len(c.Children) == 0 {
		return nil, fmt.Errorf("column %q (%s): struct without fields", c.Name, c.PGType)
	}
	fields := make([]arrow.Field, len(c.Children))
	for i, f := range c.Children {
		dt, err := ArrowType(f)
		if err != nil {
			return nil, err
		}
		fields[i] = arrow.Field{Name: f.Name, Type: dt, Nullable: true}
	}
	return arrow.StructOf(fields...), nil
}

func rangeType(c Column) (arrow.DataType, error) {
	dt, err := childType(c, 0)
	if err != nil {
		return nil, err
	}
	return arrow.StructOf(
		arrow.Field{Name: fieldLower, Type: dt, Nullable: true},
		arrow.Field{Name: fieldUpper, Type: dt, Nullable: true},
		arrow.Field{Name: fieldLowerInc, Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		arrow.Field{Name: fieldUpperInc, Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		arrow.Field{Name: fieldEmpty, Type: arrow.FixedWidthTypes.Boolean, Nullable: true}), nil
}
