package gpuparse

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/decimal256"

	"github.com/pgparquet/pgparquet/pgarrow"
)

// The type-tree path of the CPU decoder. Columns of the kinds after
// KindNumericString (arrays, composites, ranges, enums, time, interval, ...)
// are decoded here, recursively over the column's Children, in the same two
// passes as the flat kinds: the first pass (check) validates every byte of a
// value, nested ones included, and reports the first wrong byte as a
// *DecodeError; the second (appendValue) cannot fail and appends the value to
// an Arrow builder reserved for the chunk's rows. The flat kinds have their
// own tight loop in cpu.go; inside a tree (array elements, attributes, range
// bounds) they are decoded here with the same conversions.

// Wire constants of the tree kinds.
const (
	arrayHeaderLen = 12 // int32 ndim, int32 has-null flag, uint32 element type OID
	arrayDimLen    = 8  // int32 size, int32 lower bound, per dimension
	maxArrayDims   = 6  // PostgreSQL's MAXDIM
	rangeEmpty     = 0x01
	rangeLBInc     = 0x02
	rangeUBInc     = 0x04
	rangeLBInf     = 0x08
	rangeUBInf     = 0x10
	rangeLBNull    = 0x20
	rangeUBNull    = 0x40
	usecsPerDay    = 86400000000
	postgresEpochJ = 2451545 // Julian day of 2000-01-01
)

// tnode is the immutable decoding plan of one node of a type tree.
type tnode struct {
	kind    pgarrow.Kind
	fixed   int // exact wire length, 0 for variable-length kinds
	prec    int
	scale   int
	limit   [4]uint64
	dims    int
	sendOID uint32
	kids    []*tnode
	// where names the node inside its column for messages ("" for the column
	// itself, "element", "attribute \"x\"", "lower bound", ...).
	where string
}

// newTNode plans the decoding of column c (a tree kind at the top, any kind below).
func newTNode(c pgarrow.Column, where string) *tnode {
	n := &tnode{kind: c.Kind, fixed: c.Kind.Info().Fixed, dims: c.Dims, sendOID: c.SendOID, where: where}
	if c.Kind == pgarrow.KindDecimal128 || c.Kind == pgarrow.KindDecimal256 {
		n.prec, n.scale = int(c.Precision), int(c.Scale)
		n.limit = pow10x256(n.prec)
	}
	in := func(s string) string {
		if where == "" {
			return s
		}
		return s + " of " + where
	}
	for _, k := range c.Children {
		switch c.Kind {
		case pgarrow.KindList:
			n.kids = append(n.kids, newTNode(k, in("array element")))
		case pgarrow.KindStruct:
			n.kids = append(n.kids, newTNode(k, in(fmt.Sprintf("attribute %q", k.Name))))
		case pgarrow.KindRange:
			n.kids = append(n.kids, newTNode(k, in("range bound")))
		case pgarrow.KindMultirange:
			n.kids = append(n.kids, newTNode(k, in("range")))
		}
	}
	return n
}

// treeErr is a failure found by check: off is relative to the value's first
// byte (negative offsets point into its length word).
type treeErr struct {
	off int
	msg string
}

func (n *tnode) fail(off int, format string, args ...any) *treeErr {
	msg := fmt.Sprintf(format, args...)
	if n.where != "" {
		msg = n.where + ": " + msg
	}
	return &treeErr{off: off, msg: msg}
}

func be16(b []byte) uint16 { return binary.BigEndian.Uint16(b) }
func be32(b []byte) uint32 { return binary.BigEndian.Uint32(b) }
func be64(b []byte) uint64 { return binary.BigEndian.Uint64(b) }

