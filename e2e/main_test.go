package e2e

import (
	"os"
	"testing"

	"github.com/iogate/iogate/internal/testenv"
)

// TestMain runs the tests, then removes the iogate binary they built.
func TestMain(m *testing.M) {
	code := m.Run()
	testenv.RemoveBinary()
	os.Exit(code)
}
