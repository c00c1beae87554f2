package main

import (
	"context"
	"io"
)

// userCommand is a command for people, as opposed to the contract commands
// notation runs: it takes flags, prints text for a terminal, and exits 0 or
// 1 with an "notation-piv: error:" message and hints on stderr.
type userCommand struct {
	summary string // one line for the help text
	run     func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int
}

// userCommands are the user commands by name.
var userCommands = map[string]userCommand{}
