package pgarrow

import (
	"strconv"

	"github.com/jackc/pgx/v5/pgtype"
)

// numTypmod is atttypmod of numeric(p,s).
func numTypmod(p, s int32) int32 { return (p<<16 | s&0x7ff) + 4 }

func numCol(name string, p, s int32) Column {
	return PlanColumn(name, pgtype.NumericOID, numTypmod(p, s), "numeric("+strconv.Itoa(int(p))+","+strconv.Itoa(int(s))+")")
}
