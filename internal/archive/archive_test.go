package archive

import (
	"archive/tar"
	"bytes"
	"io"
	"testing"
)

func TestWriteIsOrderedAndDeterministic(t *testing.T) {
	entries := []Entry{
		{Path: "/etc/edgelet/config.yaml", Mode: 0o600, Data: []byte("a: 1\n")},
		{Path: "/usr/local/bin/kubectl", Link: "edgelet", Mode: 0o777},
		{Path: "/etc/cni/net.d", IsDir: true, Mode: 0o755},
	}
	var a, b bytes.Buffer
	if err := Write(&a, entries); err != nil {
		t.Fatal(err)
	}
	if err := Write(&b, []Entry{entries[2], entries[0], entries[1]}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("entry order changed the archive")
	}
	var names []string
	tr := tar.NewReader(&a)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
	want := []string{"etc/", "etc/cni/", "etc/cni/net.d/", "etc/edgelet/", "etc/edgelet/config.yaml", "usr/", "usr/local/", "usr/local/bin/", "usr/local/bin/kubectl"}
	if len(names) != len(want) {
		t.Fatalf("got %v", names)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("got %v, want %v", names, want)
		}
	}
}
