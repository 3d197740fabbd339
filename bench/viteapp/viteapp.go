// Package viteapp makes deterministic Vite-like web apps and their
// releases, the fixture the native protocol's tests and the patcher's
// benchmarks measure patches on. It is a package of its own because both
// server's tests and server/patcher's benchmarks import it, and neither
// can import the other's test files (nor package bench, which imports the
// server).
package viteapp

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"math/rand"
	"sort"
	"strings"
)

// App is a deterministic Vite-like web app: an index.html, an entry
// chunk that imports every other chunk by its content-hashed name, a
// vendor chunk, route chunks, a stylesheet and binary assets, all named
// assets/<name>-<8 character hash>.<ext> as Vite names them.
type App struct {
	scale  int // bytes multiplier
	r      *rand.Rand
	chunks []viteChunk
	rev    int
}

type viteChunk struct {
	name, ext string
	data      []byte
}

// New makes release 1 of an app of about 40 files whose JavaScript
// adds up to about scale×80 bytes (scale 30000: 2.4 MB).
func New(seed int64, scale int) *App {
	a := &App{scale: scale, r: rand.New(rand.NewSource(seed)), rev: 1}
	add := func(name, ext string, data []byte) {
		a.chunks = append(a.chunks, viteChunk{name, ext, data})
	}
	add("vendor", "js", genJS(a.r, 30*scale))
	add("index", "css", genCSS(a.r, 3*scale))
	routes := []string{"Home", "About", "Settings", "Profile", "Login", "Cart", "Checkout", "Orders",
		"Search", "Product", "Catalog", "Help", "Admin", "Reports", "Chat", "Inbox", "Editor", "Billing",
		"Onboarding", "NotFound", "Map", "Calendar"}
	for _, n := range routes {
		add(n, "js", genJS(a.r, max(3000, scale/4+a.r.Intn(2*scale))))
	}
	add("index", "js", genJS(a.r, 10*scale)) // the entry chunk's own code; Files adds the imports
	for i := 0; i < 6; i++ {
		add(fmt.Sprintf("icon%d", i), "svg", []byte(fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><path d="M%d %d L%d %d Z"/></svg>`, i, i*2, i*3, i*4)))
	}
	for _, n := range []string{"inter-regular", "inter-bold"} {
		add(n, "woff2", randBytes(a.r, scale))
	}
	add("hero", "webp", randBytes(a.r, 2*scale))
	return a
}

// Release moves the app to its next release: edits changed route chunks
// (and the entry and the stylesheet, as a real release does), which
// renames them.
func (a *App) Release(changed int) {
	a.rev++
	var routes []int
	for i, c := range a.chunks {
		if c.ext == "js" && c.name != "vendor" && c.name != "index" {
			routes = append(routes, i)
		}
	}
	a.r.Shuffle(len(routes), func(i, j int) { routes[i], routes[j] = routes[j], routes[i] })
	for _, i := range routes[:min(changed, len(routes))] {
		a.chunks[i].data = mutateJS(a.r, a.chunks[i].data, 1+len(a.chunks[i].data)/500)
	}
	for i := range a.chunks {
		if a.chunks[i].name == "index" {
			a.chunks[i].data = mutateJS(a.r, a.chunks[i].data, 1+len(a.chunks[i].data)/2000)
		}
	}
	if a.rev%4 == 0 { // now and then a dependency update
		a.chunks[0].data = mutateJS(a.r, a.chunks[0].data, 40)
	}
}

// Files returns the current release as path → bytes.
func (a *App) Files() map[string][]byte {
	out := map[string][]byte{}
	names := map[string]string{}
	var entry *viteChunk
	for i := range a.chunks {
		c := &a.chunks[i]
		if c.name == "index" && c.ext == "js" {
			entry = c
			continue
		}
		p := "assets/" + c.name + "-" + viteHash(c.data) + "." + c.ext
		names[c.name+"."+c.ext] = p
		out[p] = c.data
	}
	// The entry chunk: the app's own code plus an import map of every chunk.
	keys := make([]string, 0, len(names))
	for k := range names {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	b.Write(entry.data)
	for _, k := range keys {
		fmt.Fprintf(&b, "const __vite_%s=()=>import(\"./%s\");\n", strings.NewReplacer(".", "_", "-", "_").Replace(k), names[k][len("assets/"):])
	}
	fmt.Fprintf(&b, "console.info(\"app release %d\");\n", a.rev)
	main := "assets/index-" + viteHash(b.Bytes()) + ".js"
	out[main] = b.Bytes()
	out["index.html"] = []byte(fmt.Sprintf(`<!doctype html><html lang="en"><head><meta charset="UTF-8" /><link rel="icon" href="/favicon.ico" />`+
		`<meta name="viewport" content="width=device-width, initial-scale=1.0" /><title>App</title>`+
		`<script type="module" crossorigin src="/%s"></script><link rel="stylesheet" href="/%s"></head>`+
		`<body><div id="app"></div></body></html>`+"\n", main, names["index.css"]))
	out["favicon.ico"] = []byte("\x00\x00\x01\x00favicon")
	out["manifest.webmanifest"] = []byte(`{"name":"App","short_name":"App","start_url":"/","display":"standalone"}`)
	out["robots.txt"] = []byte("User-agent: *\nAllow: /\n")
	return out
}

// viteHash is an 8 character base64url content hash, as Vite names chunks.
func viteHash(b []byte) string {
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(sum[:])[:8]
}

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	r.Read(b)
	return b
}

var jsVocab = func() []string {
	r := rand.New(rand.NewSource(99))
	syl := strings.Fields("ba co de fi gu ha je ki lo mu na pe qi ro su ta ve wi xo yu za an el in on ur st tr pr ch sh th")
	ids := make([]string, 3000)
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
}()

// genJS returns n bytes of minified-JavaScript-like text.
func genJS(r *rand.Rand, n int) []byte {
	z := rand.NewZipf(r, 1.1, 4, uint64(len(jsVocab)-1))
	id := func() string { return jsVocab[z.Uint64()] }
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

func genCSS(r *rand.Rand, n int) []byte {
	var b bytes.Buffer
	for b.Len() < n {
		fmt.Fprintf(&b, ".%s-%s{margin:%dpx;color:#%06x;display:%s}", jsVocab[r.Intn(300)], jsVocab[r.Intn(300)], r.Intn(32), r.Intn(1<<24),
			[]string{"flex", "block", "grid", "none"}[r.Intn(4)])
	}
	return b.Bytes()[:n]
}

// mutateJS edits old in edits scattered places: replacements, insertions
// of new code, deletions, and code moved from elsewhere.
func mutateJS(r *rand.Rand, old []byte, edits int) []byte {
	pos := make([]int, edits)
	for i := range pos {
		pos[i] = r.Intn(len(old) + 1)
	}
	sort.Ints(pos)
	var out bytes.Buffer
	last := 0
	for _, p := range pos {
		if p < last {
			continue
		}
		out.Write(old[last:p])
		last = p
		switch r.Intn(4) {
		case 0:
			n := 1 + r.Intn(32)
			out.Write(genJS(r, n))
			last = min(p+n, len(old))
		case 1:
			out.Write(genJS(r, 1+r.Intn(512)))
		case 2:
			last = min(p+1+r.Intn(256), len(old))
		default:
			src := r.Intn(len(old) + 1)
			out.Write(old[src:min(src+64+r.Intn(1024), len(old))])
		}
	}
	out.Write(old[last:])
	return out.Bytes()
}
