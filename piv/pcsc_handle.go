package piv

import (
	"errors"
	"reflect"

	"github.com/go-piv/piv-go/v2/piv"
	"github.com/notation-piv/notation-piv/piv/internal/apdu"
)

// pcscHandle is the PC/SC card handle (SCARDHANDLE) of a piv-go
// connection.
//
// piv-go releases a card with SCardDisconnect(SCARD_LEAVE_CARD): the card
// stays powered with its PIN and management key verified, and the next
// program to connect, before pcscd powers the card down, could use them.
// Disconnecting the same handle with SCARD_RESET_CARD instead makes the
// card forget them before this process lets go of it, with no window in
// which another program could connect first. piv-go does not export the
// handle, so pcscHandleOf reads it from piv-go's unexported field; the
// layout is that of the piv-go version pinned in go.mod, and
// TestPCSCHandleOf fails if an upgrade changes it.
type pcscHandle uintptr

// errNoPCSCHandle means that piv-go's connection no longer has the layout
// pcscHandleOf reads: the card could not be locked on close, so it is not
// used at all.
var errNoPCSCHandle = errors.New("this build cannot reach piv-go's PC/SC handle, so it could not lock the card when done; rebuild notation-piv with the piv-go version in its go.mod")

// pcscHandleOf returns the PC/SC handle of yk's connection: the one field
// of the struct that the field h of piv.YubiKey points to (an integer on
// Unix, a syscall.Handle on Windows).
func pcscHandleOf(yk *piv.YubiKey) (pcscHandle, error) {
	h := reflect.ValueOf(yk).Elem().FieldByName("h")
	if h.Kind() != reflect.Pointer || h.IsNil() || h.Elem().Kind() != reflect.Struct || h.Elem().NumField() != 1 {
		return 0, errNoPCSCHandle
	}
	switch v := h.Elem().Field(0); v.Kind() {
	case reflect.Int, reflect.Int32, reflect.Int64:
		return pcscHandle(v.Int()), nil
	case reflect.Uint, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return pcscHandle(v.Uint()), nil
	}
	return 0, errNoPCSCHandle
}

// maxAnswer is the largest answer to one APDU: 256 bytes of data and the
// status word for the short APDUs notation-piv sends.
const maxAnswer = 258

// resetPIN is VERIFY with P1=FF and no data (SP 800-73-4 part 2, §3.2.1):
// the card resets the PIN's security status.
var resetPIN = apdu.Command{Name: "reset the PIN's security status", Ins: 0x20, P1: 0xFF, P2: refPIN}

// forgetPIN makes the card forget a verified PIN with VERIFY P1=FF, and
// reports whether the status query then says that the PIN is not
// verified. False means that the card must be reset: the command failed,
// or the card ignored it. Two APDUs, against a card reset that makes a
// real card start over and send its ATR again.
func forgetPIN(conn conn) bool {
	if _, err := apdu.Exchange(conn, resetPIN); err != nil {
		return false
	}
	st, err := pinStatus(conn)
	return err == nil && !st.verified && st.retries >= 0
}
