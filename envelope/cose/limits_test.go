package cose

import (
	"bytes"
	"strconv"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/envelope/envelopetest"
)

// TestDecodeIndefiniteFlood checks that a protected header of indefinite
// length, which carries no count to check, is counted item by item.
func TestDecodeIndefiniteFlood(t *testing.T) {
	protected := []byte{0xbf}
	for i := range 600 {
		protected = append(protected, mustMarshal(t, "h"+strconv.Itoa(i))...)
		protected = append(protected, 0)
	}
	protected = append(protected, 0xff)
	env := mustMarshal(t, cbor.Tag{Number: 18, Content: []any{protected, map[any]any{}, []byte("{}"), []byte{1}}})
	_, err := Decode(env)
	envelopetest.CheckLimit(t, err, "protected header", envelope.MaxHeaderItems)
}

// TestCountItems checks the count of CBOR data items: map keys and values,
// array elements, tag contents, the chunks of indefinite-length strings,
// and each map, array and tag itself; malformed CBOR stops the count.
func TestCountItems(t *testing.T) {
	zeros := func(n int) []byte { return mustMarshal(t, make([]int, n)) }
	pairs := func(n int) []byte {
		m := map[int]bool{}
		for i := range n {
			m[i] = true
		}
		return mustMarshal(t, m)
	}
	indefinite := func(n int) []byte { return append(append([]byte{0x9f}, make([]byte, n)...), 0xff) }
	const limit = envelope.MaxHeaderItems
	for _, c := range []struct {
		name string
		cbor []byte
		want int
	}{
		{"empty", nil, 0},
		{"integer", []byte{0x18, 0x64}, 1},
		{"array of 1023", zeros(limit - 1), limit},
		{"array of 1024", zeros(limit), limit + 1},
		{"map of 511 pairs", pairs(511), 1023},
		{"map of 512 pairs", pairs(512), limit + 1},
		{"indefinite array of 1000", indefinite(1000), 1001},
		{"indefinite array of 2000", indefinite(2000), limit + 1},
		{"nested arrays", mustMarshal(t, [][]int{make([]int, 340), make([]int, 340), make([]int, 340)}), limit},
		{"tag", mustMarshal(t, cbor.Tag{Number: 1, Content: 1700000000}), 2},
		{"byte string", mustMarshal(t, bytes.Repeat([]byte{0xff}, 1<<20)), 1},
		{"text string after", mustMarshal(t, []any{[]byte{0x9f, 0x9f}, "x", 1.5}), 4},
		{"indefinite byte string", []byte{0x5f, 0x41, 'x', 0x41, 'y', 0xff}, 3},
		{"array claiming 2^64-1 items", []byte{0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0}, 2},
		{"truncated length", []byte{0x9a, 0xff}, 1},
		{"byte string longer than the input", []byte{0x82, 0x58, 0x20, 1}, 2},
		{"reserved additional information", []byte{0x82, 0x1c, 0}, 2},
		{"stray break", []byte{0x82, 0xff, 0}, 2},
	} {
		if got := countItems(c.cbor); got != c.want {
			t.Errorf("%s: %d items, want %d", c.name, got, c.want)
		}
	}
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := cbor.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
