package cli

import (
	"context"
	"fmt"

	"github.com/notation-piv/notation-piv/piv"
)

// secretsUsage documents where PINs and PUKs come from.
const secretsUsage = `
PINs and PUKs are 6 to 8 characters. They come from the environment
variables NOTATION_PIV_PIN, NOTATION_PIV_PUK, NOTATION_PIV_NEW_PIN and
NOTATION_PIV_NEW_PUK, or else from prompts on the terminal, which show the
card's serial number and the retries left; a new value is typed twice.
A wrong PIN or PUK costs exactly one retry.
` + secretRulesUsage + `
Cards that do not report their PUK retries (YubiKeys before firmware 5.3,
other PIV cards) cannot be guarded this way for the PUK: notation-piv
warns, then sends it.
`

// pinCommand is "notation-piv pin".
var pinCommand = &command{
	name:    "pin",
	summary: "change the PIN, or set a new one with the PUK",
	about: `"change" sets a new PIN, given the current one. "unblock" sets a new PIN
with the PUK, which also gives the PIN its retries back after too many
wrong PINs blocked it. Run "notation-piv pin change --help" or
"notation-piv pin unblock --help" for their options.
`,
	subs: []*command{
		secretCommand("pin change", "Sets a new PIN, given the current one.\n", secretChange{
			old: secretPIN, newKind: secretNewPIN,
			counter: func(st *piv.Status) piv.Counter { return st.PIN },
			change:  (*piv.Card).ChangePIN,
			blocked: failure("the PIN is blocked", `set a new PIN with the PUK: "notation-piv pin unblock"`),
			done:    "Changed the PIN of PIV %s.\n",
		}),
		secretCommand("pin unblock", `Sets a new PIN with the PUK, which also gives the PIN its retries back
after too many wrong PINs blocked it.
`, secretChange{
			old: secretPUK, newKind: secretNewPIN,
			counter: func(st *piv.Status) piv.Counter { return st.PUK },
			change:  (*piv.Card).UnblockPIN,
			blocked: failure("the PUK is blocked, so the PIN cannot be unblocked", `if the PIN is blocked too, only "notation-piv reset" (which erases every key) makes the card usable again`),
			done:    "Set a new PIN for PIV %s with the PUK; the PIN has all its retries again.\n",
		}),
	},
}

// pukCommand is "notation-piv puk".
var pukCommand = &command{
	name:    "puk",
	summary: "change the PUK",
	about: `Run "notation-piv puk change --help" for its options.
`,
	subs: []*command{
		secretCommand("puk change", `Sets a new PUK, given the current one. The PUK unblocks the PIN
("notation-piv pin unblock"); a new card's PUK is 12345678.
`, secretChange{
			old: secretPUK, newKind: secretNewPUK,
			counter: func(st *piv.Status) piv.Counter { return st.PUK },
			change:  (*piv.Card).ChangePUK,
			blocked: failure("the PUK is blocked and cannot be changed", `only "notation-piv reset" (which erases every key) gives the card a PUK again`),
			done:    "Changed the PUK of PIV %s.\n",
		}),
	},
}

// secretChange is one of the commands that set a PIN or PUK.
type secretChange struct {
	// old authorizes the change of newKind.
	old, newKind secretKind
	// counter returns the retries of the old secret.
	counter func(st *piv.Status) piv.Counter
	// change sets the new secret on the card.
	change func(card *piv.Card, ctx context.Context, old, value []byte) error
	// blocked explains that the old secret is blocked.
	blocked error
	// done says what was done, with %s for the card's name (cardName).
	done string
}

// secretCommand is the command name that makes change.
func secretCommand(name, about string, change secretChange) *command {
	return &command{
		name:  name,
		args:  "[options]",
		about: about,
		notes: secretsUsage,
		flags: func(f *flagSet) action {
			var cf cardFlags
			var allowLastTry bool
			defineLastTry(f, &allowLastTry)
			cf.define(f)
			return func(ctx context.Context, u *ui, _ []string) error {
				return change.run(ctx, u, cf, allowLastTry)
			}
		},
	}
}

// run sets the new secret.
func (c secretChange) run(ctx context.Context, u *ui, cf cardFlags, allowLastTry bool) error {
	sec := newSecrets(allowLastTry)
	defer sec.wipe()
	if err := sec.check(u.name, c.old, c.newKind); err != nil {
		return err
	}
	card, st, err := cf.open(ctx)
	if err != nil {
		return err
	}
	defer card.Close()
	sec.card = cardName(card.Info())
	counter := c.counter(st)
	if counter.RetriesLeft == 0 {
		return c.blocked
	}
	if counter.RetriesLeft < 0 {
		u.warn("%s does not tell how many %s tries it has left, so notation-piv cannot hold back the last one: a wrong %s may block it", sec.card, c.old.name, c.old.name)
	}
	old, err := sec.get(c.old, counter.RetriesLeft)
	if err != nil {
		return err
	}
	value, err := sec.get(c.newKind, -1)
	if err != nil {
		return err
	}
	if err := c.change(card, ctx, old, value); err != nil {
		return err
	}
	fmt.Fprintf(u.stdout, c.done, sec.card)
	// The secret just set is no longer the factory one.
	switch c.newKind {
	case secretNewPIN:
		st.PIN.Default = false
	case secretNewPUK:
		st.PUK.Default = false
	}
	u.defaultWarnings(st)
	return nil
}
