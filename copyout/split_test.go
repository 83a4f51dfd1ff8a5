package copyout

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/pgparquet/pgparquet/internal/copytest"
)

// msg encodes one backend message.
func msg(typ byte, body []byte) []byte {
	b := []byte{typ}
	b = binary.BigEndian.AppendUint32(b, uint32(len(body)+4))
	return append(b, body...)
}

// trickle is a source that returns at most n bytes per Read, as a socket may.
type trickle struct {
	b []byte
	n int
}

func (t *trickle) Read(p []byte) (int, error) {
	if len(t.b) == 0 {
		return 0, io.EOF
	}
	k := min(len(p), t.n, len(t.b))
	copy(p, t.b[:k])
	t.b = t.b[k:]
	return k, nil
}

// message is one message as the splitter returned it.
type message struct {
	typ  byte
	body string
}

// fuzzMaxBody bounds the bodies the fuzz test accepts, so that it never allocates a large one.
const fuzzMaxBody = 1 << 16

// splitAll returns every message the splitter finds in b, read n bytes at a time through a
// block of blockSize bytes, and the error that ended it.
func splitAll(b []byte, blockSize, n int) ([]message, error) {
	s := splitter{src: &trickle{b: b, n: n}, block: make([]byte, blockSize), max: fuzzMaxBody}
	var got []message
	for {
		typ, body, err := s.next()
		if err != nil {
			return got, err
		}
		got = append(got, message{typ, string(body)})
	}
}

// lander lends the splitter memory as snapshot's receiver does: the 'd' bodies are appended to
// a store whose free end is where the stream is read, so each body moves over the headers
// before it; when the free end is too small, a new store is taken and the old one poisoned.
type lander struct {
	size   int    // each store's capacity
	store  []byte // the 'd' bodies since the store was taken
	bodies []byte // the same, appended from copies of them as the splitter returned them
	bad    string // the first mismatch between store and bodies
}

func (l *lander) land(partial []byte, need int) ([]byte, error) {
	if room := l.store[len(l.store):cap(l.store)]; l.store != nil && len(room) >= need {
		copy(room, partial)
		return room, nil
	}
	keep := bytes.Clone(partial)
	l.check()
	l.poison()
	l.store, l.bodies = make([]byte, 0, l.size), nil
	room := l.store[:cap(l.store)]
	copy(room, keep)
	return room, nil
}

func (l *lander) take(typ byte, body []byte) {
	if typ != 'd' {
		return
	}
	if len(l.store)+len(body) > cap(l.store) { // read into memory of its own: a new store
		l.check()
		l.poison()
		l.store, l.bodies = make([]byte, 0, l.size), nil
		if len(body) > l.size {
			return
		}
	}
	l.bodies = append(l.bodies, body...)
	l.store = append(l.store, body...)
}

// poison overwrites the store, which the splitter may no longer read.
func (l *lander) poison() {
	for i := range l.store[:cap(l.store)] {
		l.store[:cap(l.store)][i] = 0xee
	}
}

// check records a mismatch between what the store holds and the bodies it was given.
func (l *lander) check() {
	if l.bad == "" && l.store != nil && !bytes.Equal(l.store, l.bodies[:min(len(l.bodies), len(l.store))]) {
		l.bad = fmt.Sprintf("store %q, bodies %q", l.store, l.bodies)
	}
}

// splitLanded is splitAll with the stream read into memory l lends (stores of storeSize bytes,
// the largest message they take), and what the store held checked against the bodies.
func splitLanded(b []byte, storeSize, n int) ([]message, string, error) {
	l := &lander{size: storeSize}
	s := splitter{src: &trickle{b: b, n: n}, max: fuzzMaxBody, land: l.land, landMax: storeSize}
	var got []message
	for {
		typ, body, err := s.next()
		if err != nil {
			l.check()
			return got, l.bad, err
		}
		got = append(got, message{typ, string(body)})
		l.take(typ, body)
	}
}

// reference splits b in one piece, the plain way.
func reference(b []byte) ([]message, error) {
	var got []message
	for len(b) > 0 {
		if len(b) < headerLen {
			return got, io.ErrUnexpectedEOF
		}
		n := binary.BigEndian.Uint32(b[1:])
		if n < 4 || n-4 > fuzzMaxBody {
			return got, errMessageLength
		}
		if uint64(len(b)) < 1+uint64(n) {
			return got, io.ErrUnexpectedEOF
		}
		got = append(got, message{b[0], string(b[headerLen : 1+n])})
		b = b[1+n:]
	}
	return got, io.EOF
}

