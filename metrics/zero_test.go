package metrics

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// storeOperationsInSource returns the operation label of every call to check and visit in
// store.go, in the order they appear.
func storeOperationsInSource(t *testing.T) []string {
	t.Helper()
	file, err := parser.ParseFile(token.NewFileSet(), "store.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	ast.Inspect(file, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		var arg ast.Expr
		switch fn := call.Fun.(type) {
		case *ast.SelectorExpr:
			if fn.Sel.Name == "check" && len(call.Args) == 2 {
				arg = call.Args[0]
			}
		case *ast.Ident:
			if fn.Name == "visit" && len(call.Args) == 4 {
				arg = call.Args[1]
			}
		}
		if lit, ok := arg.(*ast.BasicLit); ok && lit.Kind == token.STRING {
			op, err := strconv.Unquote(lit.Value)
			if err != nil {
				t.Fatal(err)
			}
			ops = append(ops, op)
		}
		return true
	})
	return ops
}

// TestStoreOperationsListed checks that storeOperations names every operation that the
// instrumented store counts, and nothing else, so that New starts each series at zero.
func TestStoreOperationsListed(t *testing.T) {
	inSource := storeOperationsInSource(t)
	if len(inSource) < 60 {
		t.Fatalf("found %d counted operations in store.go, want one for each of the 60 and more store methods", len(inSource))
	}
	for _, op := range inSource {
		if !slices.Contains(storeOperations, op) {
			t.Errorf("store.go counts operation %q, which storeOperations does not list", op)
		}
	}
	for _, op := range storeOperations {
		if !slices.Contains(inSource, op) {
			t.Errorf("storeOperations lists %q, which store.go never counts", op)
		}
	}
}

// TestErrorCountersStartAtZero checks that a fresh registry exports every label value of
// the error counters at zero. A series that appears only with its first error has no
// earlier sample, so increase() and rate() miss that error.
func TestErrorCountersStartAtZero(t *testing.T) {
	srv := httptest.NewServer(New().Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(body), "\n")

	var want []string
	for _, op := range storeOperationsInSource(t) {
		want = append(want, `iogate_store_errors_total{operation="`+op+`"} 0`)
	}
	for _, reason := range []string{ReasonInvalidClient, ReasonIPNotAllowed, ReasonInvalidScope, ReasonUnavailable, ReasonInternal} {
		want = append(want, `iogate_token_denials_total{reason="`+reason+`"} 0`)
	}
	for _, limit := range []string{LimitAddress, LimitClient, LimitKey, LimitSlowdown, LimitBlocked} {
		want = append(want, `iogate_rate_limit_hits_total{limit="`+limit+`"} 0`)
	}
	for _, listener := range listenerNames {
		for _, code := range []string{"500", "503"} {
			want = append(want, `iogate_http_requests_total{code="`+code+`",listener="`+listener+`"} 0`)
		}
	}
	want = append(want, "iogate_tls_reload_failures_total 0")
	for _, series := range want {
		if !slices.Contains(lines, series) {
			t.Errorf("/metrics of a fresh registry lacks %s", series)
		}
	}
}
