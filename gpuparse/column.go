package gpuparse

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/extensions"
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

	// The kinds below are decoded by the CPU decoder's type-tree path (tree.go)
	// and never on the GPU. New kinds go at the end: the CUDA ABI numbers the
	// kinds above.

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
)

// String names the Kind for logs and error messages.
func (k Kind) String() string {
	switch k {
	case KindBool:
		return "bool"
	case KindInt16:
		return "int16"
	case KindInt32:
		return "int32"
	case KindInt64:
		return "int64"
	case KindFloat32:
		return "float32"
	case KindFloat64:
		return "float64"
	case KindString:
		return "string"
	case KindBinary:
		return "binary"
	case KindUUID:
		return "uuid"
	case KindJSON:
		return "json"
	case KindJSONB:
		return "jsonb"
	case KindDate:
		return "date"
	case KindTimestamp:
		return "timestamp"
	case KindTimestampTZ:
		return "timestamptz"
	case KindDecimal128:
		return "decimal128"
	case KindDecimal256:
		return "decimal256"
	case KindNumericString:
		return "numeric_string"
	case KindUint32:
		return "uint32"
	case KindUint64:
		return "uint64"
	case KindMoney:
		return "money"
	case KindTime:
		return "time"
	case KindTimeTZ:
		return "timetz"
	case KindInterval:
		return "interval"
	case KindTimestampText:
		return "timestamp_text"
	case KindTimestampTZText:
		return "timestamptz_text"
	case KindNumericFloat64:
		return "numeric_float64"
	case KindEnum:
		return "enum"
	case KindList:
		return "list"
	case KindStruct:
		return "struct"
	case KindRange:
		return "range"
	case KindMultirange:
		return "multirange"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// PostgreSQL type OIDs with a native decoding.
const (
	oidBool        = 16
	oidBytea       = 17
	oidName        = 19
	oidInt8        = 20
	oidInt2        = 21
	oidInt4        = 23
	oidText        = 25
	oidJSON        = 114
	oidFloat4      = 700
	oidFloat8      = 701
	oidBpchar      = 1042
	oidVarchar     = 1043
	oidDate        = 1082
	oidTimestamp   = 1114
	oidTimestampTZ = 1184
	oidNumeric     = 1700
	oidUUID        = 2950
	oidJSONB       = 3802
)

// Decimal precision limits of Arrow's decimal types.
const (
	maxDecimal128Precision = 38
	maxDecimal256Precision = 76
)

// Column is one output column. PlanColumn fills it from catalog facts; the
// same []Column drives the COPY query (CastText), ArrowSchema and the decoder.
type Column struct {
	Name      string // PostgreSQL column name, used verbatim as the Arrow/Parquet field name
	TypeOID   uint32 // the column's type OID (after the caller resolved domains to their base type)
	Typmod    int32  // atttypmod (-1 if none)
	PGType    string // format_type(oid, typmod), e.g. "numeric(12,2)"; kept in metadata and error messages
	Kind      Kind
	Precision int32 // decimals only
	Scale     int32 // decimals only
	CastText  bool  // true when the type has no native decoding: the COPY query must select `col::text`, decoded as KindString

	// CastTextArray is set on a KindList column whose element type has no
	// native decoding: the COPY query must select `col::text[]` (see
	// SelectExpr) and the elements decode as KindString.
	CastTextArray bool
	// Children are the element of a KindList, the attributes of a
	// KindStruct, the subtype of a KindRange and the range of a
	// KindMultirange. A child's Name is its attribute name (structs) or
	// "element", "lower"/"upper", "range" (others).
	Children []Column
	// Dims is the number of dimensions (list levels) of a KindList.
	Dims int
	// SendOID, on a child, is the type OID the binary form names for it
	// (array element type, composite attribute type, before domains are
	// resolved); the decoder checks it. 0: not checked.
	SendOID uint32
}

// SelectExpr is the COPY select-list expression for the column, given its
// quoted identifier: the identifier, cast ::text or ::text[] where the
// column's type (or its array's element type) has no native decoding.
func (c Column) SelectExpr(ident string) string {
	switch {
	case c.CastText:
		return ident + "::pg_catalog.text"
	case c.CastTextArray:
		return ident + "::pg_catalog.text[]"
	}
	return ident
}

// PlanColumn decides the decoding of a column from its type OID and typmod.
// It never fails: a type without a native decoding gets CastText=true and
// KindString, so every column can be exported through its text form.
//
// numeric(p,s) becomes KindDecimal128 (p <= 38) or KindDecimal256 (p <= 76)
// only when Parquet can hold it (0 <= s <= p); a numeric without typmod, with
// p > 76, or with a negative scale or a scale above the precision (allowed
// since PostgreSQL 15) becomes KindNumericString, which loses nothing.
//
// PlanColumn knows base types by OID only; PlanType plans any type tree
// (arrays, composites, ranges, enums, extension types) with options.
func PlanColumn(name string, typeOID uint32, typmod int32, pgType string) Column {
	return PlanType(name, &TypeDesc{OID: typeOID, Typmod: typmod, PGType: pgType}, pgType, PlanOptions{})
}

// planScalar plans a base type known by OID, as PlanColumn always did: a
// type without a native decoding gets KindString with CastText.
func planScalar(name string, typeOID uint32, typmod int32, pgType string) Column {
	c := Column{Name: name, TypeOID: typeOID, Typmod: typmod, PGType: pgType}
	switch typeOID {
	case oidBool:
		c.Kind = KindBool
	case oidBytea:
		c.Kind = KindBinary
	case oidName, oidText, oidBpchar, oidVarchar:
		c.Kind = KindString
	case oidInt8:
		c.Kind = KindInt64
	case oidInt2:
		c.Kind = KindInt16
	case oidInt4:
		c.Kind = KindInt32
	case oidJSON:
		c.Kind = KindJSON
	case oidJSONB:
		c.Kind = KindJSONB
	case oidFloat4:
		c.Kind = KindFloat32
	case oidFloat8:
		c.Kind = KindFloat64
	case oidDate:
		c.Kind = KindDate
	case oidTimestamp:
		c.Kind = KindTimestamp
	case oidTimestampTZ:
		c.Kind = KindTimestampTZ
	case oidUUID:
		c.Kind = KindUUID
	case oidNumeric:
		c.Kind = KindNumericString
		if p, s, ok := numericTypmod(typmod); ok && p >= 1 && s >= 0 && s <= p && p <= maxDecimal256Precision {
			c.Precision, c.Scale = p, s
			c.Kind = KindDecimal256
			if p <= maxDecimal128Precision {
				c.Kind = KindDecimal128
			}
		}
	default:
		c.Kind = KindString
		c.CastText = true
	}
	return c
}

// numericTypmod unpacks a numeric atttypmod. The scale is read as an 11-bit
// signed number, as PostgreSQL 15+ stores negative scales; older servers
// only store 0..1000, which reads the same.
func numericTypmod(typmod int32) (precision, scale int32, ok bool) {
	if typmod < 4 {
		return 0, 0, false
	}
	t := typmod - 4
	precision = (t >> 16) & 0xffff
	scale = ((t & 0x7ff) ^ 1024) - 1024
	return precision, scale, true
}

// ArrowSchema builds the Arrow schema of the batches a Decoder returns for
// cols: one nullable field per column, named Column.Name, with field metadata
// {"pg_type": PGType}. Schema-level metadata is the caller's to add.
//
// A Column whose Kind or decimal precision/scale is invalid (not made by
// PlanColumn) gets the arrow null type here; a decoder for it fails every
// Decode with an error saying why.
func ArrowSchema(cols []Column) *arrow.Schema {
	fields := make([]arrow.Field, len(cols))
	for i, c := range cols {
		dt, err := arrowType(c)
		if err != nil {
			dt = arrow.Null
		}
		fields[i] = arrow.Field{
			Name:     c.Name,
			Type:     dt,
			Nullable: true,
			Metadata: arrow.NewMetadata([]string{"pg_type"}, []string{c.PGType}),
		}
	}
	return arrow.NewSchema(fields, nil)
}

// arrowType is the Arrow type of one column, or an error if the Column is not
// one PlanColumn could have made.
func arrowType(c Column) (arrow.DataType, error) {
	switch c.Kind {
	case KindBool:
		return arrow.FixedWidthTypes.Boolean, nil
	case KindInt16:
		return arrow.PrimitiveTypes.Int16, nil
	case KindInt32:
		return arrow.PrimitiveTypes.Int32, nil
	case KindInt64:
		return arrow.PrimitiveTypes.Int64, nil
	case KindFloat32:
		return arrow.PrimitiveTypes.Float32, nil
	case KindFloat64:
		return arrow.PrimitiveTypes.Float64, nil
	case KindString, KindNumericString:
		return arrow.BinaryTypes.String, nil
	case KindBinary:
		return arrow.BinaryTypes.Binary, nil
	case KindUUID:
		return extensions.NewUUIDType(), nil
	case KindJSON, KindJSONB:
		return extensions.NewJSONType(arrow.BinaryTypes.String)
	case KindDate:
		return arrow.FixedWidthTypes.Date32, nil
	case KindTimestamp:
		return &arrow.TimestampType{Unit: arrow.Microsecond}, nil
	case KindTimestampTZ:
		return &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, nil
	case KindDecimal128:
		if c.Precision < 1 || c.Precision > maxDecimal128Precision || c.Scale < 0 || c.Scale > c.Precision {
			return nil, fmt.Errorf("column %q (%s): invalid decimal128 precision/scale (%d,%d)", c.Name, c.PGType, c.Precision, c.Scale)
		}
		return &arrow.Decimal128Type{Precision: c.Precision, Scale: c.Scale}, nil
	case KindDecimal256:
		if c.Precision < 1 || c.Precision > maxDecimal256Precision || c.Scale < 0 || c.Scale > c.Precision {
			return nil, fmt.Errorf("column %q (%s): invalid decimal256 precision/scale (%d,%d)", c.Name, c.PGType, c.Precision, c.Scale)
		}
		return &arrow.Decimal256Type{Precision: c.Precision, Scale: c.Scale}, nil
	}
	if c.Kind > KindNumericString {
		return treeArrowType(c)
	}
	return nil, fmt.Errorf("column %q (%s): invalid %v", c.Name, c.PGType, c.Kind)
}
