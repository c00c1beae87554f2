package piv

import "syscall"

var procSCardDisconnect = syscall.NewLazyDLL("winscard.dll").NewProc("SCardDisconnect")

// scardResetCard is SCARD_RESET_CARD of winscard.h.
const scardResetCard = 1

// disconnectReset disconnects h with SCARD_RESET_CARD: the resource
// manager resets the card, which clears its security status, before it
// frees the handle.
func (h pcscHandle) disconnectReset() error {
	if rc, _, _ := procSCardDisconnect.Call(uintptr(h), scardResetCard); rc != 0 {
		return scardError(uint32(rc))
	}
	return nil
}