// checkFields walks count length-prefixed fields of node k starting at
// b[p:], checking each non-NULL one, and returns the offset after them. If
// oids is true each field is preceded by a type OID (composites).
func (n *tnode) checkFields(b []byte, p int, count int, k func(i int) *tnode, oids bool) (int, *treeErr) {
	for i := range count {
		if oids {
			if len(b)-p < 4 {
				return 0, n.fail(p, "truncated: %d bytes left, need 4 for attribute %d's type OID", len(b)-p, i+1)
			}
			kid := k(i)
			if oid := be32(b[p:]); kid.sendOID != 0 && oid != kid.sendOID {
				return 0, n.fail(p, "attribute %d has type OID %d, expected %d", i+1, oid, kid.sendOID)
			}
			p += 4
		}
		if len(b)-p < 4 {
			return 0, n.fail(p, "truncated: %d bytes left, need 4 for a field length", len(b)-p)
		}
		l := int(int32(be32(b[p:])))
		p += 4
		if l == nullFieldLen {
			continue
		}
		if l < 0 {
			return 0, n.fail(p-4, "field length %d, expected -1 (NULL) or >= 0", l)
		}
		if l > len(b)-p {
			return 0, n.fail(p-4, "field length %d runs past the end of the value (%d bytes left)", l, len(b)-p)
		}
		if e := k(i).check(b[p : p+l]); e != nil {
			e.off += p
			return 0, e
		}
		p += l
	}
	return p, nil
}

// check validates one non-NULL value of n (its field bytes b) completely, so
// that appendValue cannot fail.
func (n *tnode) check(b []byte) *treeErr {
	if n.fixed > 0 && len(b) != n.fixed {
		return n.fail(-4, "field length %d, expected %d", len(b), n.fixed)
	}
	switch n.kind {
	case pgarrow.KindDate:
		if v := int32(be32(b)); !dateFits(v) {
			return n.fail(0, "date %d days after 2000-01-01 is out of range for date32 (and not +infinity)", v)
		}
	case pgarrow.KindTimestamp, pgarrow.KindTimestampTZ:
		if v := int64(be64(b)); !microsFit(v) {
			return n.fail(0, "timestamp %d µs after 2000-01-01 is out of range for timestamp[us] (%s: µs since 1970 overflow int64 past 294246 AD); export timestamps exactly as text with --timestamp text",
				v, formatTimestamp(nil, v, false))
		}
	case pgarrow.KindJSONB:
		if len(b) < 1 {
			return n.fail(-4, "jsonb field length 0, need at least the version byte")
		}
		if b[0] != jsonbVersion {
			return n.fail(0, "jsonb version %d, expected %d", b[0], jsonbVersion)
		}
	case pgarrow.KindDecimal128, pgarrow.KindDecimal256, pgarrow.KindNumericString, pgarrow.KindNumericFloat64:
		h, bad, msg := parseNumericHeader(b)
		if msg != "" {
			return n.fail(bad, "%s", msg)
		}
		digits := b[numericHeaderLen:]
		if bad := checkDigits(digits); bad >= 0 {
			return n.fail(numericHeaderLen+2*bad, "numeric digit %d at index %d, expected 0..9999", digitAt(digits, bad), bad)
		}
		switch n.kind {
		case pgarrow.KindNumericFloat64:
			if h.sign == numericPos || h.sign == numericNeg {
				if _, err := strconv.ParseFloat(string(appendNumericText(nil, h, digits)), 64); err != nil {
					return n.fail(0, "numeric %s is beyond float64's range; export it exactly with --numeric string", numericForMessage(h, digits))
				}
			}
		case pgarrow.KindDecimal128, pgarrow.KindDecimal256:
			typ := fmt.Sprintf("%s(%d,%d)", n.kind, n.prec, n.scale)
			switch h.sign {
			case numericNaN:
				return n.fail(0, "NaN does not fit %s; %s", typ, numericRemedy)
			case numericPInf:
				return n.fail(0, "Infinity does not fit %s; %s", typ, numericRemedy)
			case numericNInf:
				return n.fail(0, "-Infinity does not fit %s; %s", typ, numericRemedy)
			}
			switch _, res, _ := numericUnscaled(digits, h.weight, n.scale, n.prec, &n.limit); res {
			case decTooBig:
				return n.fail(0, "numeric %s needs more than %d digits of precision: does not fit %s; %s", numericForMessage(h, digits), n.prec, typ, numericRemedy)
			case decBeyondScale:
				return n.fail(0, "numeric %s has non-zero digits beyond scale %d: does not fit %s; %s", numericForMessage(h, digits), n.scale, typ, numericRemedy)
			}
		}
	case pgarrow.KindList:
		return n.checkArray(b)
	case pgarrow.KindStruct:
		if len(b) < 4 {
			return n.fail(-4, "composite field length %d, need at least 4 for the attribute count", len(b))
		}
		if cnt := int(int32(be32(b))); cnt != len(n.kids) {
			return n.fail(0, "composite with %d attributes, expected %d", cnt, len(n.kids))
		}
		p, e := n.checkFields(b, 4, len(n.kids), func(i int) *tnode { return n.kids[i] }, true)
		if e != nil {
			return e
		}
		if p != len(b) {
			return n.fail(p, "%d bytes after the last attribute", len(b)-p)
		}
	case pgarrow.KindRange:
		if len(b) < 1 {
			return n.fail(-4, "range field length 0, need at least the flags byte")
		}
		hasL, hasU := rangeBounds(b[0])
		p := 1
		for _, has := range []bool{hasL, hasU} {
			if !has {
				continue
			}
			q, e := n.checkFields(b, p, 1, func(int) *tnode { return n.kids[0] }, false)
			if e != nil {
				return e
			}
			if int32(be32(b[p:])) == nullFieldLen {
				return n.fail(p, "range bound of length -1 where the flags say it is present")
			}
			p = q
		}
		if p != len(b) {
			return n.fail(p, "%d bytes after the range's bounds (flags 0x%02x)", len(b)-p, b[0])
		}
	case pgarrow.KindMultirange:
		if len(b) < 4 {
			return n.fail(-4, "multirange field length %d, need at least 4 for the range count", len(b))
		}
		cnt := int(int32(be32(b)))
		if cnt < 0 || cnt > (len(b)-4)/5 {
			return n.fail(0, "multirange range count %d for %d bytes", cnt, len(b)-4)
		}
		p := 4
		for range cnt {
			q, e := n.checkFields(b, p, 1, func(int) *tnode { return n.kids[0] }, false)
			if e != nil {
				return e
			}
			if int32(be32(b[p:])) == nullFieldLen {
				return n.fail(p, "NULL range inside a multirange")
			}
			p = q
		}
		if p != len(b) {
			return n.fail(p, "%d bytes after the last range", len(b)-p)
		}
	}
	return nil
}

