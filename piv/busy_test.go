package piv

import (
	"context"
	"testing"
	"time"

	"github.com/notation-piv/notation-piv/vsmartcard/vcardtest"
)

// TestOpenWaitsForBusyCard holds the card with another PC/SC connection,
// as a concurrent notation sign would, and checks that Open waits for it
// rather than failing, within its context's deadline.
func TestOpenWaitsForBusyCard(t *testing.T) {
	freshCard(t)
	holder := vcardtest.OpenPIV(t)
	released := make(chan struct{})
	go func() {
		time.Sleep(500 * time.Millisecond)
		holder.Close()
		close(released)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	c, err := Open(ctx, Selector{Serial: testSerial})
	if err != nil {
		t.Fatalf("Open while another connection held the card: %v", err)
	}
	c.Close()
	<-released
	if d := time.Since(start); d < 400*time.Millisecond {
		t.Errorf("Open returned after %v, before the other connection let go", d)
	}

	// A card held past the deadline is an error, not a hang.
	holder = vcardtest.OpenPIV(t)
	defer holder.Close()
	ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start = time.Now()
	if c, err := Open(ctx, Selector{Serial: testSerial}); err == nil {
		c.Close()
		t.Fatal("Open succeeded while another connection held the card")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Open gave up after %v with a 300 ms deadline", d)
	}
}
