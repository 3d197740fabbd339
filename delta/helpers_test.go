package delta

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
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

// jsIdents is a fixed vocabulary of 4000 made-up camelCase identifiers,
// used with a Zipf distribution as minifiers' and authors' names are.
var jsIdents = sync.OnceValue(func() []string {
	r := rand.New(rand.NewSource(0))
	syl := strings.Fields("ba co de fi gu ha je ki lo mu na pe qi ro su ta ve wi xo yu za an el in on ur st tr pr ch sh th")
	ids := make([]string, 4000)
	for i := range ids {
		var b strings.Builder
		for k := 1 + r.Intn(3); k > 0; k-- {
			s := syl[r.Intn(len(syl))]
			if b.Len() > 0 && r.Intn(2) == 0 {
				s = strings.ToUpper(s[:1]) + s[1:]
			}
			b.WriteString(s)
		}
		ids[i] = b.String()
	}
	return ids
})

// genJS returns n bytes of deterministic, minified-JavaScript-like text:
// short functions over keywords and Zipf-distributed identifiers, with
// varying numbers and strings. zstd -19 compresses it about 5×, and
// `zstd --patch-from` finds it neither much easier nor harder than real
// bundles.
func genJS(r *rand.Rand, n int) []byte {
	ids := jsIdents()
	z := rand.NewZipf(r, 1.1, 4, uint64(len(ids)-1))
	id := func() string {
		if r.Intn(4) == 0 {
			return jsWords[r.Intn(len(jsWords))]
		}
		return ids[z.Uint64()]
	}
	var b bytes.Buffer
	b.Grow(n + 256)
	for b.Len() < n {
		fmt.Fprintf(&b, "function %s(e,t,n){", id())
		for k := 1 + r.Intn(6); k > 0; k-- {
			switch r.Intn(5) {
			case 0:
				fmt.Fprintf(&b, "const %s=e.%s(t,%d);", id(), id(), r.Intn(1000))
			case 1:
				fmt.Fprintf(&b, "if(%s.%s===%q)return n;", id(), id(), id())
			case 2:
				fmt.Fprintf(&b, "for(let i=0;i<t.length;i++){n.push(t[i].%s)}", id())
			case 3:
				fmt.Fprintf(&b, "console.log(\"%s %s\",%d);", id(), id(), r.Intn(1<<20))
			default:
				fmt.Fprintf(&b, "return %s(%s,{%s:%d});", id(), id(), id(), r.Intn(100))
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