// numericRemedy says how to export a numeric value inside a nested value (an array element, a
// composite's field) that does not fit its decimal.
const numericRemedy = "export it exactly with --as-text COLUMN"

// rangeBounds says which bounds a range's binary form carries.
func rangeBounds(flags byte) (lower, upper bool) {
	return flags&(rangeEmpty|rangeLBInf|rangeLBNull) == 0, flags&(rangeEmpty|rangeUBInf|rangeUBNull) == 0
}

// checkArray validates an array value: header, dimensions, lower bounds and
// every element.
func (n *tnode) checkArray(b []byte) *treeErr {
	if len(b) < arrayHeaderLen {
		return n.fail(-4, "array field length %d, need at least %d for the header", len(b), arrayHeaderLen)
	}
	ndim := int(int32(be32(b)))
	if flags := int32(be32(b[4:])); flags != 0 && flags != 1 {
		return n.fail(4, "array flags %d, expected 0 or 1", flags)
	}
	if oid := be32(b[8:]); n.kids[0].sendOID != 0 && oid != n.kids[0].sendOID {
		return n.fail(8, "array element type OID %d, expected %d", oid, n.kids[0].sendOID)
	}
	if ndim == 0 {
		if len(b) != arrayHeaderLen {
			return n.fail(arrayHeaderLen, "%d bytes after an empty array's header", len(b)-arrayHeaderLen)
		}
		return nil
	}
	if ndim < 0 || ndim > maxArrayDims {
		return n.fail(0, "array with %d dimensions, expected 0..%d", ndim, maxArrayDims)
	}
	if ndim != n.dims {
		return n.fail(0, "array with %d dimensions in a column exported as %d-dimensional lists (the column's declared dimensions); export it exactly with --as-text COLUMN", ndim, n.dims)
	}
	if len(b) < arrayHeaderLen+arrayDimLen*ndim {
		return n.fail(-4, "array field length %d, need %d for the header of %d dimensions", len(b), arrayHeaderLen+arrayDimLen*ndim, ndim)
	}
	total := 1
	for d := range ndim {
		p := arrayHeaderLen + arrayDimLen*d
		size, lb := int(int32(be32(b[p:]))), int32(be32(b[p+4:]))
		if size < 0 {
			return n.fail(p, "array dimension %d has size %d", d+1, size)
		}
		if lb != 1 {
			return n.fail(p+4, "array dimension %d has lower bound %d: a list cannot keep it (lists start at 1); export the column exactly with --as-text COLUMN", d+1, lb)
		}
		if size > 0 && total > (len(b)/4)/size {
			return n.fail(p, "array of more elements than %d bytes can hold", len(b))
		}
		total *= size
	}
	p, e := n.checkFields(b, arrayHeaderLen+arrayDimLen*ndim, total, func(int) *tnode { return n.kids[0] }, false)
	if e != nil {
		return e
	}
	if p != len(b) {
		return n.fail(p, "%d bytes after the last array element", len(b)-p)
	}
	return nil
}

