package main

import (
	"io"
	"strings"
	"testing"
)

// A stream as `go test -json` writes it: one test passes, one subtest is
// skipped with a reason, one fails.
const stream = `{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"output","Package":"p","Test":"TestA","Output":"=== RUN   TestA\n"}
{"Action":"pass","Package":"p","Test":"TestA","Elapsed":12.4}
{"Action":"run","Package":"p","Test":"TestB"}
{"Action":"output","Package":"p","Test":"TestB","Output":"    main_test.go:40: lane clusters: ran 5s\n"}
{"Action":"run","Package":"p","Test":"TestB/arm64"}
{"Action":"output","Package":"p","Test":"TestB/arm64","Output":"    b_test.go:9: arm64 runs in make test-arm64\n"}
{"Action":"output","Package":"p","Test":"TestB/arm64","Output":"    --- SKIP: TestB/arm64 (0.00s)\n"}
{"Action":"skip","Package":"p","Test":"TestB/arm64","Elapsed":0}
{"Action":"pass","Package":"p","Test":"TestB","Elapsed":95}
build output that is not JSON
{"Action":"fail","Package":"p","Test":"TestC","Elapsed":3}
{"Action":"fail","Package":"p","Elapsed":111}
`

func TestSummary(t *testing.T) {
	var echo strings.Builder
	results, pkgs, err := read(strings.NewReader(stream), &echo)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(echo.String(), "build output that is not JSON\n") || !strings.Contains(echo.String(), "=== RUN   TestA\n") {
		t.Errorf("echo: %q", echo.String())
	}
	var out strings.Builder
	if !summarize(&out, results, pkgs) {
		t.Error("a failed test did not fail the summary")
	}
	got := out.String()
	for _, want := range []string{
		"== 2 passed, 1 failed, 1 skipped",
		"skipped TestB/arm64: b_test.go:9: arm64 runs in make test-arm64",
		"FAILED TestC",
		"package p: FAIL in 1m51s",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
	// TestB ran 5 s of its 95 (it waited 90 s), so TestA (12 s) is first.
	if !strings.Contains(got, "TestB                                         PASS        5s     1m30s") {
		t.Errorf("TestB's queue time is not apart:\n%s", got)
	}
	if b, a := strings.Index(got, "TestB "), strings.Index(got, "TestA "); b < 0 || a < 0 || a > b {
		t.Errorf("not slowest first:\n%s", got)
	}
}

func TestSummaryPasses(t *testing.T) {
	results, pkgs, _ := read(strings.NewReader(`{"Action":"pass","Package":"p","Test":"TestA","Elapsed":1}`+"\n"), io.Discard)
	if summarize(io.Discard, results, pkgs) {
		t.Error("a passing stream failed the summary")
	}
}
