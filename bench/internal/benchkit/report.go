package benchkit

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Block is the generated block of a docs page: the lines Begin and End
// and what lies between them, which a driver writes; everything around
// them is prose that it leaves alone.
type Block struct {
	Begin, End string
}

// Splice replaces what lies between the markers of doc with md.
func (k Block) Splice(doc []byte, md string) ([]byte, error) {
	i := bytes.Index(doc, []byte(k.Begin))
	j := bytes.Index(doc, []byte(k.End))
	if i < 0 || j < i {
		return nil, errors.New("no generated block: add the marker lines " + k.Begin + " and " + k.End)
	}
	var b bytes.Buffer
	b.Write(doc[:i+len(k.Begin)])
	b.WriteString("\n\n")
	b.WriteString(md)
	b.WriteString("\n")
	b.Write(doc[j:])
	return b.Bytes(), nil
}

// writeReport writes the report md to OUT/results-MODE.md and to stdout
// and, if doc is set, into the generated block k of doc.
func writeReport(md, out, mode, doc string, k Block) error {
	if err := os.WriteFile(filepath.Join(out, "results-"+mode+".md"), []byte(md), 0o644); err != nil {
		return err
	}
	fmt.Print(md)
	if doc == "" {
		return nil
	}
	old, err := os.ReadFile(doc)
	if err != nil {
		return err
	}
	b, err := k.Splice(old, md)
	if err != nil {
		return fmt.Errorf("%s: %w", doc, err)
	}
	return os.WriteFile(doc, b, 0o644)
}