func TestSplitter(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789"), 10)
	stream := bytes.Join([][]byte{msg('H', []byte{1, 0, 0}), msg('d', []byte("row1")), msg('d', big), msg('d', nil), msg('c', nil), msg('Z', []byte{'T'})}, nil)
	want := []message{{'H', "\x01\x00\x00"}, {'d', "row1"}, {'d', string(big)}, {'d', ""}, {'c', ""}, {'Z', "T"}}
	tests := []struct {
		name      string
		in        []byte
		blockSize int
		read      int
		want      []message
		err       error
	}{
		{"one read", stream, 1 << 10, 1 << 10, want, io.EOF},
		{"byte by byte", stream, 1 << 10, 1, want, io.EOF},
		{"messages larger than the block", stream, 16, 7, want, io.EOF},
		{"block of one header", stream, headerLen, 3, want, io.EOF},
		{"empty", nil, 64, 64, nil, io.EOF},
		{"truncated header", stream[:3], 64, 64, nil, io.ErrUnexpectedEOF},
		{"truncated body", stream[:10], 64, 64, []message{{'H', "\x01\x00\x00"}}, io.ErrUnexpectedEOF},
		{"truncated large body", stream[:len(stream)-20], 16, 16, want[:2], io.ErrUnexpectedEOF},
		{"length below 4", append(msg('d', []byte("x")), 'd', 0, 0, 0, 3), 64, 64, []message{{'d', "x"}}, errMessageLength},
		{"length above the limit", []byte{'d', 0, 1, 0, 5}, 64, 64, nil, errMessageLength},
	}
	for _, tt := range tests {
		for _, landing := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/landing=%t", tt.name, landing), func(t *testing.T) {
				got, err := splitAll(tt.in, tt.blockSize, tt.read)
				if landing {
					var bad string
					got, bad, err = splitLanded(tt.in, tt.blockSize, tt.read)
					if bad != "" {
						t.Errorf("landing: %s", bad)
					}
				}
				if !errors.Is(err, tt.err) {
					t.Errorf("error %v, want %v", err, tt.err)
				}
				if len(got) != len(tt.want) {
					t.Fatalf("%d messages, want %d: %q", len(got), len(tt.want), got)
				}
				for i := range got {
					if got[i] != tt.want[i] {
						t.Errorf("message %d: %q, want %q", i, got[i], tt.want[i])
					}
				}
			})
		}
	}
}

// FuzzSplit checks the splitter against a plain split of the whole input, for any block size
// and any read sizes: the first two bytes choose them, the rest is the stream.
func FuzzSplit(f *testing.F) {
	for _, b := range splitSeeds() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 2 {
			return
		}
		blockSize, read := headerLen+int(b[0]), 1+int(b[1])
		b = b[2:]
		want, wantErr := reference(b)
		got, err := splitAll(b, blockSize, read)
		landed, bad, landedErr := splitLanded(b, blockSize, read)
		for _, r := range []struct {
			name string
			got  []message
			err  error
		}{{"block", got, err}, {"landing", landed, landedErr}} {
			if !errors.Is(r.err, wantErr) {
				t.Fatalf("%s: error %v, want %v", r.name, r.err, wantErr)
			}
			if len(r.got) != len(want) {
				t.Fatalf("%s: %d messages, want %d", r.name, len(r.got), len(want))
			}
			for i := range r.got {
				if r.got[i] != want[i] {
					t.Fatalf("%s: message %d: %q, want %q", r.name, i, r.got[i], want[i])
				}
			}
		}
		if bad != "" {
			t.Fatalf("landing: %s", bad)
		}
	})
}

// splitSeeds are the inputs the committed FuzzSplit corpus was written from: a block size byte,
// a read size byte, then the stream.
func splitSeeds() map[string][]byte {
	row := msg('d', bytes.Repeat([]byte{0, 1, 0, 0, 0, 4, 0, 0, 0, 7}, 3))
	copyOut := bytes.Join([][]byte{msg('H', []byte{1, 0, 1, 0, 1}), row, row, msg('d', []byte{0xff, 0xff}), msg('c', nil), msg('C', []byte("COPY 2\x00")), msg('Z', []byte{'T'})}, nil)
	withError := bytes.Join([][]byte{msg('H', []byte{1, 0, 0}), row, msg('E', []byte("SERROR\x00C22012\x00Mdivision by zero\x00\x00")), msg('Z', []byte{'E'})}, nil)
	return map[string][]byte{
		"copy_out":         append([]byte{64, 255}, copyOut...),
		"copy_out_trickle": append([]byte{0, 2}, copyOut...),
		"error_mid_copy":   append([]byte{16, 5}, withError...),
		"truncated":        append([]byte{32, 9}, copyOut[:len(copyOut)-3]...),
		"bad_length":       {8, 8, 'd', 0, 0, 0, 2},
		"huge_length":      {8, 8, 'd', 0xff, 0xff, 0xff, 0xff, 0},
	}
}

// TestWriteFuzzSeeds rewrites the seed_* files of testdata/fuzz from splitSeeds when
// GPUPARSE_WRITE_SEEDS=1; otherwise it checks that the committed seeds exist.
func TestWriteFuzzSeeds(t *testing.T) {
	copytest.WriteFuzzSeeds(t, map[string]map[string][]byte{"FuzzSplit": splitSeeds()})
}

// TestMaxBody: without a test's limit, a body of 1 GiB - 1 is accepted and one byte more is not.
func TestMaxBody(t *testing.T) {
	for _, tt := range []struct {
		length uint32
		ok     bool
	}{{maxBody + 4, true}, {maxBody + 5, false}} {
		s := splitter{src: &trickle{b: binary.BigEndian.AppendUint32([]byte{'d'}, tt.length), n: 5}, block: make([]byte, 64)}
		_, _, err := s.next()
		if got := !errors.Is(err, errMessageLength); got != tt.ok {
			t.Errorf("length %d: error %v", tt.length, err)
		}
	}
}
