package spi

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// saveSAs writes the script of the table's SAs to path, mode 0600, and
// gives how many SAs it makes and how many it could not.
func saveSAs(k Kernel, path, self string) (saved, refused int, err error) {
	sas, err := k.SAs()
	if err != nil {
		return 0, 0, err
	}
	lines := Script(sas, self)
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, `"$IPSEC" spi `):
			saved++
		case strings.HasPrefix(l, "# ") && strings.Contains(l, " not saved: "):
			refused++
		}
	}
	return saved, refused, writeSecret(path, strings.Join(lines, "\n")+"\n")
}

// writeSecret replaces path with data, readable by its owner only: a
// temporary file made 0600 in the same directory, synced, then renamed
// over path, so that no reader ever sees a half-written file or one with
// looser permissions. A symbolic link at path is refused, not followed
// (root writing through a link another user planted would hand them the
// keys). Errors name the path, never the data.
func writeSecret(path, data string) error {
	if path == "-" || path == "/dev/stdout" {
		return fmt.Errorf("--save %s: %w", path, errStdoutSave)
	}
	if fi, err := os.Lstat(path); err == nil {
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			return fmt.Errorf("--save %s: is a symbolic link, which is not followed: the file holds keys", path)
		case !fi.Mode().IsRegular():
			return fmt.Errorf("--save %s: is not a regular file", path)
		}
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("--save %s: %v", path, pathError(err))
	}
	tmp := f.Name()
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.WriteString(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("--save %s: %v", path, pathError(err))
	}
	if d, err := os.Open(dir); err == nil { // the rename itself, on disk
		d.Sync()
		d.Close()
	}
	return nil
}

// pathError gives an os error's reason without its operation and path
// (the message names the --save path once).
func pathError(err error) error {
	for {
		switch e := err.(type) {
		case *os.PathError:
			err = e.Err
		case *os.LinkError:
			err = e.Err
		default:
			return err
		}
	}
}
