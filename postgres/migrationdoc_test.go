package postgres

import (
	"fmt"
	"os"
	"regexp"
	"testing"

	"github.com/iogate/iogate/internal/migration"
)

// TestDeploymentDocMigrateOutput checks the output of "iogate migrate" that
// docs/DEPLOYMENT.md shows for PostgreSQL against the embedded migrations, so that the
// page shows the versions that this release prints.
func TestDeploymentDocMigrateOutput(t *testing.T) {
	page, err := os.ReadFile("../docs/DEPLOYMENT.md")
	if err != nil {
		t.Fatal(err)
	}
	files, err := migration.List(migrationFiles, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	versions := make([]int, len(files))
	for i, f := range files {
		versions[i] = f.Version
	}
	latest := versions[len(versions)-1]

	atVersion := regexp.MustCompile(`at version (\d+)\.`).FindAllStringSubmatch(string(page), -1)
	if len(atVersion) == 0 {
		t.Fatal(`docs/DEPLOYMENT.md shows no "at version N." output of iogate migrate`)
	}
	for _, m := range atVersion {
		if m[1] != fmt.Sprint(latest) {
			t.Errorf("docs/DEPLOYMENT.md shows %q, want version %d, the highest PostgreSQL migration", m[0], latest)
		}
	}

	applied := regexp.MustCompile(`Applied migrations (\[[\d ]+\]) to postgres`).FindAllStringSubmatch(string(page), -1)
	if len(applied) == 0 {
		t.Fatal(`docs/DEPLOYMENT.md shows no "Applied migrations [...] to postgres" output`)
	}
	for _, m := range applied {
		if m[1] != fmt.Sprint(versions) {
			t.Errorf("docs/DEPLOYMENT.md lists applied migrations %s, want %v, the embedded PostgreSQL migrations", m[1], versions)
		}
	}
}
