package cli

import (
	"context"
	"fmt"
)

// managementKeyCommand is "notation-piv management-key".
var managementKeyCommand = &command{
	name:    "management-key",
	summary: "change the management key; --protect keeps it behind the PIN",
	about: `Run "notation-piv management-key set --help" for its options.
`,
	subs: []*command{{
		name: "management-key set",
		args: "(--protect | --new-key-file FILE) [options]",
		about: `Replaces the card's management key, which authorizes new keys and
certificates. A card that still has the factory key lets anyone with the
card replace its keys.

With --protect the new key is random and kept on the card in a data object
that only the PIN opens, as yubikey-agent does: nobody needs to store it,
and notation-piv reads it with the PIN when a command needs it. The PIN is
checked first. With --new-key-file the new key is the one in FILE (hex, 32,
48 or 64 digits, in a file only you can read); give it to later commands
with --management-key-file.

It works on YubiKeys, and cards that answer as one, only: any other PIV
card is refused before it is sent anything that could change it, and
before any prompt.
`,
		notes: secretsUsage,
		flags: func(f *flagSet) action {
			var protect, allowLastTry bool
			var newFile, mgmtFile string
			var cf cardFlags
			f.boolVar(&protect, "protect", "a random key, kept PIN-protected on the card")
			f.stringVar(&newFile, "new-key-file", "FILE", "", "the new key, in hex")
			defineManagementKeyFile(f, &mgmtFile)
			defineLastTry(f, &allowLastTry)
			cf.define(f)
			return func(ctx context.Context, u *ui, _ []string) error {
				if protect == (newFile != "") {
					return failure("management-key set needs either --protect or --new-key-file FILE",
						"use --protect to let the card keep a random key behind the PIN")
				}
				return setManagementKey(ctx, u, protect, newFile, mgmtFile, cf, allowLastTry)
			}
		},
	}},
}

// setManagementKey does the work of management-key set.
func setManagementKey(ctx context.Context, u *ui, protect bool, newFile, mgmtFile string, cf cardFlags, allowLastTry bool) error {
	given, err := managementKeyFile(mgmtFile)
	if err != nil {
		return err
	}
	defer clear(given)
	var newKey []byte
	if newFile != "" {
		if newKey, err = managementKeyFile(newFile); err != nil {
			return err
		}
		defer clear(newKey)
	}
	sec := newSecrets(allowLastTry)
	defer sec.wipe()
	card, st, err := cf.openToManage(ctx, "change the management key")
	if err != nil {
		return err
	}
	defer card.Close()
	serial := card.Serial()
	sec.card = cardName(card.Info())
	if newKey != nil && len(newKey) != 24 && !atLeast54(st.Card.Version) {
		return failure(fmt.Sprintf("card %d (firmware %s) takes only 3DES management keys of 24 bytes, and %s holds %d bytes", serial, st.Card.Version, newFile, len(newKey)),
			"write a key of 48 hex digits")
	}
	needPIN := protect || (st.Metadata && !st.ManagementKey.Default && given == nil)
	if needPIN {
		if err := sec.check("management-key set", secretPIN); err != nil {
			return err
		}
	}
	askPIN := sec.pinFor(st.PIN.RetriesLeft)
	old, protected, err := card.ManagementKey(ctx, st, given, askPIN)
	if err != nil {
		return err
	}
	defer clear(old)
	if protect && !protected {
		// The key will be reachable only through the PIN: make sure the
		// user knows it.
		pin, err := askPIN()
		defer clear(pin)
		if err != nil {
			return err
		}
		if err := card.VerifyPIN(ctx, pin); err != nil {
			return err
		}
	}
	if err := card.SetManagementKey(ctx, old, newKey, protect); err != nil {
		return err
	}
	if protect {
		fmt.Fprintf(u.stdout, "PIV card %d has a new random management key, kept on the card behind the PIN.\nnotation-piv reads it with the PIN when a command needs it; nobody needs to store it.\n", serial)
	} else {
		fmt.Fprintf(u.stdout, "PIV card %d has the management key in %s.\nGive it to commands that change the card with --management-key-file %s.\n", serial, newFile, shellQuote(newFile))
	}
	st.ManagementKey.Default = false
	u.defaultWarnings(st)
	return nil
}

// atLeast54 reports whether a firmware version is 5.4.0 or later, which
// takes AES management keys.
func atLeast54(version string) bool {
	var major, minor int
	fmt.Sscanf(version, "%d.%d", &major, &minor)
	return major > 5 || major == 5 && minor >= 4
}