// storage returns the builder of an extension builder's storage, or b itself.
func storage(b array.Builder) array.Builder {
	if eb, ok := b.(interface{ StorageBuilder() array.Builder }); ok {
		return eb.StorageBuilder()
	}
	return b
}

// appendNullable appends one length-prefixed field of n: NULL if l is -1.
func (n *tnode) appendField(bld array.Builder, b []byte, p int) int {
	l := int(int32(be32(b[p:])))
	p += 4
	if l < 0 {
		bld.AppendNull()
		return p
	}
	n.appendValue(bld, b[p:p+l])
	return p + l
}

// appendValue appends one non-NULL value, already validated by check.
func (n *tnode) appendValue(bld array.Builder, b []byte) {
	switch n.kind {
	case pgarrow.KindBool:
		bld.(*array.BooleanBuilder).Append(b[0] != 0)
	case pgarrow.KindInt16:
		bld.(*array.Int16Builder).Append(int16(be16(b)))
	case pgarrow.KindInt32:
		bld.(*array.Int32Builder).Append(int32(be32(b)))
	case pgarrow.KindInt64:
		bld.(*array.Int64Builder).Append(int64(be64(b)))
	case pgarrow.KindUint32:
		bld.(*array.Uint32Builder).Append(be32(b))
	case pgarrow.KindUint64:
		bld.(*array.Uint64Builder).Append(be64(b))
	case pgarrow.KindFloat32:
		bld.(*array.Float32Builder).Append(math.Float32frombits(be32(b)))
	case pgarrow.KindFloat64:
		bld.(*array.Float64Builder).Append(math.Float64frombits(be64(b)))
	case pgarrow.KindString, pgarrow.KindJSON:
		storage(bld).(*array.StringBuilder).BinaryBuilder.Append(b)
	case pgarrow.KindJSONB:
		storage(bld).(*array.StringBuilder).BinaryBuilder.Append(b[1:])
	case pgarrow.KindBinary:
		bld.(*array.BinaryBuilder).Append(b)
	case pgarrow.KindUUID:
		storage(bld).(*array.FixedSizeBinaryBuilder).Append(b)
	case pgarrow.KindUUIDText:
		var buf [36]byte
		bld.(*array.StringBuilder).BinaryBuilder.Append(formatUUID(buf[:0], b))
	case pgarrow.KindEnum:
		_ = bld.(*array.BinaryDictionaryBuilder).Append(b) // int32 indices: fails only past 2^31 labels
	case pgarrow.KindDate:
		v, _ := unixDate(int32(be32(b))) // checked
		bld.(*array.Date32Builder).Append(arrow.Date32(v))
	case pgarrow.KindTimestamp, pgarrow.KindTimestampTZ:
		v, _ := unixMicros(int64(be64(b))) // checked
		bld.(*array.TimestampBuilder).Append(arrow.Timestamp(v))
	case pgarrow.KindTimestampText, pgarrow.KindTimestampTZText:
		bld.(*array.StringBuilder).BinaryBuilder.Append(formatTimestamp(nil, int64(be64(b)), n.kind == pgarrow.KindTimestampTZText))
	case pgarrow.KindTime:
		bld.(*array.Time64Builder).Append(arrow.Time64(int64(be64(b))))
	case pgarrow.KindTimeTZ:
		sb := bld.(*array.StructBuilder)
		sb.Append(true)
		sb.FieldBuilder(0).(*array.Time64Builder).Append(arrow.Time64(int64(be64(b))))
		sb.FieldBuilder(1).(*array.Int32Builder).Append(-int32(be32(b[8:])))
	case pgarrow.KindTimeMicros:
		bld.(*array.Int64Builder).Append(int64(be64(b)))
	case pgarrow.KindTimeTZMicros:
		sb := bld.(*array.StructBuilder)
		sb.Append(true)
		sb.FieldBuilder(0).(*array.Int64Builder).Append(int64(be64(b)))
		sb.FieldBuilder(1).(*array.Int32Builder).Append(-int32(be32(b[8:])))
	case pgarrow.KindInterval:
		sb := bld.(*array.StructBuilder)
		sb.Append(true)
		us, days, months := int64(be64(b)), int32(be32(b[8:])), int32(be32(b[12:]))
		sb.FieldBuilder(0).(*array.Int32Builder).Append(months)
		sb.FieldBuilder(1).(*array.Int32Builder).Append(days)
		sb.FieldBuilder(2).(*array.Int64Builder).Append(us)
	case pgarrow.KindMoney:
		bld.(*array.Decimal128Builder).Append(decimal128.FromI64(int64(be64(b))))
	case pgarrow.KindDecimal128, pgarrow.KindDecimal256:
		mag := n.unscaled(b)
		if n.kind == pgarrow.KindDecimal128 {
			bld.(*array.Decimal128Builder).Append(decimal128.New(int64(mag[1]), mag[0]))
		} else {
			bld.(*array.Decimal256Builder).Append(decimal256.New(mag[3], mag[2], mag[1], mag[0]))
		}
	case pgarrow.KindNumericString:
		h, _, _ := parseNumericHeader(b)
		bld.(*array.StringBuilder).BinaryBuilder.Append(appendNumericText(nil, h, b[numericHeaderLen:]))
	case pgarrow.KindNumericFloat64:
		h, _, _ := parseNumericHeader(b)
		var f float64
		switch h.sign {
		case numericNaN:
			f = math.NaN()
		case numericPInf:
			f = math.Inf(1)
		case numericNInf:
			f = math.Inf(-1)
		default:
			f, _ = strconv.ParseFloat(string(appendNumericText(nil, h, b[numericHeaderLen:])), 64)
		}
		bld.(*array.Float64Builder).Append(f)
	case pgarrow.KindList:
		n.appendArray(bld.(*array.ListBuilder), b)
	case pgarrow.KindStruct:
		sb := bld.(*array.StructBuilder)
		sb.Append(true)
		p := 4
		for i, k := range n.kids {
			p = k.appendField(sb.FieldBuilder(i), b, p+4) // skip the attribute's type OID
		}
	case pgarrow.KindRange:
		sb := bld.(*array.StructBuilder)
		sb.Append(true)
		flags := b[0]
		hasL, hasU := rangeBounds(flags)
		p := 1
		for i, has := range []bool{hasL, hasU} {
			if has {
				p = n.kids[0].appendField(sb.FieldBuilder(i), b, p)
			} else {
				sb.FieldBuilder(i).AppendNull()
			}
		}
		sb.FieldBuilder(2).(*array.BooleanBuilder).Append(flags&rangeLBInc != 0)
		sb.FieldBuilder(3).(*array.BooleanBuilder).Append(flags&rangeUBInc != 0)
		sb.FieldBuilder(4).(*array.BooleanBuilder).Append(flags&rangeEmpty != 0)
	case pgarrow.KindMultirange:
		lb := bld.(*array.ListBuilder)
		lb.Append(true)
		vb := lb.ValueBuilder()
		cnt := int(int32(be32(b)))
		p := 4
		for range cnt {
			p = n.kids[0].appendField(vb, b, p)
		}
	}
}

