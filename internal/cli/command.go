package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
)

// command is a command for people. A group, such as "pin", dispatches to
// its subcommands; any other command takes flags and arguments. Its help
// is built from these fields and from its flag definitions.
type command struct {
	// name is the words after "notation-piv", such as "envelope sign".
	name string
	// args is what follows the name on the usage line, such as
	// "FILE [options]".
	args string
	// summary is one line for the list of commands.
	summary string
	// about says what the command does: the help between the usage line
	// and the options. It ends with a newline.
	about string
	// notes is the help after the options; it starts with an empty line.
	notes string
	// subs are the subcommands of a group.
	subs []*command
	// nargs is how many arguments the command takes besides flags.
	nargs int
	// flags defines the command's flags on f and returns what runs the
	// command once they are parsed.
	flags func(f *flagSet) action
}

// action runs a command with its arguments once its flags are parsed. An
// error is printed by ui.fail; errSilent fails without a message.
type action func(ctx context.Context, u *ui, args []string) error

// errSilent fails a command that has said all there is to say, such as
// "envelope verify --json" with a failed check.
var errSilent = errors.New("failed")

// run runs the command with args, the words after its name, on the
// streams of env, and returns the exit status.
func (c *command) run(ctx context.Context, env ui, args []string) int {
	u := &env
	u.name = c.name
	if c.subs != nil {
		return c.dispatch(ctx, u, args)
	}
	f := newFlagSet(c.name)
	act := c.flags(f)
	pos, code, done := u.parse(c, f, args)
	if done {
		return code
	}
	if err := act(ctx, u, pos); err != nil {
		return u.fail(err)
	}
	return 0
}

// dispatch runs the subcommand of a group that args name.
func (c *command) dispatch(ctx context.Context, u *ui, args []string) int {
	if len(args) > 0 {
		for _, sub := range c.subs {
			if sub.word() == args[0] {
				return sub.run(ctx, *u, args[1:])
			}
		}
		if isHelp(args[0]) {
			fmt.Fprint(u.stdout, c.help(nil))
			return 0
		}
	}
	names := make([]string, len(c.subs))
	for i, sub := range c.subs {
		names[i] = sub.word()
	}
	msg := fmt.Sprintf("notation-piv %s needs a subcommand: %s", c.name, orList(names))
	if len(args) > 0 {
		msg = fmt.Sprintf("notation-piv %s has no subcommand %q", c.name, args[0])
	}
	return u.fail(failure(msg, fmt.Sprintf(`run "notation-piv %s --help" for its subcommands`, c.name)))
}

// word is the last word of the command's name, which its group knows it
// by.
func (c *command) word() string {
	return c.name[strings.LastIndex(c.name, " ")+1:]
}

// synopsis is what the list of commands shows after the name: the
// subcommands of a group, the arguments of any other command but
// "[options]".
func (c *command) synopsis() string {
	if c.subs == nil {
		return strings.TrimSpace(strings.ReplaceAll(c.args, "[options]", ""))
	}
	words := make([]string, len(c.subs))
	for i, sub := range c.subs {
		words[i] = sub.word()
	}
	return strings.Join(words, "|")
}

// help is the command's help text; f holds its flags (nil for a group).
func (c *command) help(f *flagSet) string {
	var b strings.Builder
	if c.subs != nil {
		b.WriteString("Usage:\n")
		for _, sub := range c.subs {
			fmt.Fprintf(&b, "  %s\n", strings.TrimSpace("notation-piv "+sub.name+" "+sub.args))
		}
	} else {
		fmt.Fprintf(&b, "Usage: %s\n", strings.TrimSpace("notation-piv "+c.name+" "+c.args))
	}
	if c.about != "" {
		fmt.Fprintf(&b, "\n%s", c.about)
	}
	if options := f.help(); options != "" {
		fmt.Fprintf(&b, "\nOptions:\n%s", options)
	}
	b.WriteString(c.notes)
	return b.String()
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	return arg == "help" || arg == "--help" || arg == "-h"
}

