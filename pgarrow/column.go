package pgarrow

import (
	"fmt"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
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

	// Output, on a CastText column, is its type's output function
	// (TypeDesc.Output): the text form is what it prints. "": the column's
	// cast to text (a column planned without its type tree).
	Output string
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
// quoted identifier: the identifier, or its text form where the column's
// type (or its array's element type) has no native decoding. Text forms come
// from the types' output functions, as PostgreSQL prints values, not from
// casts to text (a cast may print something else, as inet's adds /128, and
// anyone may create one for their type): for an array, its
// text form read back as text[], which keeps the elements' texts, the
// dimensions and the bounds.
func (c Column) SelectExpr(ident string) string {
	switch {
	case c.CastText && c.Output != "":
		return "pg_catalog.textin(" + c.Output + "(" + ident + "))"
	case c.CastText:
		return ident + "::pg_catalog.text"
	case c.CastTextArray:
		return "pg_catalog.textin(pg_catalog.array_out(" + ident + "))::pg_catalog.text[]"
	}
	return ident
}

// PlanColumn decides the decoding of a column from its type OID and typmod.
// It never fails: a type without a native decoding gets CastText=true and
// KindString, so every column can be exported through its text form.
//
// numeric(p,s) becomes KindDecimal128 when p <= 38 and Parquet can hold it
// (0 <= s <= p); a numeric without typmod, with p > 38 (decimal256 is
// PlanOptions.WideDecimal's), or with a negative scale or a scale above the
// precision (allowed since PostgreSQL 15) becomes KindNumericString, which
// loses nothing.
//
// PlanColumn knows base types by OID only; PlanType plans any type tree
// (arrays, composites, ranges, enums, extension types) with options.
func PlanColumn(name string, typeOID uint32, typmod int32, pgType string) Column {
	return PlanType(name, &TypeDesc{OID: typeOID, Typmod: typmod, PGType: pgType}, pgType, PlanOptions{})
}

// Note says how the column's values are encoded where its Arrow type alone does not (the
// kinds' KindInfo.Note, anywhere in its tree, each once, joined by "; "); "" for most columns.
// Exports write it into the file metadata and the manifest beside the PostgreSQL type.
func (c Column) Note() string {
	var notes []string
	var walk func(Column)
	walk = func(c Column) {
		if n := c.Kind.Info().Note; n != "" && !slices.Contains(notes, n) {
			notes = append(notes, n)
		}
		for _, k := range c.Children {
			walk(k)
		}
	}
	walk(c)
	return strings.Join(notes, "; ")
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
		dt, err := ArrowType(c)
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

// ArrowType is the Arrow type of one column, as the kinds table gives it, or an error if the
// Column is not one PlanColumn could have made.
func ArrowType(c Column) (arrow.DataType, error) {
	info := c.Kind.Info()
	switch {
	case info.Name == "":
		return nil, fmt.Errorf("column %q (%s): invalid %v", c.Name, c.PGType, c.Kind)
	case info.ArrowFunc != nil:
		return info.ArrowFunc(c)
	}
	return info.Arrow, nil
}
