package cli

import (
	"context"
	"fmt"

	"github.com/notation-piv/notation-piv/internal/signing"
	"github.com/notation-piv/notation-piv/piv"
)

// cardFlags choose the card: --serial, --guid and --reader.
type cardFlags struct {
	serial uint64
	guid   string
	reader string
}

// define defines --serial, --guid and --reader.
func (c *cardFlags) define(f *flagSet) {
	f.uint64Var(&c.serial, "serial", "N", `use the card with this serial number ("notation-piv list" shows it)`)
	f.stringVar(&c.guid, "guid", "GUID", "", `use the card without a serial number whose CHUID has this GUID, 32 hex digits ("notation-piv list" shows it)`)
	f.stringVar(&c.reader, "reader", "TEXT", "", "use the card in the reader whose name contains TEXT")
}

// defineLastTry defines --allow-last-pin-try, the one definition of the
// flag for every command that sends a PIN or PUK: with it a PIN or PUK from
// the environment is sent even when the card has only 1 try left. A value
// typed at a prompt needs no flag: the prompt says that it is the last
// try.
func defineLastTry(f *flagSet, allow *bool) {
	f.boolVar(allow, "allow-last-pin-try", "send the PIN or PUK from the environment even if the card has only 1 try left, which a wrong value would block")
}

// openCard opens the chosen card and reads its serial number or, on a card
// without one, its GUID (signing.Identify), which the commands name the
// card by (see cardName). The caller closes it.
func (c *cardFlags) openCard(ctx context.Context) (*piv.Card, error) {
	sel, err := signing.CardSelector(c.serial, c.guid, c.reader)
	if err != nil {
		return nil, err
	}
	card, err := piv.Open(ctx, sel)
	if err != nil {
		return nil, err
	}
	if err := signing.Identify(ctx, card); err != nil {
		card.Close()
		return nil, err
	}
	return card, nil
}

// open opens the chosen card and reads its status. The caller closes the
// card.
func (c *cardFlags) open(ctx context.Context) (*piv.Card, *piv.Status, error) {
	return c.openToManage(ctx, "")
}

// openToManage is open for op, which manages the card (generates a key,
// stores a certificate, changes the management key, resets it); op ""
// manages nothing. A card that cannot be managed gives the
// *piv.UnsupportedError of piv.Card.CheckManagement, after nothing but the
// commands that open it and read its identity, before any prompt.
func (c *cardFlags) openToManage(ctx context.Context, op string) (*piv.Card, *piv.Status, error) {
	card, err := c.openCard(ctx)
	if err != nil {
		return nil, nil, err
	}
	if op != "" {
		err = card.CheckManagement(op)
	}
	var st *piv.Status
	if err == nil {
		st, err = card.Status(ctx)
	}
	if err != nil {
		card.Close()
		return nil, nil, err
	}
	return card, st, nil
}

// cardName names a card in messages: "card 12345678" by its serial
// number, "card with GUID 0123…" for a card without one, or by its reader,
// if known, for a card with neither.
func cardName(info piv.CardInfo) string {
	switch {
	case info.Serial != 0:
		return fmt.Sprintf("card %d", info.Serial)
	case info.GUID != "":
		return "card with GUID " + info.GUID
	case info.Reader != "":
		return fmt.Sprintf("card in reader %q", info.Reader)
	}
	return "card without a serial number or GUID"
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

// defineManagementKeyFile defines --management-key-file.
func defineManagementKeyFile(f *flagSet, path *string) {
	f.stringVar(path, "management-key-file", "FILE", "", "the card's management key in hex, if it is neither the factory key nor kept PIN-protected on the card")
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
	name := cardName(st.Card)
	if st.PIN.Default {
		out = append(out, name+` still has the factory PIN 123456: change it with "notation-piv pin change"`)
	}
	if st.PUK.Default {
		out = append(out, name+` still has the factory PUK 12345678: change it with "notation-piv puk change"`)
	}
	if st.Metadata && st.ManagementKey.Default {
		out = append(out, name+` still has the factory management key: replace it with "notation-piv management-key set --protect"`)
	}
	return out
}

// defineSlot defines --slot, of default 9c.
func defineSlot(f *flagSet, slot *string) {
	f.stringVar(slot, "slot", "SLOT", "9c", "the slot: 9a, 9c, 9d, 9e or 82 to 95")
}
