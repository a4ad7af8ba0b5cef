package etcdtest

import "syscall"

// sysProcAttr kills etcd when the test process dies, so a test binary
// killed on a timeout leaves no server behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
