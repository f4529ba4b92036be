package reaper

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestOnlyReaperWaits enforces what the package comment promises: no
// file of the tend binary outside reaper/ waits for a process. A stray
// wait4(-1), a Cmd.Wait, or an os.Process.Wait in the supervisor would
// steal the exit status of a pid another owner is waiting for, and the
// loss would show only as a program stuck in RUNNING, once in a while.
//
// The rule: outside reaper/, no Go file built into tend imports os/exec
// (so no Cmd.Wait/Run/Output), calls os.StartProcess or os.FindProcess
// (so no Process.Wait), or names wait4/waitid/waitpid from syscall or
// unix. Tests, benchmarks and their helper programs are other programs:
// they are tend's parents, not the owners of its children.
func TestOnlyReaperWaits(t *testing.T) {
	// The files that go into the binary, as the go tool sees them.
	out, err := exec.Command("go", "list", "-deps", "-f",
		`{{with .Module}}{{if eq .Path "tend"}}{{range $.GoFiles}}{{$.Dir}}/{{.}}{{"\n"}}{{end}}{{end}}{{end}}`,
		"tend").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	root, _ := filepath.Abs("..")
	files := strings.Fields(string(out))
	if len(files) < 5 {
		t.Fatalf("go list found only %d files of tend: %q", len(files), files)
	}
	for _, path := range files {
		rel, _ := filepath.Rel(root, path)
		if strings.HasPrefix(rel, "reaper/") {
			continue
		}
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range waitViolations(rel, string(src)) {
			t.Error(v)
		}
	}
}

// TestWaitViolationsCatches shows the checker can fail: each snippet
// breaks the rule once.
func TestWaitViolationsCatches(t *testing.T) {
	bad := map[string]string{
		"os/exec":       `import "os/exec"; func f() { exec.Command("x").Run() }`,
		"aliased":       `import ex "os/exec"; var _ = ex.Command`,
		"unix.Wait4":    `import "golang.org/x/sys/unix"; func f() { unix.Wait4(-1, nil, 0, nil) }`,
		"syscall.Wait4": `import "syscall"; func f() { syscall.Wait4(-1, nil, 0, nil) }`,
		"waitid":        `import "golang.org/x/sys/unix"; func f() { unix.Waitid(0, 0, nil, 0, nil) }`,
		"StartProcess":  `import "os"; func f() { os.StartProcess("x", nil, nil) }`,
		"FindProcess":   `import "os"; func f() { p, _ := os.FindProcess(1); p.Wait() }`,
	}
	for name, body := range bad {
		if v := waitViolations(name+".go", "package p\n"+body); len(v) != 1 {
			t.Errorf("%s: %d violations %q, want 1", name, len(v), v)
		}
	}
	good := `import ("sync"; "syscall"); func f() { var wg sync.WaitGroup; wg.Wait(); syscall.ForkExec("x", nil, nil) }`
	if v := waitViolations("good.go", "package p\n"+good); len(v) != 0 {
		t.Errorf("false positives: %q", v)
	}
}

var waitSyscalls = map[string]bool{"Wait4": true, "Waitid": true, "Waitpid": true}

func waitViolations(name, src string) []string {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, src, 0)
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	bad := func(n ast.Node, what string) {
		out = append(out, fset.Position(n.Pos()).String()+": "+what+" outside reaper/")
	}
	pkgs := map[string]string{} // local name -> import path
	for _, imp := range f.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		local := path[strings.LastIndex(path, "/")+1:]
		if imp.Name != nil {
			local = imp.Name.Name
		}
		pkgs[local] = path
		if path == "os/exec" {
			bad(imp, "import of os/exec (Cmd.Wait, Run, Output)")
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		id, ok := sel.X.(*ast.Ident)
		if !ok {
			return true
		}
		switch path := pkgs[id.Name]; {
		case (path == "syscall" || path == "golang.org/x/sys/unix") && waitSyscalls[sel.Sel.Name]:
			bad(sel, path+"."+sel.Sel.Name)
		case path == "os" && (sel.Sel.Name == "StartProcess" || sel.Sel.Name == "FindProcess"):
			bad(sel, "os."+sel.Sel.Name+" (Process.Wait)")
		}
		return true
	})
	return out
}
