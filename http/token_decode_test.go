package http

import (
	"maps"
	"testing"

	"github.com/iogate/iogate"
)

var decodeCases = []string{
	`{"clientId":"a","clientSecret":"b"}`,
	" \t\r\n{ \"clientId\" : \"a\" , \"clientSecret\" : \"b\" } \n",
	`{}`,
	`{"clientId":""}`,
	`{"clientSecret":"b","clientId":"a"}`,
	`{"clientId":"a","clientId":"b"}`,
	`{"clientid":"a"}`,
	`{"other":"a"}`,
	`{"clientId":1}`,
	`{"clientId":null}`,
	`{"clientId":{"x":"y"}}`,
	`{"clientId":"a"}{"clientId":"a"}`,
	`{"clientId":"a"} x`,
	`{"clientId":"a",}`,
	`{"clientId" "a"}`,
	`{"clientId":"a\u0041"}`,
	`{"clientId":"a\"b"}`,
	"{\"clientId\":\"a\x01\"}",
	"{\"clientId\":\"\xff\"}",
	"{\"clientId\":\"é\u2028\x7f\"}",
	"\ufeff{\"clientId\":\"a\"}",
	`["clientId","a"]`,
	`"clientId"`,
	``,
	`{`,
	`{"clientId":"a"`,
	`{"clientId":"a",`,
}

// TestDecodePlainObjectAgreesWithTokens checks the fast path against the tokenizer on
// well-formed and malformed bodies alike.
func TestDecodePlainObjectAgreesWithTokens(t *testing.T) {
	for _, body := range decodeCases {
		checkDecodersAgree(t, []byte(body))
	}
	// The fast path must take the bodies clients send, or it only adds work.
	for _, body := range decodeCases[:2] {
		if _, ok := decodePlainObject([]byte(body), []string{"clientId", "clientSecret"}); !ok {
			t.Errorf("decodePlainObject(%q) fell back to the tokenizer", body)
		}
	}
}

func TestDecodeStrictObjectErrors(t *testing.T) {
	tests := []struct {
		name, body string
	}{
		{"duplicate", `{"clientId":"a","clientId":"b"}`},
		{"letter case", `{"clientid":"a"}`},
		{"unknown", `{"other":"a"}`},
		{"number", `{"clientId":1}`},
		{"trailing data", `{"clientId":"a"} x`},
		{"second object", `{"clientId":"a"}{}`},
		{"trailing comma", `{"clientId":"a",}`},
		{"array", `["clientId"]`},
		{"empty body", ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeStrictObject([]byte(tt.body), "clientId", "clientSecret")
			if code := iogate.ErrorCodeOf(err); code != iogate.CodeInvalid {
				t.Errorf("decodeStrictObject(%q): error %v (code %q), want code %q", tt.body, err, code, iogate.CodeInvalid)
			}
		})
	}
}

func FuzzDecodePlainObject(f *testing.F) {
	for _, body := range decodeCases {
		f.Add([]byte(body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkDecodersAgree(t, body)
	})
}

// checkDecodersAgree fails when decodePlainObject accepts a body that the tokenizer
// rejects or reads differently.
func checkDecodersAgree(t *testing.T, body []byte) {
	t.Helper()
	allowed := []string{"clientId", "clientSecret"}
	fast, ok := decodePlainObject(body, allowed)
	full, err := decodeStrictObjectTokens(body, allowed)
	if !ok {
		return
	}
	if err != nil {
		t.Fatalf("decodePlainObject accepted %q, which the tokenizer rejects: %v", body, err)
	}
	if !maps.Equal(fast, full) {
		t.Fatalf("decodePlainObject(%q) = %q, the tokenizer returns %q", body, fast, full)
	}
}
