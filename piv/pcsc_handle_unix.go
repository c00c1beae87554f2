//go:build !windows

package piv

/*
#cgo linux pkg-config: libpcsclite
#cgo freebsd CFLAGS: -I/usr/local/include/ -I/usr/local/include/PCSC
#cgo freebsd LDFLAGS: -L/usr/local/lib/ -lpcsclite
#cgo darwin LDFLAGS: -framework PCSC
#ifdef __APPLE__
#include <PCSC/winscard.h>
#else
#include <winscard.h>
#endif
*/
import "C"

import "github.com/ebfe/scard"

// disconnectReset disconnects h with SCARD_RESET_CARD: pcscd resets the
// card, which clears its security status, before it frees the handle.
func (h pcscHandle) disconnectReset() error {
	if rc := C.SCardDisconnect(C.SCARDHANDLE(h), C.SCARD_RESET_CARD); rc != C.SCARD_S_SUCCESS {
		return scard.Error(uint32(rc))
	}
	return nil
}

// transmit sends one APDU on h and returns the card's answer with its
// status word.
func (h pcscHandle) transmit(apdu []byte) ([]byte, error) {
	resp := make([]byte, maxAnswer)
	n := C.DWORD(len(resp))
	rc := C.SCardTransmit(C.SCARDHANDLE(h), C.SCARD_PCI_T1, (*C.BYTE)(&apdu[0]), C.DWORD(len(apdu)), nil, (*C.BYTE)(&resp[0]), &n)
	if rc != C.SCARD_S_SUCCESS {
		return nil, scard.Error(uint32(rc))
	}
	return resp[:n], nil
}
