package apdu

import (
	"errors"
	"fmt"
)

// TLV is one BER-TLV data object.
type TLV struct {
	// Tag is the tag, its bytes big-endian: 0x53, 0x7F49, 0x5FC102.
	Tag uint32
	// Value is the object's value, a slice of the parsed bytes.
	Value []byte
}

// ParseTLVs splits b into the BER-TLV data objects it holds, one after
// the other: tags of up to three bytes, lengths in short form or in long
// form of up to three bytes (81 xx, 82 xx xx, 83 xx xx xx).
func ParseTLVs(b []byte) ([]TLV, error) {
	var out []TLV
	for len(b) > 0 {
		tag, rest, err := parseTag(b)
		if err != nil {
			return nil, err
		}
		n, rest, err := parseLength(rest)
		if err != nil {
			return nil, fmt.Errorf("data object %X: %w", tag, err)
		}
		if n > len(rest) {
			return nil, fmt.Errorf("data object %X is %d bytes, only %d present", tag, n, len(rest))
		}
		out = append(out, TLV{Tag: tag, Value: rest[:n]})
		b = rest[n:]
	}
	return out, nil
}

// parseTag reads a tag: one byte, or more when its low five bits are all
// set, continued while bit 8 of the next byte is set.
func parseTag(b []byte) (uint32, []byte, error) {
	tag, rest := uint32(b[0]), b[1:]
	if b[0]&0x1F != 0x1F {
		return tag, rest, nil
	}
	for i := 0; ; i++ {
		if len(rest) == 0 {
			return 0, nil, errors.New("truncated tag")
		}
		if i == 2 {
			return 0, nil, fmt.Errorf("tag %X… is longer than three bytes", tag)
		}
		tag = tag<<8 | uint32(rest[0])
		more := rest[0]&0x80 != 0
		rest = rest[1:]
		if !more {
			return tag, rest, nil
		}
	}
}

// parseLength reads a length in short form, or in long form of one to
// three bytes.
func parseLength(b []byte) (int, []byte, error) {
	if len(b) == 0 {
		return 0, nil, errors.New("truncated length")
	}
	if b[0] < 0x80 {
		return int(b[0]), b[1:], nil
	}
	size := int(b[0] & 0x7F)
	if size == 0 || size > 3 {
		return 0, nil, fmt.Errorf("unsupported length form %02X", b[0])
	}
	if len(b) < 1+size {
		return 0, nil, errors.New("truncated length")
	}
	n := 0
	for _, c := range b[1 : 1+size] {
		n = n<<8 | int(c)
	}
	return n, b[1+size:], nil
}

// Find returns the value of the first object in objs with tag.
func Find(objs []TLV, tag uint32) ([]byte, bool) {
	for _, o := range objs {
		if o.Tag == tag {
			return o.Value, true
		}
	}
	return nil, false
}

// Unwrap reads the data object at the start of b, which must have tag,
// and returns the objects inside its value. Bytes after the object, such
// as padding some cards add, are ignored.
func Unwrap(b []byte, tag uint32) ([]TLV, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("expected data object %X, got nothing", tag)
	}
	got, rest, err := parseTag(b)
	if err != nil {
		return nil, err
	}
	if got != tag {
		return nil, fmt.Errorf("expected data object %X, got %X", tag, got)
	}
	n, rest, err := parseLength(rest)
	if err != nil {
		return nil, fmt.Errorf("data object %X: %w", tag, err)
	}
	if n > len(rest) {
		return nil, fmt.Errorf("data object %X is %d bytes, only %d present", tag, n, len(rest))
	}
	return ParseTLVs(rest[:n])
}

// AppendTLV appends the object tag (one or two bytes) with value to b,
// its length in the shortest form.
func AppendTLV(b []byte, tag uint32, value []byte) []byte {
	if tag > 0xFF {
		b = append(b, byte(tag>>8))
	}
	b = append(b, byte(tag))
	switch n := len(value); {
	case n < 0x80:
		b = append(b, byte(n))
	case n <= 0xFF:
		b = append(b, 0x81, byte(n))
	default:
		b = append(b, 0x82, byte(n>>8), byte(n))
	}
	return append(b, value...)
}
