package gpuparse

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
)

// More PostgreSQL type OIDs with a native decoding (see column.go for the
// first ones). Extension types (citext) have no fixed OID and are known by
// TypeDesc.Name.
const (
	oidOID      = 26
	oidXID      = 28
	oidCID      = 29
	oidXML      = 142
	oidMoney    = 790
	oidTime     = 1083
	oidInterval = 1186
	oidTimeTZ   = 1266
	oidXID8     = 5069
)

// TypeClass says how a type is built, which decides its binary form.
type TypeClass int

// The TypeClasses. The zero value is a base (scalar) type.
const (
	// ClassBase is a base or pseudo type, decoded by OID (or by name for
	// extension types), else exported as text.
	ClassBase TypeClass = iota
	// ClassArray is an array type; TypeDesc.Elem is its element type.
	ClassArray
	// ClassComposite is a composite (row) type; TypeDesc.Fields are its live attributes.
	ClassComposite
	// ClassEnum is an enum type: its binary form is the label text.
	ClassEnum
	// ClassRange is a range type; TypeDesc.Elem is its subtype.
	ClassRange
	// ClassMultirange is a multirange type; TypeDesc.Elem is its range type.
	ClassMultirange
)

// TypeDesc describes a column's type as COPY BINARY sends it: a tree that the
// catalog reader (snapshot.Resolve) fills inside the export's snapshot, with
// domains resolved to their base types at every level.
type TypeDesc struct {
	// OID is the type (a domain's base type, through nested domains).
	OID uint32
	// SendOID is the OID the binary form of an enclosing array or composite
	// names for this value: the declared type, a domain's own OID. 0 where
	// nothing names it (a column, a range subtype) or it is not known.
	SendOID uint32
	// Typmod goes with OID (array elements share their array's typmod).
	Typmod int32
	// Name is pg_type.typname of OID, e.g. "citext"; extension types are
	// known by it.
	Name string
	// PGType is format_type(OID, Typmod), for messages and metadata.
	PGType string
	// Class is how the type is built.
	Class TypeClass
	// Elem is the element type (ClassArray), the subtype (ClassRange) or the
	// range type (ClassMultirange).
	Elem *TypeDesc
	// Dims is the number of dimensions of an array (pg_attribute.attndims,
	// at least 1): values decode to that many nested lists.
	Dims int
	// Fields are a composite's live attributes in attnum order.
	Fields []FieldDesc
	// MoneyScale is the number of fraction digits of money values
	// (lc_monetary's; 2 for most currencies). Used for OID money only.
	MoneyScale int32
}

// FieldDesc is one attribute of a composite type.
type FieldDesc struct {
	Name string
	Type *TypeDesc
}

// NumericMode says how numeric columns without a usable typmod (no typmod,
// precision above 76, negative scale or scale above precision) are decoded.
type NumericMode int

// The NumericModes.
const (
	// NumericString gives exactly numeric_out's text (the default).
	NumericString NumericMode = iota
	// NumericDecimal gives decimal128/decimal256 of PlanOptions.NumericPrecision
	// and NumericScale; a value that does not fit, NaN or ±Infinity is a
	// *DecodeError.
	NumericDecimal
	// NumericFloat64 gives the nearest float64.
	NumericFloat64
)

// PlanOptions are the user's choices where a type has more than one exact
// (or one exact and one convenient) mapping.
type PlanOptions struct {
	// Numeric is the mapping of numeric without a usable typmod.
	Numeric NumericMode
	// NumericPrecision and NumericScale are the decimal of NumericDecimal
	// (1 <= precision <= 76, 0 <= scale <= precision).
	NumericPrecision, NumericScale int32
	// TimestampText decodes timestamp and timestamptz to PostgreSQL's ISO
	// text (KindTimestampText, KindTimestampTZText), which holds every value
	// exactly, including those past 294246 AD that timestamp[us] cannot hold.
	TimestampText bool
}

