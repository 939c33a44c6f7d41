// Package migration reads the schema migrations that the SQLite and PostgreSQL stores embed,
// so that both number them and check a database's recorded versions the same way.
package migration

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/iogate/iogate"
)

// File is one embedded migration.
type File struct {
	// Version is the number the file's name starts with, as in 0008_audit_index.sql.
	Version int
	// Name is the file's path in the embedded file system.
	Name string
}

// List returns the .sql files in dir of fsys, ordered by version. Every name must start with
// a version number followed by an underscore, and no two files may share a version.
func List(fsys fs.FS, dir string) ([]File, error) {
	names, err := fs.Glob(fsys, path.Join(dir, "*.sql"))
	if err != nil {
		return nil, err
	}
	files := make([]File, 0, len(names))
	for _, name := range names {
		prefix, _, ok := strings.Cut(path.Base(name), "_")
		v, err := strconv.Atoi(prefix)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must start with a positive version number and an underscore", name)
		}
		files = append(files, File{Version: v, Name: name})
	}
	slices.SortFunc(files, func(a, b File) int { return a.Version - b.Version })
	for i := 1; i < len(files); i++ {
		if files[i].Version == files[i-1].Version {
			return nil, fmt.Errorf("migrations %s and %s share version %d", files[i-1].Name, files[i].Name, files[i].Version)
		}
	}
	return files, nil
}

// CheckRecorded returns an error when recorded, the versions applied to a database, contains
// one that files lacks. A newer iogate applied it, and this one's queries could fail against
// that schema in ways that are hard to read. The message names the database by where, which
// must hold no credential.
func CheckRecorded(recorded []int, files []File, where string) error {
	known := make(map[int]bool, len(files))
	for _, f := range files {
		known[f.Version] = true
	}
	unknown := 0
	for _, v := range recorded {
		if !known[v] && (unknown == 0 || v < unknown) {
			unknown = v
		}
	}
	if unknown == 0 {
		return nil
	}
	return iogate.Errorf(iogate.CodeConflict, "%s has schema migration %d, which this version of iogate does not include: "+
		"a newer iogate has opened it. Run that version, or restore a backup taken before the upgrade", where, unknown)
}
