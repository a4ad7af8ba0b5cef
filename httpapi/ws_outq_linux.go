package httpapi

import (
	"net"

	"golang.org/x/sys/unix"
)

// unsentBytes is what the kernel still holds to send on c, or has sent
// without the peer acknowledging it (SIOCOUTQ); false when it cannot tell.
func unsentBytes(c *net.TCPConn) (int, bool) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, false
	}
	n, ierr := 0, error(nil)
	if err := rc.Control(func(fd uintptr) { n, ierr = unix.IoctlGetInt(int(fd), unix.SIOCOUTQ) }); err != nil || ierr != nil {
		return 0, false
	}
	return n, true
}
