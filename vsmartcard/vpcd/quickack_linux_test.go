package vpcd

import (
	"testing"
	"time"
)

// TestQuickAck checks that the card acknowledges at once: vpcd writes a
// message's length and payload separately, with Nagle's algorithm on, so a
// delayed acknowledgement would hold every payload back about 40 ms.
func TestQuickAck(t *testing.T) {
	d, _, _ := start(t, t.Context(), &fakeCard{})
	if err := d.conn.SetNoDelay(false); err != nil {
		t.Fatal(err)
	}

	const n = 100
	apdu := []byte{0x00, 0xFD, 0x00, 0x00, 0x00}
	begin := time.Now()
	for range n {
		d.send(apdu, true)
		d.mustRecv()
	}
	// Without quick acknowledgements this takes n × 40 ms = 4 s.
	if took := time.Since(begin); took > n*10*time.Millisecond {
		t.Errorf("%d split messages took %v, want well under %v", n, took, n*40*time.Millisecond)
	}
}
