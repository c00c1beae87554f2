// Package cli holds the commands of notation-piv for people, as opposed to
// the contract commands notation runs: list, setup, cert, pin, puk,
// management-key, reset and envelope, with version and help. They take
// flags, print text for a terminal, and exit 0, or 1 with a
// "notation-piv: error:" message and "hint:" lines on stderr.
//
// Each command is a command value: one dispatcher runs them all, and its
// help is built from the command's description and its flag definitions.
// Errors are turned into messages and hints in one place, ui.fail.
package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
)

// commands are the commands for people, by name.
var commands = map[string]*command{
	"list":           listCommand,
	"setup":          setupCommand,
	"cert":           certCommand,
	"pin":            pinCommand,
	"puk":            pukCommand,
	"management-key": managementKeyCommand,
	"reset":          resetCommand,
	"envelope":       envelopeCommand,
}

// Run runs the command for people that args name, or prints the help
// without args, and returns the exit status. version is the plugin's
// version.
func Run(ctx context.Context, version string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage())
		return 1
	}
	switch args[0] {
	case "version", "--version":
		fmt.Fprintf(stdout, "notation-piv %s\n", version)
		return 0
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage())
		return 0
	}
	if c, ok := commands[args[0]]; ok {
		return c.run(ctx, ui{version: version, stdin: stdin, stdout: stdout, stderr: stderr}, args[1:])
	}
	return Fail(stderr, fmt.Sprintf("unknown command %q", args[0]), `run "notation-piv --help" for the commands`)
}

// Fail prints msg and hints as the commands for people report errors,
// and returns exit status 1.
func Fail(stderr io.Writer, msg string, hints ...string) int {
	fmt.Fprintf(stderr, "notation-piv: error: %s\n", msg)
	for _, h := range hints {
		fmt.Fprintf(stderr, "hint: %s\n", h)
	}
	return 1
}

// usage is the help text of the binary.
func usage() string {
	return `notation-piv: a Notation plugin that signs with a key on a PIV card

Usage:
  notation-piv get-plugin-metadata   < request.json
  notation-piv describe-key          < request.json
  notation-piv generate-signature    < request.json
  notation-piv generate-envelope     < request.json
  notation-piv version

` + commandList() + `
Notation runs the contract commands itself; install the plugin with
  notation plugin install --file notation-piv
and add a key by its PIV slot:
  notation key add mykey --plugin piv --id 9c --plugin-config serial=12345678

The PIN comes from NOTATION_PIV_PIN, the file named by pluginConfig pin_file,
the pinentry program named by pluginConfig pinentry, or a prompt on the
terminal, in that order. NOTATION_PIV_LOG=FILE writes a debug log.
`
}

// commandList lists the commands for people for the help text.
func commandList() string {
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("Card commands, for people (\"notation-piv COMMAND --help\" for each):\n")
	for _, name := range names {
		c := commands[name]
		use := strings.TrimSpace(name + " " + c.synopsis())
		if len(use) > 21 {
			// Too long for the column: the summary goes on the next line.
			use += "\n" + strings.Repeat(" ", 2+len("notation-piv ")+21)
		}
		fmt.Fprintf(&b, "  notation-piv %-21s %s\n", use, c.summary)
	}
	return b.String()
}
