// Package pgarrow is the mapping from PostgreSQL types to Arrow: the kinds table (kinds.go),
// which holds every fact about a Kind that is not its decode loop, the catalog's description of
// a column's type (TypeDesc, filled by package snapshot), the planning of a column from it
// (PlanType, PlanColumn, PlanOptions) into a Column, the Arrow schema of the decoded batches
// (ArrowSchema) and the COPY select-list expression of a column (Column.SelectExpr).
//
// Its values are immutable once built and safe to share between goroutines; decoding is
// package gpuparse's (CPU) and package device's (GPU).
package pgarrow
