package card

import "errors"

// errTLV reports malformed BER-TLV data.
var errTLV = errors.New("malformed BER-TLV")

// tlv is one BER-TLV data object. Tags are kept as their encoded bytes
// packed into an integer (0x5F2F, 0x7F49, 0x5FC105 …), as PIV documents them.
type tlv struct {
	tag   uint32
	value []byte
}

// parseTLVs splits b into consecutive BER-TLV objects (SP 800-73-4 part 2,
// appendix A: tags of up to 3 bytes, lengths of up to 3 bytes).
func parseTLVs(b []byte) ([]tlv, error) {
	var out []tlv
	for len(b) > 0 {
		tag, rest, err := parseTag(b)
		if err != nil {
			return nil, err
		}
		value, rest, err := parseLength(rest)
		if err != nil {
			return nil, err
		}
		out = append(out, tlv{tag: tag, value: value})
		b = rest
	}
	return out, nil
}

func parseTag(b []byte) (uint32, []byte, error) {
	if len(b) == 0 {
		return 0, nil, errTLV
	}
	tag := uint32(b[0])
	n := 1
	if b[0]&0x1F == 0x1F {
		for {
			if n >= len(b) || n > 3 {
				return 0, nil, errTLV
			}
			tag = tag<<8 | uint32(b[n])
			n++
			if b[n-1]&0x80 == 0 {
				break
			}
		}
	}
	return tag, b[n:], nil
}

// parseLength reads a BER length and returns the value it covers and what
// follows it.
func parseLength(b []byte) (value, rest []byte, err error) {
	if len(b) == 0 {
		return nil, nil, errTLV
	}
	l, n := int(b[0]), 1
	if l >= 0x80 {
		size := l & 0x7F
		if size == 0 || size > 3 || len(b) < 1+size {
			return nil, nil, errTLV
		}
		l = 0
		for _, x := range b[1 : 1+size] {
			l = l<<8 | int(x)
		}
		n += size
	}
	if len(b)-n < l {
		return nil, nil, errTLV
	}
	return b[n : n+l], b[n+l:], nil
}

// find returns the value of the first object with the given tag.
func find(objs []tlv, tag uint32) ([]byte, bool) {
	for _, o := range objs {
		if o.tag == tag {
			return o.value, true
		}
	}
	return nil, false
}

// template returns the objects inside the template of the given tag that
// b holds, such as the 7C dynamic authentication template; false if b
// does not parse, holds no such template or the template does not parse.
func template(b []byte, tag uint32) ([]tlv, bool) {
	outer, err := parseTLVs(b)
	if err != nil {
		return nil, false
	}
	value, ok := find(outer, tag)
	if !ok {
		return nil, false
	}
	objs, err := parseTLVs(value)
	return objs, err == nil
}

// encodeTLV encodes one BER-TLV object whose value is the concatenation of
// parts.
func encodeTLV(tag uint32, parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	out := make([]byte, 0, n+8)
	switch {
	case tag > 0xFFFF:
		out = append(out, byte(tag>>16), byte(tag>>8), byte(tag))
	case tag > 0xFF:
		out = append(out, byte(tag>>8), byte(tag))
	default:
		out = append(out, byte(tag))
	}
	switch {
	case n < 0x80:
		out = append(out, byte(n))
	case n <= 0xFF:
		out = append(out, 0x81, byte(n))
	case n <= 0xFFFF:
		out = append(out, 0x82, byte(n>>8), byte(n))
	default:
		out = append(out, 0x83, byte(n>>16), byte(n>>8), byte(n))
	}
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