// unscaled is the two's complement unscaled value of a checked decimal.
func (n *tnode) unscaled(b []byte) [4]uint64 {
	if v, ok := decimalFast(b, n.scale, n.prec); ok {
		w := uint64(v >> 63)
		return [4]uint64{uint64(v), w, w, w}
	}
	h, _, _ := parseNumericHeader(b)
	mag, _, _ := numericUnscaled(b[numericHeaderLen:], h.weight, n.scale, n.prec, &n.limit)
	if h.sign == numericNeg {
		negate256(&mag)
	}
	return mag
}

// appendArray appends a checked array value as n.dims nested lists.
func (n *tnode) appendArray(lb *array.ListBuilder, b []byte) {
	ndim := int(int32(be32(b)))
	if ndim == 0 {
		lb.Append(true) // empty array: empty list
		return
	}
	sizes := make([]int, ndim)
	for d := range ndim {
		sizes[d] = int(int32(be32(b[arrayHeaderLen+arrayDimLen*d:])))
	}
	p := arrayHeaderLen + arrayDimLen*ndim
	var level func(lb *array.ListBuilder, d int)
	level = func(lb *array.ListBuilder, d int) {
		lb.Append(true)
		vb := lb.ValueBuilder()
		for range sizes[d] {
			if d+1 < ndim {
				level(vb.(*array.ListBuilder), d+1)
			} else {
				p = n.kids[0].appendField(vb, b, p)
			}
		}
	}
	level(lb, 0)
}

