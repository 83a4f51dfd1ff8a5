package pgarrow

import (
	"github.com/jackc/pgx/v5/pgtype"
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
	// Output is the type's output function, schema-qualified (pg_type.typoutput): a value's
	// text form is what it prints, whatever casts to text say. "" when not known.
	Output string
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
	// Profile adapts the mapping to what one reader takes exactly (see Profile).
	Profile Profile
	// Numeric is the mapping of numeric without a usable typmod.
	Numeric NumericMode
	// NumericPrecision and NumericScale are the decimal of NumericDecimal
	// (1 <= precision <= 76, 0 <= scale <= precision).
	NumericPrecision, NumericScale int32
	// WideDecimal plans numeric(p,s) with 38 < p <= 76 as decimal256(p,s)
	// (KindDecimal256) instead of its exact text (KindNumericString): Arrow
	// readers such as pyarrow take decimal256, but Spark refuses the whole
	// file and DuckDB reads it as a DOUBLE, losing digits. ProfileSpark
	// ignores it.
	WideDecimal bool
	// TimestampText decodes timestamp and timestamptz to PostgreSQL's ISO
	// text (KindTimestampText, KindTimestampTZText), which holds every value
	// exactly, including those past 294246 AD that timestamp[us] cannot hold.
	TimestampText bool
}

// PlanType decides the decoding of a column from its type tree. It never
// fails: a type without a native decoding is exported through its text form
// (CastText), an array whose element type has none through `::text[]`
// (CastTextArray, elements as strings), and a composite, range or
// multirange with such a part anywhere inside through its text form. pgType is the
// column's declared type (format_type), kept in metadata and messages; a nil
// t plans the column as text.
func PlanType(name string, t *TypeDesc, pgType string, o PlanOptions) Column {
	if t == nil {
		return PlanText(name, nil, pgType)
	}
	c, native := planNode(name, t, o)
	c.PGType = pgType
	c.SendOID = 0
	if native {
		return c
	}
	if t.Class == ClassArray {
		elem := Column{Name: "element", TypeOID: pgtype.TextOID, Typmod: -1, PGType: "text", Kind: KindString, SendOID: pgtype.TextOID}
		return Column{Name: name, TypeOID: t.OID, Typmod: t.Typmod, PGType: pgType, Kind: KindList,
			Dims: arrayDims(t.Dims), Children: []Column{elem}, CastTextArray: true}
	}
	return PlanText(name, t, pgType)
}

// PlanText plans a column as its text form (KindString, CastText): what t's output function
// prints, whatever the type's native decoding (--as-text). A nil t plans it as its cast to
// text.
func PlanText(name string, t *TypeDesc, pgType string) Column {
	c := Column{Name: name, PGType: pgType, Kind: KindString, CastText: true}
	if t != nil {
		c.TypeOID, c.Typmod, c.Output = t.OID, t.Typmod, t.Output
	}
	return c
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
		c.Kind, c.Dims, c.Children = KindList, arrayDims(t.Dims), []Column{e}
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
	if t.Name == "citext" {
		c.Kind = KindString
		return c, true
	}
	k, ok := kindByOID[t.OID]
	if !ok {
		return c, false // exported through its text form
	}
	c.Kind = k
	switch k {
	case KindMoney:
		c.Precision, c.Scale = 19, t.MoneyScale
	case KindUUID:
		if o.Profile == ProfileSpark {
			c.Kind = KindUUIDText
		}
	case KindTime:
		if o.Profile == ProfileSpark {
			c.Kind = KindTimeMicros
		}
	case KindTimeTZ:
		if o.Profile == ProfileSpark {
			c.Kind = KindTimeTZMicros
		}
	case KindTimestamp, KindTimestampTZ:
		if o.TimestampText {
			c.Kind = KindTimestampText
			if k == KindTimestampTZ {
				c.Kind = KindTimestampTZText
			}
		}
	case KindNumericString:
		wide := o.WideDecimal && o.Profile != ProfileSpark
		if p, s, ok := numericTypmod(t.Typmod); ok && p >= 1 && s >= 0 && s <= p && p <= maxDecimal256Precision {
			switch {
			case p <= maxDecimal128Precision:
				c.Kind, c.Precision, c.Scale = KindDecimal128, p, s
			case wide:
				c.Kind, c.Precision, c.Scale = KindDecimal256, p, s
			}
			break // else exact text
		}
		switch o.Numeric {
		case NumericDecimal:
			if o.NumericPrecision > maxDecimal128Precision && o.Profile == ProfileSpark {
				break // exact text: Spark reads no decimal256
			}
			c.Precision, c.Scale = o.NumericPrecision, o.NumericScale
			c.Kind = KindDecimal256
			if c.Precision <= maxDecimal128Precision {
				c.Kind = KindDecimal128
			}
		case NumericFloat64:
			c.Kind = KindNumericFloat64
		}
	}
	return c, true
}

// arrayDims is the list nesting of an array column declared with declared dimensions
// (attndims, which PostgreSQL does not enforce): at least 1, and no more than a value can have,
// so that a value of other dimensions fails on its own row, with the option that exports it.
func arrayDims(declared int) int {
	return min(max(declared, 1), maxArrayDims)
}
