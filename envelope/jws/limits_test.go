package jws

import (
	"strings"
	"testing"

	"github.com/notation-piv/notation-piv/envelope"
)

// TestTooManyItems checks the count of JSON values against
// envelope.MaxHeaderItems: keys, values, objects and arrays each count
// once, nested ones too; what does not parse is left to the decoder.
func TestTooManyItems(t *testing.T) {
	array := func(n int) string { return "[" + strings.TrimSuffix(strings.Repeat("0,", n), ",") + "]" }
	members := func(n int) string {
		var b strings.Builder
		b.WriteString("{")
		for i := range n {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(`"` + strings.Repeat("k", i+1) + `":true`)
		}
		return b.String() + "}"
	}
	for _, c := range []struct {
		name, json string
		over       bool
	}{
		{"array of 1023", array(envelope.MaxHeaderItems - 1), false},
		{"array of 1024", array(envelope.MaxHeaderItems), true},
		{"object of 511 members", members(511), false},
		{"object of 512 members", members(512), true},
		{"nested arrays", "[" + array(340) + "," + array(340) + "," + array(340) + "]", false},
		{"nested arrays over", "[" + array(340) + "," + array(340) + "," + array(341) + "]", true},
		{"strings and nulls", `{"a":"` + strings.Repeat("x", 1<<20) + `","b":null}`, false},
		{"not JSON", "[0,0," + strings.Repeat("x", 2000), false},
		{"empty", "", false},
	} {
		if got := tooManyItems([]byte(c.json)); got != c.over {
			t.Errorf("%s: over the limit %v, want %v", c.name, got, c.over)
		}
	}
}
