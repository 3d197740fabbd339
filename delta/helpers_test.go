package delta

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// needTool skips the test when a command line tool is missing. CI installs
// them (.ci/run: zstd, bsdiff, xdelta3), so a skip there is a setup bug.
func needTool(tb testing.TB, name string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		tb.Skipf("%s not installed (apt-get install zstd bsdiff; make tools): %v", name, err)
	}
	return p
}

// run runs a command and fails the test with its output if it fails.
func run(tb testing.TB, name string, args ...string) {
	tb.Helper()
	cmd := exec.Command(name, args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// writeFiles writes each content into dir under the given names and returns
// the paths.
func writeFiles(tb testing.TB, dir string, files map[string][]byte) map[string]string {
	tb.Helper()
	paths := make(map[string]string, len(files))
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			tb.Fatal(err)
		}
		paths[name] = p
	}
	return paths
}

func readFile(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

var jsWords = strings.Fields(`function return const let var if else for while new this null undefined
true false typeof instanceof async await export import from default class extends super
props state render component element document window console log error value index length
push map filter reduce forEach then catch Promise resolve reject module exports require
options config handler callback listener event target data result response request
createElement useState useEffect setTimeout JSON stringify parse Object keys assign`)

// genJS returns n bytes of deterministic, minified-JavaScript-like text:
// many short functions built from a small vocabulary, with identifiers and
// numbers that vary, so it compresses like real bundles (about 4–6×).
func genJS(r *rand.Rand, n int) []byte {
	var b bytes.Buffer
	b.Grow(n + 256)
	for b.Len() < n {
		name := fmt.Sprintf("%s%s%d", jsWords[r.Intn(len(jsWords))], strings.ToUpper(jsWords[r.Intn(len(jsWords))][:1]), r.Intn(5000))
		fmt.Fprintf(&b, "function %s(e,t,n){", name)
		for k := 1 + r.Intn(6); k > 0; k-- {
			switch r.Intn(5) {
			case 0:
				fmt.Fprintf(&b, "const %s=e.%s(t,%d);", jsWords[r.Intn(len(jsWords))], jsWords[r.Intn(len(jsWords))], r.Intn(1000))
			case 1:
				fmt.Fprintf(&b, "if(%s.%s===%q)return n;", jsWords[r.Intn(len(jsWords))], jsWords[r.Intn(len(jsWords))], jsWords[r.Intn(len(jsWords))])
			case 2:
				fmt.Fprintf(&b, "for(let i=0;i<t.length;i++){n.push(t[i].%s)}", jsWords[r.Intn(len(jsWords))])
			case 3:
				fmt.Fprintf(&b, "console.log(\"%s %s\",%d);", jsWords[r.Intn(len(jsWords))], jsWords[r.Intn(len(jsWords))], r.Intn(1<<20))
			default:
				fmt.Fprintf(&b, "return %s(%s,{%s:%d});", jsWords[r.Intn(len(jsWords))], jsWords[r.Intn(len(jsWords))], jsWords[r.Intn(len(jsWords))], r.Intn(100))
			}
		}
		b.WriteString("}\n")
	}
	return b.Bytes()[:n]
}

// mutate returns a copy of old with about edits scattered changes: short
// replacements, insertions of fresh text, deletions, and a version string
// changed everywhere, as a release does.
func mutate(r *rand.Rand, old []byte, edits int) []byte {
	out := bytes.ReplaceAll(old, []byte("console.log"), []byte("console.debug"))
	for i := 0; i < edits && len(out) > 0; i++ {
		at := r.Intn(len(out))
		switch r.Intn(3) {
		case 0: // replace
			n := min(len(out)-at, 1+r.Intn(32))
			copy(out[at:at+n], genJS(r, n))
		case 1: // insert
			ins := genJS(r, 1+r.Intn(512))
			out = append(out[:at], append(ins, out[at:]...)...)
		default: // delete
			n := min(len(out)-at, 1+r.Intn(256))
			out = append(out[:at], out[at+n:]...)
		}
	}
	return out
}

func newRand(seed int64) *rand.Rand { return rand.New(rand.NewSource(seed)) }

func randomBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	r.Read(b)
	return b
}

type pair struct {
	name     string
	old, new []byte
}

// testPairs are the small inputs every codec must round-trip, and that the
// command line tools must agree on.
func testPairs() []pair {
	r := rand.New(rand.NewSource(1))
	js := genJS(r, 300<<10)
	text := genJS(r, 20<<10)
	rnd := randomBytes(r, 64<<10)
	rndEdited := append([]byte(nil), rnd...)
	copy(rndEdited[1000:], randomBytes(r, 100))
	rndEdited = append(rndEdited[:30000], append(randomBytes(r, 500), rndEdited[30000:]...)...)
	return []pair{
		{"both empty", nil, nil},
		{"empty old", nil, text},
		{"empty new", text, nil},
		{"identical", text, text},
		{"one byte", []byte("a"), []byte("b")},
		{"tiny text", []byte("hello, world\n"), []byte("hello, brave new world\n")},
		{"small text with edits", text[:4096], mutate(r, text[:4096], 4)},
		{"text with edits", text, mutate(r, text, 20)},
		{"random edited", rnd, rndEdited},
		{"random unrelated", randomBytes(r, 4096), randomBytes(r, 5000)},
		{"zeros", make([]byte, 10000), make([]byte, 12000)},
		{"js 300k", js, mutate(r, js, 60)},
	}
}
