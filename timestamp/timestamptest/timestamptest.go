// Package timestamptest is where the test timestamp authority lived before
// it moved to fixtures/timestamptest; it forwards to it until the tests of
// cmd/notation-piv, its last users, import that instead. Then it goes.
//
// Deprecated: use github.com/notation-piv/notation-piv/fixtures/timestamptest.
package timestamptest

import "github.com/notation-piv/notation-piv/fixtures/timestamptest"

// TSA is the test TSA of fixtures/timestamptest.
type TSA = timestamptest.TSA

// Fault is a way the TSA misbehaves.
type Fault = timestamptest.Fault

// The faults of fixtures/timestamptest.
const (
	None             = timestamptest.None
	WrongNonce       = timestamptest.WrongNonce
	WrongImprint     = timestamptest.WrongImprint
	Untrusted        = timestamptest.Untrusted
	NonCriticalEKU   = timestamptest.NonCriticalEKU
	WrongSigningCert = timestamptest.WrongSigningCert
	Rejection        = timestamptest.Rejection
	HTTP500          = timestamptest.HTTP500
	Garbage          = timestamptest.Garbage
)

// Faults lists every fault but None.
func Faults() []Fault { return timestamptest.Faults() }

// New starts a TSA; the error is always nil.
func New() (*TSA, error) { return timestamptest.New(), nil }