// PlanType decides the decoding of a column from its type tree. It never
// fails: a type without a native decoding is exported through its text form
// (CastText), an array whose element type has none through `::text[]`
// (CastTextArray, elements as strings), and a composite, range or
// multirange with such a part anywhere inside through `::text`. pgType is the
// column's declared type (format_type), kept in metadata and messages; a nil
// t plans the column as text.
func PlanType(name string, t *TypeDesc, pgType string, o PlanOptions) Column {
	if t == nil {
		return Column{Name: name, PGType: pgType, Kind: KindString, CastText: true}
	}
	c, native := planNode(name, t, o)
	c.PGType = pgType
	c.SendOID = 0
	if native {
		return c
	}
	if t.Class == ClassArray {
		elem := Column{Name: "element", TypeOID: oidText, Typmod: -1, PGType: "text", Kind: KindString, SendOID: oidText}
		return Column{Name: name, TypeOID: t.OID, Typmod: t.Typmod, PGType: pgType, Kind: KindList,
			Dims: max(t.Dims, 1), Children: []Column{elem}, CastTextArray: true}
	}
	return Column{Name: name, TypeOID: t.OID, Typmod: t.Typmod, PGType: pgType, Kind: KindString, CastText: true}
}

// planNode plans one node of a type tree; native is false when the node or
// anything below it has no native decoding.
func planNode(name string, t *TypeDesc, o PlanOptions) (Column, bool) {
	pgType := t.PGType
	if pgType == "" {
		pgType = t.Name
	}
	c := Column{Name: name, TypeOID: t.OID, Typmod: t.Typmod, PGType: pgType, SendOID: t.SendOID}
	switch t.Class {
	case ClassEnum:
		c.Kind = KindEnum
		return c, true
	case ClassArray:
		if t.Elem == nil {
			return c, false
		}
		e, ok := planNode("element", t.Elem, o)
		c.Kind, c.Dims, c.Children = KindList, max(t.Dims, 1), []Column{e}
		return c, ok
	case ClassComposite:
		if len(t.Fields) == 0 {
			return c, false // Arrow structs need a field; Parquet groups too
		}
		c.Kind = KindStruct
		ok := true
		for _, f := range t.Fields {
			if f.Type == nil {
				return c, false
			}
			fc, fok := planNode(f.Name, f.Type, o)
			ok = ok && fok
			c.Children = append(c.Children, fc)
		}
		return c, ok
	case ClassRange:
		if t.Elem == nil {
			return c, false
		}
		e, ok := planNode("bound", t.Elem, o)
		e.SendOID = 0 // range bounds carry no type OID
		c.Kind, c.Children = KindRange, []Column{e}
		return c, ok
	case ClassMultirange:
		if t.Elem == nil || t.Elem.Class != ClassRange {
			return c, false
		}
		r, ok := planNode("range", t.Elem, o)
		r.SendOID = 0
		c.Kind, c.Children = KindMultirange, []Column{r}
		return c, ok
	}
	switch t.OID {
	case oidOID, oidXID, oidCID:
		c.Kind = KindUint32
	case oidXID8:
		c.Kind = KindUint64
	case oidMoney:
		c.Kind, c.Precision, c.Scale = KindMoney, 19, t.MoneyScale
	case oidTime:
		c.Kind = KindTime
	case oidTimeTZ:
		c.Kind = KindTimeTZ
	case oidInterval:
		c.Kind = KindInterval
	case oidXML:
		// xml_send drops a version-1.0 XML declaration that xml_out keeps: export the text
		// form, which is exactly what PostgreSQL prints.
		return c, false
	case oidTimestamp, oidTimestampTZ:
		c.Kind = KindTimestamp
		if t.OID == oidTimestampTZ {
			c.Kind = KindTimestampTZ
		}
		if o.TimestampText {
			c.Kind = KindTimestampText
			if t.OID == oidTimestampTZ {
				c.Kind = KindTimestampTZText
			}
		}
	default:
		if t.Name == "citext" {
			c.Kind = KindString
			return c, true
		}
		s := planScalar(name, t.OID, t.Typmod, pgType)
		if s.CastText {
			return c, false
		}
		c.Kind, c.Precision, c.Scale = s.Kind, s.Precision, s.Scale
		if c.Kind == KindNumericString {
			switch o.Numeric {
			case NumericDecimal:
				c.Precision, c.Scale = o.NumericPrecision, o.NumericScale
				c.Kind = KindDecimal256
				if c.Precision <= maxDecimal128Precision {
					c.Kind = KindDecimal128
				}
			case NumericFloat64:
				c.Kind = KindNumericFloat64
			}
		}
	}
	return c, true
}

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

