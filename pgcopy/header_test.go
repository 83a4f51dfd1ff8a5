package pgcopy

import (
	"errors"
	"strings"
	"testing"
)

func header(flags uint32, ext []byte) []byte {
	b := append([]byte{}, signature...)
	b = append(b, byte(flags>>24), byte(flags>>16), byte(flags>>8), byte(flags))
	n := uint32(len(ext))
	b = append(b, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	return append(b, ext...)
}

func TestParseHeader(t *testing.T) {
	good := header(0, nil)
	tests := []struct {
		name string
		in   []byte
		want int
		off  int64
		msg  string // "" for success
	}{
		{"plain", good, 19, 0, ""},
		{"with first tuple", append(header(0, nil), 0, 1, 0, 0, 0, 4, 0, 0, 0, 1), 19, 0, ""},
		{"extension skipped", append(header(0, []byte("hello")), 0, 0), 24, 0, ""},
		{"non-critical flags ignored", header(0x0000ffff, nil), 19, 0, ""},
		{"empty", nil, 0, 0, "truncated header: 0 bytes, need 19"},
		{"truncated", good[:10], 0, 10, "truncated header: 10 bytes, need 19"},
		{"truncated extension", header(0, []byte("hello"))[:21], 0, 21, "truncated header: 21 bytes, need 24"},
		{"bad signature", append([]byte("PGCOPY\n\xff\r\n\x01"), good[11:]...), 0, 0, "bad signature"},
		{"text format", []byte("1\tfoo\n2\tbar\n3\tbaz\n\\.\n"), 0, 0, "bad signature"},
		{"oids", header(1<<16, nil), 0, 11, "OIDs included (bit 16)"},
		{"critical bit", header(1<<17, nil), 0, 11, "unknown critical bits"},
		{"negative extension", header(0, nil)[:15], 0, 15, "truncated"},
		{"negative extension length", append(append([]byte{}, good[:15]...), 0xff, 0xff, 0xff, 0xfe), 0, 15, "header extension length -2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := ParseHeader(tt.in)
			if tt.msg == "" {
				if err != nil || n != tt.want {
					t.Fatalf("got %d, %v; want %d", n, err, tt.want)
				}
				return
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("got %d, %v; want a *DecodeError", n, err)
			}
			if de.Offset != tt.off || de.Row != -1 || !strings.Contains(de.Msg, tt.msg) {
				t.Errorf("got %+v; want offset %d, msg containing %q", *de, tt.off, tt.msg)
			}
		})
	}
}

func TestIsTrailer(t *testing.T) {
	for _, tt := range []struct {
		in   []byte
		want bool
	}{
		{[]byte{0xff, 0xff}, true},
		{[]byte{0xff}, false},
		{[]byte{0xff, 0xff, 0}, false},
		{[]byte{0, 1}, false},
		{nil, false},
	} {
		if got := IsTrailer(tt.in); got != tt.want {
			t.Errorf("IsTrailer(%v) = %v", tt.in, got)
		}
	}
}

// FuzzParseHeader checks that ParseHeader never panics, returns a length
// within the input, and reports errors as *DecodeError.
func FuzzParseHeader(f *testing.F) {
	for _, b := range headerSeeds() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := ParseHeader(b)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %T, want *DecodeError", err)
			}
			return
		}
		if n < minHeaderLen || n > len(b) || string(b[:SignatureLen]) != signature {
			t.Fatalf("accepted header of length %d in %d bytes", n, len(b))
		}
	})
}

// headerSeeds are the inputs the committed FuzzParseHeader corpus was
// written from.
func headerSeeds() map[string][]byte {
	return map[string][]byte{
		"plain":           header(0, nil),
		"extension":       append(header(0, []byte("ext")), 0, 1),
		"oids":            header(1<<16, nil),
		"truncated":       []byte("PGCOPY\n"),
		"negative_extlen": append(append([]byte{}, header(0, nil)[:15]...), 0xff, 0xff, 0xff, 0xff),
	}
}
