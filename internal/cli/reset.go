package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/notation-piv/notation-piv/internal/prompt"
	"github.com/notation-piv/notation-piv/piv"
)

// resetCommand is "notation-piv reset".
var resetCommand = &command{
	name:    "reset",
	args:    "[options]",
	summary: "erase the card and restore its factory PIN, PUK and management key",
	about: `Erases every key and certificate on a PIV card and restores the factory
PIN (123456), PUK (12345678) and management key. It works even when the
PIN and the PUK are blocked. It asks for confirmation on the terminal
unless --yes is given, and without a terminal it needs --yes.

It works on YubiKeys, and cards that answer as one, only: any other PIV
card is refused before it is sent anything that could change it, and
before any prompt.
`,
	flags: func(f *flagSet) action {
		var yes bool
		var cf cardFlags
		f.boolVar(&yes, "yes", "do not ask for confirmation")
		cf.define(f)
		return func(ctx context.Context, u *ui, _ []string) error { return reset(ctx, u, cf, yes) }
	},
}

// reset erases the card, after confirmation unless yes.
func reset(ctx context.Context, u *ui, cf cardFlags, yes bool) error {
	if !yes && !prompt.Available() {
		return failure("reset erases every key on the card and needs confirmation, but there is no terminal to ask on",
			"run it in a terminal, or pass --yes to confirm beforehand")
	}
	card, st, err := cf.openToManage(ctx, "reset the card")
	if err != nil {
		return err
	}
	defer card.Close()
	serial := card.Serial()
	if !yes {
		if err := confirm(fmt.Sprintf("Reset PIV card %d? %s\nThis cannot be undone.", serial, erasedText(st)), "reset"); err != nil {
			return err
		}
	}
	if err := card.Reset(ctx); err != nil {
		return err
	}
	fmt.Fprintf(u.stdout, `Reset PIV card %d: it holds no keys, and its PIN is 123456, its PUK 12345678
and its management key the factory key again.

Next steps:
   notation-piv setup --serial %d --subject "C=US, ST=WA, O=Example, CN=my signer"
   notation-piv pin change --serial %d
   notation-piv puk change --serial %d
   notation-piv management-key set --protect --serial %d
`, serial, serial, serial, serial, serial)
	return nil
}

// erasedText says what a reset erases.
func erasedText(st *piv.Status) string {
	if len(st.Slots) == 0 {
		return "It holds no keys or certificates; the PIN, PUK and management key return to their factory values."
	}
	var slots []string
	for _, ss := range st.Slots {
		slots = append(slots, ss.Slot.String()+" ("+slotContents(&ss)+")")
	}
	return "This erases slot " + strings.Join(slots, ", slot ") + ", and the PIN, PUK and management key return to their factory values."
}
