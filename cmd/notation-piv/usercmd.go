package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"

	"github.com/notation-piv/notation-piv/piv"
)

// userCommand is a command for people, as opposed to the contract commands
// notation runs: it takes flags, prints text for a terminal, and exits 0 or
// 1 with an "notation-piv: error:" message and hints on stderr.
type userCommand struct {
	synopsis string // what follows the name in the help text, such as "import|export"
	summary  string // one line for the help text
	run      func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int
}

// userCommands are the user commands by name.
var userCommands = map[string]userCommand{
	"list":           {"[--json]", "show the cards, PIN and PUK retries, keys and certificates", runList},
	"setup":          {"", "generate a key and a Notation-ready certificate in a slot", runSetup},
	"cert":           {"import|export", "load a CA-issued certificate into a slot, or write one out", runCert},
	"pin":            {"change|unblock", "change the PIN, or set a new one with the PUK", runPIN},
	"puk":            {"change", "change the PUK", runPUK},
	"management-key": {"set", "change the management key; --protect keeps it behind the PIN", runManagementKey},
	"reset":          {"", "erase the card and restore its factory PIN, PUK and management key", runReset},
	"envelope":       envelopeCommand,
}

// userCommandsHelp lists the user commands for the help text.
func userCommandsHelp() string {
	names := make([]string, 0, len(userCommands))
	for name := range userCommands {
		names = append(names, name)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("Card commands, for people (\"notation-piv COMMAND --help\" for each):\n")
	for _, name := range names {
		c := userCommands[name]
		use := strings.TrimSpace(name + " " + c.synopsis)
		if len(use) > 21 {
			// Too long for the column: the summary goes on the next line.
			use += "\n" + strings.Repeat(" ", 2+len("notation-piv ")+21)
		}
		fmt.Fprintf(&b, "  notation-piv %-21s %s\n", use, c.summary)
	}
	return b.String()
}

// ui is the terminal side of one user command: its name for messages and
// its output streams.
type ui struct {
	name           string // such as "pin change"
	stdout, stderr io.Writer
}

// userError is a failure with the hints that tell the user what to do.
type userError struct {
	msg   string
	hints []string
}

func (e *userError) Error() string { return e.msg }

// failure returns a *userError.
func failure(msg string, hints ...string) error {
	return &userError{msg: msg, hints: hints}
}

// fail prints err as "notation-piv: error: ..." with its hints on stderr
// and returns exit status 1.
func (u *ui) fail(err error) int {
	msg, hints := explain(err)
	fmt.Fprintf(u.stderr, "notation-piv: error: %s\n", msg)
	for _, h := range hints {
		fmt.Fprintf(u.stderr, "hint: %s\n", h)
	}
	return 1
}

// warn prints a warning on stderr.
func (u *ui) warn(format string, args ...any) {
	fmt.Fprintf(u.stderr, "notation-piv: warning: %s\n", fmt.Sprintf(format, args...))
}

// explain turns an error into a message and hints for people.
func explain(err error) (string, []string) {
	var (
		ue         *userError
		credential *piv.CredentialError
		selection  *piv.SelectionError
	)
	switch {
	case errors.As(err, &ue):
		return ue.msg, ue.hints
	case errors.As(err, &credential) && credential.Secret == piv.SecretPIN:
		pinErr := credential
		switch {
		case pinErr.Blocked:
			return "the PIN is blocked", []string{`set a new PIN with the PUK: "notation-piv pin unblock"`}
		case pinErr.LastTry:
			return "no PIN was sent: the card has 1 PIN try left, and a wrong PIN would block it",
				[]string{"check the PIN in " + piv.EnvPIN + ", then run the command again with --allow-last-pin-try; a correct PIN restores all the tries",
					"or unset " + piv.EnvPIN + " and type the PIN at the prompt on the terminal",
					`if you do not know the PIN, set a new one with the PUK: "notation-piv pin unblock"`}
		case pinErr.Malformed:
			return pinErr.Error(), []string{malformedHint(piv.EnvPIN, "PIN")}
		case pinErr.RetriesLeft < 0:
			return "wrong PIN", []string{"check the PIN and run the command again"}
		}
		return fmt.Sprintf("wrong PIN: %s left before the PIN is blocked", tries(pinErr.RetriesLeft)),
			[]string{"check the PIN and run the command again", `if you forgot it, set a new one with the PUK: "notation-piv pin unblock"`}
	case errors.As(err, &credential) && credential.Secret == piv.SecretPUK:
		pukErr := credential
		switch {
		case pukErr.Blocked:
			return "the PUK is blocked", []string{`the PIN can no longer be unblocked; if it is blocked too, only "notation-piv reset" (which erases every key) makes the card usable again`}
		case pukErr.LastTry:
			return "no PUK was sent: the card has 1 PUK try left, and a wrong PUK would block it for good",
				[]string{"check the PUK in NOTATION_PIV_PUK, then run the command again with --allow-last-pin-try; a correct PUK restores all the tries",
					"or unset NOTATION_PIV_PUK and type the PUK at the prompt on the terminal"}
		case pukErr.Malformed:
			return pukErr.Error(), []string{malformedHint("NOTATION_PIV_PUK", "PUK")}
		}
		return fmt.Sprintf("wrong PUK: %s left before the PUK is blocked", tries(pukErr.RetriesLeft)),
			[]string{"check the PUK and run the command again; a new card's PUK is 12345678"}
	case errors.As(err, &credential), errors.Is(err, piv.ErrNoProtectedKey):
		// The management key.
		return err.Error(), []string{"give the card's management key with --management-key-file FILE (the key in hex, in a file only you can read)"}
	case errors.Is(err, piv.ErrNoCard), errors.As(err, &selection):
		hints := []string{`run "notation-piv list" to see the cards; choose one with --serial or --reader`}
		if a := advice(err); a != "" {
			hints = append([]string{a}, hints...)
		}
		return err.Error(), hints
	}
	if a := advice(err); a != "" {
		return err.Error(), []string{a}
	}
	return err.Error(), nil
}

// malformedHint says how to fix a PIN or PUK that was refused before it
// reached the card.
func malformedHint(env, what string) string {
	return fmt.Sprintf("check %s, or type the %s again: a %s is 6 to 8 characters; one newline at its end is removed, but no other whitespace or control character", env, what, what)
}

// tries says "1 try" or "n tries".
func tries(n int) string {
	if n == 1 {
		return "1 try"
	}
	return fmt.Sprintf("%d tries", n)
}

// flags returns the flag set of a command; its usage text is printed by
// --help.
func (u *ui) flags() *flag.FlagSet {
	fs := flag.NewFlagSet(u.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parse parses args, which may mix flags and arguments, and checks that
// there are exactly nargs arguments. With --help it prints usage and
// returns done with status 0; with wrong flags or arguments it prints an
// error and returns done with status 1.
func (u *ui) parse(fs *flag.FlagSet, usage string, args []string, nargs int) (pos []string, code int, done bool) {
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(u.stdout, usage)
			return nil, 0, true
		}
		if err != nil {
			return nil, u.fail(failure(err.Error(), fmt.Sprintf(`run "notation-piv %s --help" for the flags`, u.name))), true
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) != nargs {
		want := "no arguments"
		if nargs == 1 {
			want = "one argument"
		}
		return nil, u.fail(failure(fmt.Sprintf("notation-piv %s takes %s, not %d", u.name, want, len(pos)),
			fmt.Sprintf(`run "notation-piv %s --help" for its usage`, u.name))), true
	}
	return pos, 0, false
}

// cardFlags choose the card: --serial and --reader.
type cardFlags struct {
	serial uint64
	reader string
}

func (c *cardFlags) register(fs *flag.FlagSet) {
	fs.Uint64Var(&c.serial, "serial", 0, "")
	fs.StringVar(&c.reader, "reader", "", "")
}

// registerLastTry defines --allow-last-pin-try, the one definition of the
// flag for every command that sends a PIN or PUK: with it a PIN or PUK from
// the environment is sent even when the card has only 1 try left. A value
// typed at a prompt needs no flag: the prompt says that it is the last
// try.
func registerLastTry(fs *flag.FlagSet, allow *bool) {
	fs.BoolVar(allow, "allow-last-pin-try", false, "")
}

// lastTryUsage documents --allow-last-pin-try for the usage texts.
const lastTryUsage = `  --allow-last-pin-try
                    send the PIN or PUK from the environment even if the card
                    has only 1 try left, which a wrong value would block
`

// cardFlagsUsage documents cardFlags for the usage texts.
const cardFlagsUsage = `  --serial N        use the card with this serial number ("notation-piv list" shows it)
  --reader TEXT     use the card in the reader whose name contains TEXT
`

// openCard opens the chosen card. The caller closes it.
func (c *cardFlags) openCard(ctx context.Context) (*piv.Card, error) {
	if c.serial > math.MaxUint32 {
		return nil, failure(fmt.Sprintf("--serial %d is not a card serial number", c.serial), `run "notation-piv list" to see the serial numbers`)
	}
	card, err := piv.Open(ctx, piv.Selector{Serial: uint32(c.serial), Reader: c.reader})
	if err != nil {
		return nil, err
	}
	// The card commands name the card by its serial number in what they
	// print.
	if _, err := card.ReadSerial(ctx); err != nil {
		card.Close()
		return nil, err
	}
	return card, nil
}

// open opens the chosen card and reads its status. The caller closes the
// card.
func (c *cardFlags) open(ctx context.Context) (*piv.Card, *piv.Status, error) {
	card, err := c.openCard(ctx)
	if err != nil {
		return nil, nil, err
	}
	st, err := card.Status(ctx)
	if err != nil {
		card.Close()
		return nil, nil, err
	}
	return card, st, nil
}

// managementKeyFile reads the management key named by --management-key-file,
// or returns nil if path is "".
func managementKeyFile(path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	key, err := piv.ReadManagementKeyFile(path)
	if err != nil {
		return nil, failure(err.Error(), "write the management key in hex into a file that only you can read (chmod 600)")
	}
	return key, nil
}

// defaultWarnings warns about factory credentials left on a card.
func (u *ui) defaultWarnings(st *piv.Status) {
	for _, w := range defaultCredentials(st) {
		u.warn("%s", w)
	}
}

// defaultCredentials says which factory credentials a card still has and
// how to change them.
func defaultCredentials(st *piv.Status) []string {
	var out []string
	serial := st.Card.Serial
	if st.PIN.Default {
		out = append(out, fmt.Sprintf(`card %d still has the factory PIN 123456: change it with "notation-piv pin change"`, serial))
	}
	if st.PUK.Default {
		out = append(out, fmt.Sprintf(`card %d still has the factory PUK 12345678: change it with "notation-piv puk change"`, serial))
	}
	if st.Metadata && st.ManagementKey.Default {
		out = append(out, fmt.Sprintf(`card %d still has the factory management key: replace it with "notation-piv management-key set --protect"`, serial))
	}
	return out
}

// shellQuote quotes s for a POSIX shell when it needs quoting.
func shellQuote(s string) string {
	safe := s != ""
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@%+,", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// commandLine joins words into a command line for a POSIX shell.
func commandLine(words ...string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = shellQuote(w)
	}
	return strings.Join(q, " ")
}

// pluginPath returns the path of this binary, for "notation plugin install".
func pluginPath() string {
	if p, err := os.Executable(); err == nil {
		return p
	}
	return "notation-piv"
}

// subcommands returns the run function of a command made of subcommands,
// such as "pin change" and "pin unblock"; usage lists them.
func subcommands(name, usage string, subs map[string]func(ctx context.Context, args []string, stdout, stderr io.Writer) int) func(context.Context, []string, io.Reader, io.Writer, io.Writer) int {
	return func(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
		if len(args) > 0 {
			if sub, ok := subs[args[0]]; ok {
				return sub(ctx, args[1:], stdout, stderr)
			}
			switch args[0] {
			case "help", "--help", "-h":
				fmt.Fprint(stdout, usage)
				return 0
			}
		}
		u := &ui{name: name, stdout: stdout, stderr: stderr}
		msg := fmt.Sprintf("notation-piv %s needs a subcommand", name)
		if len(args) > 0 {
			msg = fmt.Sprintf("notation-piv %s has no subcommand %q", name, args[0])
		}
		return u.fail(failure(msg, fmt.Sprintf(`run "notation-piv %s --help" for its subcommands`, name)))
	}
}
