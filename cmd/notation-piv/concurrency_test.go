package main

import (
	"encoding/json"
	"sync"
	"testing"

	"github.com/go-piv/piv-go/v2/piv"
	"github.com/notaryproject/notation-plugin-framework-go/plugin"

	"github.com/notation-piv/notation-piv/envelope"
)

// TestConcurrentSignatures runs eight generate-envelope processes against
// one card at once: PC/SC lets one hold the card at a time, and the others
// wait their turn. All must succeed, each envelope must verify, and no PIN
// retry may be lost.
func TestConcurrentSignatures(t *testing.T) {
	env := needCard(t)
	provision(t, piv.AlgorithmEC256, nil)
	const n = 8
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			results[i] = invoke(t, "generate-envelope", envelopeRequest("9c", nil), "NOTATION_PIV_PIN=123456")
		})
	}
	wg.Wait()
	for i, r := range results {
		if r.code != 0 {
			t.Errorf("signature %d: exit %d: %s", i, r.code, r.stderr)
			continue
		}
		var resp plugin.GenerateEnvelopeResponse
		must(t, json.Unmarshal([]byte(r.stdout), &resp))
		if _, err := envelope.Verify(resp.SignatureEnvelopeType, resp.SignatureEnvelope); err != nil {
			t.Errorf("signature %d does not verify: %v", i, err)
		}
	}
	if left := pinRetries(t, env); left != 3 {
		t.Errorf("%d PIN retries left, want 3", left)
	}
}
