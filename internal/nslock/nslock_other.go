//go:build !linux

package nslock

import (
	"errors"
	"os"
)

var errNotLinux = errors.New("nslock: network namespaces are Linux only")

func namespaceID(string) (string, error)    { return "", errNotLinux }
func checkDir(string) error                 { return errNotLinux }
func openLockFile(string) (*os.File, error) { return nil, errNotLinux }
func tryLock(*os.File) (bool, error)        { return false, errNotLinux }