// formatTimestamp appends PostgreSQL's ISO text of a timestamp (µs since
// 2000-01-01), as timestamp_out prints it with DateStyle ISO and, when tz is
// set, TimeZone UTC (timestamptz_out then adds "+00").
func formatTimestamp(dst []byte, us int64, tz bool) []byte {
	switch us {
	case math.MaxInt64:
		return append(dst, "infinity"...)
	case math.MinInt64:
		return append(dst, "-infinity"...)
	}
	date := us / usecsPerDay
	t := us % usecsPerDay
	if t < 0 {
		t += usecsPerDay
		date--
	}
	year, month, day := j2date(int(date + postgresEpochJ))
	bc := year <= 0
	if bc {
		year = -(year - 1)
	}
	dst = appendPadded(dst, int64(year), 4)
	dst = append(dst, '-')
	dst = appendPadded(dst, int64(month), 2)
	dst = append(dst, '-')
	dst = appendPadded(dst, int64(day), 2)
	dst = append(dst, ' ')
	dst = appendPadded(dst, t/3600000000, 2)
	dst = append(dst, ':')
	dst = appendPadded(dst, t/60000000%60, 2)
	dst = append(dst, ':')
	dst = appendPadded(dst, t/1000000%60, 2)
	if frac := t % 1000000; frac != 0 {
		digits := 6
		for frac%10 == 0 {
			frac /= 10
			digits--
		}
		dst = append(dst, '.')
		dst = appendPadded(dst, frac, digits)
	}
	if tz {
		dst = append(dst, "+00"...)
	}
	if bc {
		dst = append(dst, " BC"...)
	}
	return dst
}

// appendPadded appends v (>= 0) in decimal, zero-padded to width digits.
func appendPadded(dst []byte, v int64, width int) []byte {
	s := strconv.FormatInt(v, 10)
	for i := len(s); i < width; i++ {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}

// j2date is PostgreSQL's j2date: the proleptic Gregorian date of Julian day
// jd (year 0 is 1 BC).
func j2date(jd int) (year, month, day int) {
	julian := uint32(jd)
	julian += 32044
	quad := julian / 146097
	extra := (julian-quad*146097)*4 + 3
	julian += 60 + quad*3 + extra/146097
	quad = julian / 1461
	julian -= quad * 1461
	y := julian * 4 / 1461
	if y != 0 {
		julian = (julian+305)%365 + 123
	} else {
		julian = (julian+306)%366 + 123
	}
	y += quad * 4
	year = int(y) - 4800
	quad = julian * 2141 / 65536
	day = int(julian - 7834*quad/256)
	month = int((quad+10)%12 + 1)
	return year, month, day
}

// formatUUID appends the 16 bytes of a uuid as uuid_out prints them: lowercase hex in groups of
// 8, 4, 4, 4 and 12 digits joined by hyphens.
func formatUUID(dst, u []byte) []byte {
	const digits = "0123456789abcdef"
	for i, c := range u[:16] {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst = append(dst, '-')
		}
		dst = append(dst, digits[c>>4], digits[c&0xf])
	}
	return dst
}
