package migration

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

func TestListOrdersByVersion(t *testing.T) {
	fsys := fstest.MapFS{
		"m/0010_later.sql":  {Data: []byte("SELECT 1")},
		"m/0002_second.sql": {Data: []byte("SELECT 1")},
		"m/0001_first.sql":  {Data: []byte("SELECT 1")},
		"m/README.md":       {Data: []byte("not a migration")},
	}
	got, err := List(fsys, "m")
	if err != nil {
		t.Fatal(err)
	}
	want := []File{{1, "m/0001_first.sql"}, {2, "m/0002_second.sql"}, {10, "m/0010_later.sql"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
}

func TestListRejectsBadNames(t *testing.T) {
	for name, files := range map[string][]string{
		"no version":     {"m/first.sql"},
		"no underscore":  {"m/0001.sql"},
		"version zero":   {"m/0000_zero.sql"},
		"shared version": {"m/0003_a.sql", "m/003_b.sql"},
	} {
		t.Run(name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for _, f := range files {
				fsys[f] = &fstest.MapFile{Data: []byte("SELECT 1")}
			}
			if got, err := List(fsys, "m"); err == nil {
				t.Errorf("List accepted %v and returned %v", files, got)
			} else if !strings.Contains(err.Error(), files[0]) && !strings.Contains(err.Error(), files[len(files)-1]) {
				t.Errorf("List error %q names no file", err)
			}
		})
	}
}

func TestCheckRecorded(t *testing.T) {
	files := []File{{1, "m/0001_a.sql"}, {2, "m/0002_b.sql"}, {5, "m/0005_c.sql"}}
	for _, recorded := range [][]int{nil, {1}, {1, 2, 5}, {5, 1}} {
		if err := CheckRecorded(recorded, files, "the database test.db"); err != nil {
			t.Errorf("CheckRecorded(%v) = %v, want nil: every version is known", recorded, err)
		}
	}
	err := CheckRecorded([]int{1, 2, 9, 7, 5}, files, "the database test.db")
	if err == nil {
		t.Fatal("CheckRecorded accepted versions 7 and 9, which no file has")
	}
	for _, part := range []string{"the database test.db", "migration 7", "newer iogate"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("CheckRecorded error %q lacks %q", err, part)
		}
	}
}
