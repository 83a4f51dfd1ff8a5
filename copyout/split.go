package copyout

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// headerLen is a backend message's type byte and int32 length; the length counts itself but
// not the type byte.
const headerLen = 5

// maxBody is the largest message body accepted. PostgreSQL builds a CopyData row in one
// allocation of at most 1 GiB - 1 (MaxAllocSize), and no other message of a COPY response comes
// near it; a larger length means the stream is not a PostgreSQL backend's.
const maxBody = 1<<30 - 1

// splitter cuts the backend messages out of a byte stream it reads in blocks: each read fills as
// much of the block as the source gives, and messages are returned as slices of the block, so a
// block of many rows costs one read and no copy. A message larger than the block is read into a
// buffer of its own. A splitter is not safe for concurrent use.
//
// With land set, the block is memory land lends (Landing.Land) and may change before each read:
// land gets the bytes read but not returned (a message's start) and returns the block to go on
// with, holding them at its start.
type splitter struct {
	src        io.Reader
	block      []byte // owned by the splitter's owner (Conn), reused across streams, or land's
	start, end int    // block[start:end] is read but not yet returned
	err        error  // the error of a read that also returned data, kept for when it is used
	max        uint32 // the largest body accepted; 0: maxBody (tests lower it)
	land       func(partial []byte, need int) ([]byte, error)
	landMax    int // the largest message land holds
}

// errMessageLength is wrapped by the error for a message length that no backend sends.
var errMessageLength = errors.New("invalid message length")

// next returns the next message's type and body. The body is valid only until the next call
// (it aliases the block). Errors: the source's (io.EOF when it ended between messages,
// io.ErrUnexpectedEOF inside one) or a wrapped errMessageLength.
func (s *splitter) next() (byte, []byte, error) {
	for {
		avail := s.block[s.start:s.end]
		need := headerLen
		if len(avail) >= headerLen {
			typ := avail[0]
			n := binary.BigEndian.Uint32(avail[1:headerLen])
			if n < 4 || n-4 > s.maxBody() {
				return 0, nil, fmt.Errorf("message %q: %w %d", typ, errMessageLength, n)
			}
			size := 1 + int(n)
			if len(avail) >= size {
				s.start += size
				return typ, avail[headerLen:size], nil
			}
			if (s.land == nil || size > s.landMax) && size > len(s.block) {
				return s.large(typ, size)
			}
			need = size
		}
		if s.land != nil {
			block, err := s.land(avail, need)
			if err != nil {
				return 0, nil, err
			}
			if len(block) < max(need, len(avail)) {
				return 0, nil, fmt.Errorf("landing of %d bytes for a message of %d", len(block), need)
			}
			s.block, s.start, s.end = block, 0, len(avail)
		} else if s.start > 0 {
			s.end = copy(s.block, avail)
			s.start = 0
		}
		if err := s.fill(); err != nil {
			if err == io.EOF && s.end > 0 {
				err = io.ErrUnexpectedEOF
			}
			return 0, nil, err
		}
	}
}

func (s *splitter) maxBody() uint32 {
	if s.max == 0 {
		return maxBody
	}
	return s.max
}

// fill reads once into the free end of the block; it returns an error only if nothing was read.
func (s *splitter) fill() error {
	if s.err != nil {
		return s.err
	}
	n, err := s.src.Read(s.block[s.end:])
	s.end += n
	if err != nil {
		if n > 0 {
			s.err = err
			return nil
		}
		return err
	}
	return nil
}

// large reads a message of size bytes (header included), larger than the block, into a buffer
// of its own; the block holds its start.
func (s *splitter) large(typ byte, size int) (byte, []byte, error) {
	body := make([]byte, size-headerLen)
	k := copy(body, s.block[s.start+headerLen:s.end])
	s.start, s.end = 0, 0
	if s.err != nil {
		return 0, nil, noEOF(s.err)
	}
	if _, err := io.ReadFull(s.src, body[k:]); err != nil {
		return 0, nil, noEOF(err)
	}
	return typ, body, nil
}

// noEOF turns io.EOF, which inside a message means a truncated stream, into io.ErrUnexpectedEOF.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
