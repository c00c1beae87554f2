package vpcd

import "syscall"

// quickAck asks the kernel to acknowledge received data at once instead of
// delaying the acknowledgement.
func quickAck(raw syscall.RawConn) error {
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
	}); err != nil {
		return err
	}
	return serr
}
