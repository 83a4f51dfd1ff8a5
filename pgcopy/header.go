package pgcopy

import (
	"encoding/binary"
	"fmt"
)

// SignatureLen is the length of the COPY BINARY signature "PGCOPY\n\377\r\n\000".
const SignatureLen = 11

// signature is the fixed start of every COPY BINARY stream.
const signature = "PGCOPY\n\xff\r\n\x00"

// minHeaderLen is the signature, the int32 flags and the int32 extension length.
const minHeaderLen = SignatureLen + 4 + 4

// flagOIDs is the flags bit saying that every tuple carries an OID field,
// which this package does not decode.
const flagOIDs = 1 << 16

// criticalFlags are the flag bits (16-31) a reader must reject if it does not
// understand them; bits 0-15 may be ignored.
const criticalFlags = 0xffff0000

// ParseHeader validates the COPY BINARY file header at the start of b and
// returns its length in bytes, so that the receiver can strip it from the
// first CopyData message: the signature, int32 flags (bit 16, OIDs, must be 0,
// and so must the other critical bits 16-31), and the int32 header extension
// length followed by an extension, which is skipped. A b too short for the
// whole header is an error too. Errors are *DecodeError with Row -1 and an
// empty Source (the caller knows the stream and may fill it in).
func ParseHeader(b []byte) (int, error) {
	if len(b) < minHeaderLen {
		return 0, headerError(int64(len(b)), fmt.Sprintf("truncated header: %d bytes, need %d", len(b), minHeaderLen))
	}
	if string(b[:SignatureLen]) != signature {
		return 0, headerError(0, fmt.Sprintf("bad signature %q, expected %q", b[:SignatureLen], signature))
	}
	flags := binary.BigEndian.Uint32(b[SignatureLen:])
	if flags&flagOIDs != 0 {
		return 0, headerError(SignatureLen, fmt.Sprintf("flags 0x%08x: OIDs included (bit 16), which is not supported", flags))
	}
	if flags&criticalFlags != 0 {
		return 0, headerError(SignatureLen, fmt.Sprintf("flags 0x%08x: unknown critical bits set (16-31)", flags))
	}
	ext := int32(binary.BigEndian.Uint32(b[SignatureLen+4:]))
	if ext < 0 {
		return 0, headerError(SignatureLen+4, fmt.Sprintf("header extension length %d, expected >= 0", ext))
	}
	total := int64(minHeaderLen) + int64(ext)
	if int64(len(b)) < total {
		return 0, headerError(int64(len(b)), fmt.Sprintf("truncated header: %d bytes, need %d", len(b), total))
	}
	return int(total), nil
}

func headerError(off int64, msg string) *DecodeError {
	return &DecodeError{Offset: off, Row: -1, Msg: "COPY BINARY header: " + msg}
}

// IsTrailer reports whether b is exactly the 2-byte trailer (int16 -1) that
// ends a COPY BINARY stream. The receiver sees it as a CopyData message of its
// own and must not pass it to a Decoder.
func IsTrailer(b []byte) bool {
	return len(b) == 2 && b[0] == 0xff && b[1] == 0xff
}