// enumType is the Arrow type of KindEnum.
var enumType = &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}

// treeArrowType is arrowType for the kinds of the type-tree decoder.
func treeArrowType(c Column) (arrow.DataType, error) {
	child := func(i int) (arrow.DataType, error) {
		if len(c.Children) <= i {
			return nil, fmt.Errorf("column %q (%s): %v without its child types", c.Name, c.PGType, c.Kind)
		}
		return arrowType(c.Children[i])
	}
	switch c.Kind {
	case KindUint32:
		return arrow.PrimitiveTypes.Uint32, nil
	case KindUint64:
		return arrow.PrimitiveTypes.Uint64, nil
	case KindMoney:
		if c.Scale < 0 || c.Scale > 19 {
			return nil, fmt.Errorf("column %q (%s): invalid money scale %d", c.Name, c.PGType, c.Scale)
		}
		return &arrow.Decimal128Type{Precision: 19, Scale: c.Scale}, nil
	case KindTime:
		return arrow.FixedWidthTypes.Time64us, nil
	case KindTimeTZ:
		return arrow.StructOf(
			arrow.Field{Name: fieldTime, Type: arrow.FixedWidthTypes.Time64us, Nullable: true},
			arrow.Field{Name: fieldUTCOffset, Type: arrow.PrimitiveTypes.Int32, Nullable: true}), nil
	case KindInterval:
		return arrow.StructOf(
			arrow.Field{Name: fieldMonths, Type: arrow.PrimitiveTypes.Int32, Nullable: true},
			arrow.Field{Name: fieldDays, Type: arrow.PrimitiveTypes.Int32, Nullable: true},
			arrow.Field{Name: fieldMicros, Type: arrow.PrimitiveTypes.Int64, Nullable: true}), nil
	case KindTimestampText, KindTimestampTZText:
		return arrow.BinaryTypes.String, nil
	case KindNumericFloat64:
		return arrow.PrimitiveTypes.Float64, nil
	case KindEnum:
		return enumType, nil
	case KindList:
		if c.Dims < 1 || c.Dims > 6 {
			return nil, fmt.Errorf("column %q (%s): invalid array dimensions %d", c.Name, c.PGType, c.Dims)
		}
		dt, err := child(0)
		if err != nil {
			return nil, err
		}
		for range c.Dims {
			dt = arrow.ListOfField(arrow.Field{Name: listElementName, Type: dt, Nullable: true})
		}
		return dt, nil
	case KindMultirange:
		dt, err := child(0)
		if err != nil {
			return nil, err
		}
		if c.Children[0].Kind != KindRange {
			return nil, fmt.Errorf("column %q (%s): multirange of %v", c.Name, c.PGType, c.Children[0].Kind)
		}
		return arrow.ListOfField(arrow.Field{Name: listElementName, Type: dt, Nullable: true}), nil
	case KindStruct:
		if len(c.Children) == 0 {
			return nil, fmt.Errorf("column %q (%s): struct without fields", c.Name, c.PGType)
		}
		fields := make([]arrow.Field, len(c.Children))
		for i, f := range c.Children {
			dt, err := arrowType(f)
			if err != nil {
				return nil, err
			}
			fields[i] = arrow.Field{Name: f.Name, Type: dt, Nullable: true}
		}
		return arrow.StructOf(fields...), nil
	case KindRange:
		dt, err := child(0)
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
	return nil, fmt.Errorf("column %q (%s): invalid %v", c.Name, c.PGType, c.Kind)
}
