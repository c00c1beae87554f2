//go:build tools

// Package notation pins the notation CLI that the end-to-end tests drive.
// Build it with `make notation` (see the Makefile); it is never imported.
package notation

import _ "github.com/notaryproject/notation/cmd/notation"
