package nslock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// namespaceID names a network namespace by its nsfs device and inode, which
// stay the same however the namespace is reached (its /run/netns name, a
// process inside it).
func namespaceID(netns string) (string, error) {
	path := "/proc/self/ns/net"
	if netns != "" {
		if strings.ContainsRune(netns, '/') || netns == "." || netns == ".." {
			return "", fmt.Errorf("nslock: bad network namespace name %q", netns)
		}
		path = filepath.Join("/run/netns", netns)
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return "", fmt.Errorf("nslock: %s: %w", path, err)
	}
	return fmt.Sprintf("%x-%d", st.Dev, st.Ino), nil
}

func checkDir(dir string) error {
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return fmt.Errorf("nslock: %s: %w", dir, err)
	}
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFDIR:
		return fmt.Errorf("nslock: refusing %s: not a directory", dir)
	case st.Uid != 0:
		return fmt.Errorf("nslock: refusing %s: owned by uid %d, not root", dir, st.Uid)
	case st.Mode&0o022 != 0:
		return fmt.Errorf("nslock: refusing %s: writable by others (mode %04o)", dir, st.Mode&0o7777)
	}
	return nil
}

func openLockFile(path string) (*os.File, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("nslock: %s: %w", path, err)
	}
	return os.NewFile(uintptr(fd), path), nil
}

// tryLock takes an exclusive flock without blocking: false if another open
// file holds it.
func tryLock(f *os.File) (bool, error) {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, unix.EWOULDBLOCK):
			return false, nil
		}
		return false, err
	}
}
