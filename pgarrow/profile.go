package pgarrow

import (
	"fmt"
	"strings"
)

// Profile is a reader profile: the mapping adapted to what one Parquet reader takes exactly.
// The default mapping writes the Arrow types that say most about a value (uuid as the Parquet
// UUID type, time as TIME); a reader that refuses one of them (Spark refuses a whole file for
// one such column) gets a profile that writes the same values as types it reads without loss.
// A profile never loses a value: it changes types, not values.
type Profile int

// The Profiles. The zero value is the default mapping.
const (
	// ProfileDefault is the mapping of docs/types.md, which pyarrow, DuckDB and the other Arrow
	// readers take exactly.
	ProfileDefault Profile = iota
	// ProfileSpark writes what Spark 4's Parquet reader takes, with its default settings: uuid
	// as its 36-character text (KindUUIDText), time as int64 microseconds since midnight
	// (KindTimeMicros), timetz as struct<time: int64 µs, utc_offset_seconds: int32>
	// (KindTimeTZMicros), and numeric above 38 digits as exact text, never decimal256
	// (PlanOptions.WideDecimal and a NumericDecimal above 38 digits are ignored). Everything
	// else is the default mapping, which Spark reads exactly (uint32 as bigint, uint64 as
	// decimal(20,0), timestamp as timestamp_ntz, json as string).
	ProfileSpark
)

// profileNames are the Profiles' names, as options and the manifest spell them.
var profileNames = []string{ProfileDefault: "default", ProfileSpark: "spark"}

// ProfileNames lists the names ParseProfile accepts, the default first.
func ProfileNames() []string { return append([]string(nil), profileNames...) }

// ParseProfile returns the Profile named name (case-insensitive; "" is the default), or an
// error that lists the valid names.
func ParseProfile(name string) (Profile, error) {
	if name == "" {
		return ProfileDefault, nil
	}
	for i, n := range profileNames {
		if strings.EqualFold(name, n) {
			return Profile(i), nil
		}
	}
	return ProfileDefault, fmt.Errorf("%q is not one of %s", name, strings.Join(profileNames, ", "))
}

// String is the Profile's name, as ParseProfile accepts it.
func (p Profile) String() string {
	if p >= 0 && int(p) < len(profileNames) {
		return profileNames[p]
	}
	return fmt.Sprintf("Profile(%d)", int(p))
}
