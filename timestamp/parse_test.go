package timestamp_test

import (
	"context"
	"crypto"
	"strings"
	"testing"

	"github.com/notation-piv/notation-piv/fixtures/timestamptest"
	"github.com/notation-piv/notation-piv/timestamp"
)

// TestParse reads a token without verifying it: what it asserts must be
// what Verify finds, the TSA certificate must be the one Verify chains,
// and Stamps must tell the stamped signature from another.
func TestParse(t *testing.T) {
	tsa := timestamptest.Start(t)
	for _, hash := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		sig := signature(t, 64)
		cfg := timestamp.Config{URL: tsa.URL, Roots: tsa.Roots()}
		token, err := cfg.Stamp(context.Background(), sig, hash)
		if err != nil {
			t.Fatal(err)
		}
		info, err := timestamp.Verify(token, sig, hash, tsa.Roots())
		if err != nil {
			t.Fatal(err)
		}
		tok, err := timestamp.Parse(token)
		if err != nil {
			t.Fatal(err)
		}
		if !tok.GenTime.Equal(info.GenTime) || tok.Accuracy != info.Accuracy || tok.Hash != hash || !tok.Policy.Equal(info.Policy) ||
			tok.SerialNumber.Cmp(info.SerialNumber) != 0 || tok.SignerError != nil || tok.Signer == nil || !tok.Signer.Equal(info.Chain[0]) {
			t.Errorf("%v: parsed %+v, verified %+v", hash, tok, info)
		}
		if !tok.Stamps(sig) || tok.Stamps(signature(t, 64)) {
			t.Errorf("%v: Stamps does not tell the stamped signature", hash)
		}
	}
	for _, tc := range []struct{ name, token, err string }{
		{"empty", "", "empty"},
		{"garbage", "garbage", "does not parse"},
	} {
		if _, err := timestamp.Parse([]byte(tc.token)); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.err)
		}
	}
}