// orList joins words as "a, b or c".
func orList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// parse parses args, which may mix flags and arguments, and checks that
// there are exactly c.nargs arguments. With --help it prints the help and
// returns done with status 0; with wrong flags or arguments it prints an
// error and returns done with status 1.
func (u *ui) parse(c *command, f *flagSet, args []string) (pos []string, code int, done bool) {
	for {
		err := f.set.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(u.stdout, c.help(f))
			return nil, 0, true
		}
		if err != nil {
			return nil, u.fail(failure(err.Error(), fmt.Sprintf(`run "notation-piv %s --help" for the flags`, u.name))), true
		}
		if f.set.NArg() == 0 {
			break
		}
		pos = append(pos, f.set.Arg(0))
		args = f.set.Args()[1:]
	}
	if len(pos) != c.nargs {
		want := "no arguments"
		if c.nargs == 1 {
			want = "one argument"
		}
		return nil, u.fail(failure(fmt.Sprintf("notation-piv %s takes %s, not %d", u.name, want, len(pos)),
			fmt.Sprintf(`run "notation-piv %s --help" for its usage`, u.name))), true
	}
	return pos, 0, false
}

// flagSet is the flags of one command. Each flag is defined once, with
// what the help says of it; the help lists them in the order they are
// defined.
type flagSet struct {
	set *flag.FlagSet
	// options are the flags in the order they are defined.
	options []option
}

// newFlagSet returns an empty flag set for the command name. Errors are
// not printed: ui.parse reports them.
func newFlagSet(name string) *flagSet {
	f := &flagSet{set: flag.NewFlagSet(name, flag.ContinueOnError)}
	f.set.SetOutput(io.Discard)
	return f
}

// option is a flag as the help shows it.
type option struct {
	name  string
	value string // the word for its value, such as "FILE"; "" for a boolean
}

func (f *flagSet) add(name, value string) {
	f.options = append(f.options, option{name: name, value: value})
}

// stringVar defines --name VALUE, of default def.
func (f *flagSet) stringVar(p *string, name, value, def, usage string) {
	f.set.StringVar(p, name, def, usage)
	f.add(name, value)
}

// boolVar defines the boolean --name.
func (f *flagSet) boolVar(p *bool, name, usage string) {
	f.set.BoolVar(p, name, false, usage)
	f.add(name, "")
}

// durationVar defines --name DURATION, of default 0.
func (f *flagSet) durationVar(p *time.Duration, name, usage string) {
	f.set.DurationVar(p, name, 0, usage)
	f.add(name, "DURATION")
}

// uint64Var defines --name VALUE, of default 0.
func (f *flagSet) uint64Var(p *uint64, name, value, usage string) {
	f.set.Uint64Var(p, name, 0, usage)
	f.add(name, value)
}

// intVar defines --name VALUE, of default def.
func (f *flagSet) intVar(p *int, name, value string, def int, usage string) {
	f.set.IntVar(p, name, def, usage)
	f.add(name, value)
}

// Layout of the options in the help.
const (
	helpIndent = 25 // the column where a flag's description starts
	helpWidth  = 79 // the last column
)

// help lists the flags, each with its description and its default.
func (f *flagSet) help() string {
	if f == nil {
		return ""
	}
	var b strings.Builder
	for _, o := range f.options {
		fl := f.set.Lookup(o.name)
		left := "  --" + o.name
		if o.value != "" {
			left += " " + o.value
		}
		text := fl.Usage
		switch fl.DefValue {
		case "", "0", "0s", "false":
		default:
			text += fmt.Sprintf(" (default %s)", fl.DefValue)
		}
		lines := wrap(text, helpWidth-helpIndent)
		if len(left) > helpIndent-2 {
			fmt.Fprintf(&b, "%s\n", left)
		} else {
			fmt.Fprintf(&b, "%-*s%s\n", helpIndent, left, lines[0])
			lines = lines[1:]
		}
		for _, l := range lines {
			fmt.Fprintf(&b, "%*s%s\n", helpIndent, "", l)
		}
	}
	return b.String()
}

// wrap breaks text into lines of at most width bytes at spaces; a longer
// word stands on a line of its own.
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(text) {
		switch {
		case line == "":
			line = w
		case len(line)+1+len(w) > width:
			lines = append(lines, line)
			line = w
		default:
			line += " " + w
		}
	}
	return append(lines, line)
}
