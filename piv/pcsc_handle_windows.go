package piv

import (
	"syscall"
	"unsafe"

	"github.com/ebfe/scard"
)

var (
	winscard            = syscall.NewLazyDLL("winscard.dll")
	procSCardDisconnect = winscard.NewProc("SCardDisconnect")
	procSCardTransmit   = winscard.NewProc("SCardTransmit")
	// procT1PCI is g_rgSCardT1Pci, the protocol header SCARD_PCI_T1 points
	// to.
	procT1PCI = winscard.NewProc("g_rgSCardT1Pci")
)

// scardResetCard is SCARD_RESET_CARD of winscard.h.
const scardResetCard = 1

// disconnectReset disconnects h with SCARD_RESET_CARD: the resource
// manager resets the card, which clears its security status, before it
// frees the handle.
func (h pcscHandle) disconnectReset() error {
	if rc, _, _ := procSCardDisconnect.Call(uintptr(h), scardResetCard); rc != 0 {
		return scard.Error(uint32(rc))
	}
	return nil
}

// transmit sends one APDU on h and returns the card's answer with its
// status word.
func (h pcscHandle) transmit(apdu []byte) ([]byte, error) {
	if err := procT1PCI.Find(); err != nil {
		return nil, err
	}
	resp := make([]byte, maxAnswer)
	n := uint32(len(resp))
	rc, _, _ := procSCardTransmit.Call(uintptr(h), procT1PCI.Addr(),
		uintptr(unsafe.Pointer(&apdu[0])), uintptr(len(apdu)), 0,
		uintptr(unsafe.Pointer(&resp[0])), uintptr(unsafe.Pointer(&n)))
	if rc != 0 {
		return nil, scard.Error(uint32(rc))
	}
	return resp[:n], nil
}
