package http

import (
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/iogate/iogate"
)

// apiDocPath is the HTTP API reference page, relative to this package's directory.
const apiDocPath = "../docs/API.md"

// TestAPIDocCoversOperations checks that docs/API.md has a section for every path and
// method of openapi.json. The section's status table needs a row for every status that
// openapi.json lists for the operation.
func TestAPIDocCoversOperations(t *testing.T) {
	page := readAPIDoc(t)
	var doc struct {
		Paths map[string]map[string]struct {
			Responses map[string]json.RawMessage `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(OpenAPIDocument, &doc); err != nil {
		t.Fatalf("openapi.json does not parse as paths of operations: %v", err)
	}
	if len(doc.Paths) == 0 {
		t.Fatal("openapi.json has no paths")
	}

	for path, operations := range doc.Paths {
		for method, operation := range operations {
			heading := "### `" + strings.ToUpper(method) + " " + path + "`"
			section, ok := markdownSection(page, heading)
			if !ok {
				t.Errorf("%s has no heading %s for an operation of openapi.json", apiDocPath, heading)
				continue
			}
			for status := range operation.Responses {
				if !strings.Contains(section, "\n| "+status+" |") {
					t.Errorf("%s: section %s has no row for status %s, which openapi.json lists", apiDocPath, heading, status)
				}
			}
		}
	}
}

// TestAPIDocErrorCodes checks the error-code table of docs/API.md against writeError. Every
// code that writeError can send needs a row with the status and the /oauth2/ error value
// that writeError sends for it. Every row must name such a code.
func TestAPIDocErrorCodes(t *testing.T) {
	section, ok := markdownSection(readAPIDoc(t), "### Error codes")
	if !ok {
		t.Fatalf("%s has no heading ### Error codes", apiDocPath)
	}
	rows := codeTableRows(section)
	if len(rows) == 0 {
		t.Fatalf("%s: the Error codes section has no table rows", apiDocPath)
	}

	s := NewServer(nil, nil, slog.New(slog.DiscardHandler))
	t.Cleanup(s.Close)
	var errs []error
	for code := range statusOf {
		errs = append(errs, iogate.Errorf(code, "test error"))
	}

	for _, err := range errs {
		code := string(iogate.ErrorCodeOf(err))
		row, ok := rows[code]
		if !ok {
			t.Errorf("%s: the Error codes table has no row for %s", apiDocPath, code)
			continue
		}
		delete(rows, code)

		status, problem := recordError[Problem](t, s, "/v1/doc-check", err)
		if problem.Code != code {
			t.Errorf("writeError(%s) on /v1 sent code %q, want the code itself", code, problem.Code)
		}
		if row.status != strconv.Itoa(status) {
			t.Errorf("%s: code %s has status %s, writeError sends %d", apiDocPath, code, row.status, status)
		}

		oauthStatus, oauth := recordError[OAuthError](t, s, "/oauth2/doc-check", err)
		if oauthStatus != status {
			t.Errorf("writeError(%s) sent status %d on /oauth2/ but %d on /v1, and the table has one status column", code, oauthStatus, status)
		}
		if row.oauthError != oauth.Error {
			t.Errorf("%s: code %s has the /oauth2/ error %s, writeError sends %s", apiDocPath, code, row.oauthError, oauth.Error)
		}
	}
	for code := range rows {
		t.Errorf("%s: the Error codes table lists %s, which writeError never sends", apiDocPath, code)
	}
}

func readAPIDoc(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(apiDocPath)
	if err != nil {
		t.Fatalf("read the API reference: %v", err)
	}
	return string(b)
}

// markdownSection returns the lines after the line heading, up to the next heading of the
// same or a higher level outside a fenced code block. The result starts with a line break,
// so that every line in it follows one. It returns false when no line equals heading.
func markdownSection(page, heading string) (string, bool) {
	level := len(heading) - len(strings.TrimLeft(heading, "#"))
	lines := strings.Split(page, "\n")
	start := -1
	for i, line := range lines {
		if line == heading {
			start = i + 1
			break
		}
	}
	if start < 0 {
		return "", false
	}

	var b strings.Builder
	inFence := false
	for _, line := range lines[start:] {
		if strings.HasPrefix(line, "```") {
			inFence = !inFence
		}
		if !inFence && headingLevel(line) > 0 && headingLevel(line) <= level {
			break
		}
		b.WriteString("\n" + line)
	}
	return b.String(), true
}

// headingLevel returns the level of a Markdown ATX heading line, or 0 for another line.
func headingLevel(line string) int {
	level := len(line) - len(strings.TrimLeft(line, "#"))
	if level == 0 || level > 6 || !strings.HasPrefix(line[level:], " ") {
		return 0
	}
	return level
}

// codeTableRow is one row of the Error codes table: the status and the /oauth2/ error
// value that the page gives a code.
type codeTableRow struct {
	status     string
	oauthError string
}

// codeTableRows returns the body rows of the Markdown table in section whose first cell is
// a code in backticks, by code. Header rows, which the delimiter row follows, are skipped.
func codeTableRows(section string) map[string]codeTableRow {
	rows := make(map[string]codeTableRow)
	lines := strings.Split(section, "\n")
	for i, line := range lines {
		isHeader := i+1 < len(lines) && strings.HasPrefix(lines[i+1], "| ---")
		if !strings.HasPrefix(line, "| `") || isHeader {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) < 3 {
			continue
		}
		code := strings.Trim(strings.TrimSpace(cells[0]), "`")
		rows[code] = codeTableRow{
			status:     strings.TrimSpace(cells[1]),
			oauthError: strings.Trim(strings.TrimSpace(cells[2]), "`"),
		}
	}
	return rows
}

// recordError writes err with writeError as the response to a request for path, and
// returns the status and the body decoded into T.
func recordError[T any](t *testing.T, s *Server, path string, err error) (int, T) {
	t.Helper()
	rec := httptest.NewRecorder()
	s.writeError(rec, httptest.NewRequest("POST", path, nil), err)
	var body T
	if decodeErr := json.Unmarshal(rec.Body.Bytes(), &body); decodeErr != nil {
		t.Fatalf("writeError(%v) on %s wrote %q, which does not decode as %T: %v", err, path, rec.Body.String(), body, decodeErr)
	}
	return rec.Code, body
}
