package device_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/patchwire/patchwire/manifest"
)

// viteBuild returns release rev of a deterministic Vite-style web app: an
// index.html, an entry chunk importing every other chunk by its
// content-hashed name, a vendor chunk, route chunks, a stylesheet and
// fonts, named assets/<name>-<8 hex>.<ext>. From one release to the next
// every chunk changes a little (a build stamp and a few edited
// functions), so every chunk's name changes; the fonts do not.
func viteBuild(rev int) map[string][]byte {
	files := map[string][]byte{}
	name := func(base, ext string, data []byte) string {
		return fmt.Sprintf("assets/%s-%s.%s", base, manifest.Sum(data).String()[:8], ext)
	}
	type chunk struct {
		base string
		size int
	}
	chunks := []chunk{{"vendor", 260_000}}
	for i, r := range []string{"Home", "About", "Settings", "Profile", "Login", "Cart", "Checkout", "Orders", "Search", "Help"} {
		chunks = append(chunks, chunk{r, 12_000 + 3_000*i})
	}
	var imports []string
	for i, c := range chunks {
		data := viteJS(uint64(i+1), c.size, rev)
		n := name(c.base, "js", data)
		files[n] = data
		imports = append(imports, n)
	}
	css := viteCSS(rev)
	cssName := name("index", "css", css)
	files[cssName] = css
	var entry bytes.Buffer
	for i, n := range imports {
		fmt.Fprintf(&entry, "import * as m%d from \"./%s\";\n", i, strings.TrimPrefix(n, "assets/"))
	}
	entry.Write(viteJS(99, 40_000, rev))
	entryName := name("index", "js", entry.Bytes())
	files[entryName] = entry.Bytes()
	for i, f := range []string{"inter-regular", "inter-bold"} {
		r := rand.New(rand.NewPCG(uint64(50+i), 7))
		font := make([]byte, 30_000)
		for j := range font {
			font[j] = byte(r.Uint32())
		}
		files[name(f, "woff2", font)] = font
	}
	files["index.html"] = []byte(fmt.Sprintf(`<!doctype html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="/%s"><script type="module" src="/%s"></script></head>
<body><div id="app"></div></body></html>
`, cssName, entryName))
	return files
}

var jsWords = strings.Fields(`render state props effect memo ref context reducer dispatch store router
route params query mutation cache client fetch response request headers body json text value
options config settings theme color size width height style class element node parent child
children key index items list map filter reduce find some every push pop shift slice splice
concat join split trim replace match test exec then catch finally resolve reject promise async`)

// viteJS is size bytes of minified-looking JavaScript; rev > 1 stamps
// the build and edits a few functions.
func viteJS(seed uint64, size, rev int) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	id := func() string { return jsWords[r.IntN(len(jsWords))] + fmt.Sprint(r.IntN(40)) }
	var b bytes.Buffer
	edit := rand.New(rand.NewPCG(seed, uint64(rev)))
	fmt.Fprintf(&b, "const __BUILD__=%q;\n", fmt.Sprintf("rev-%d", rev))
	for fn := 0; b.Len() < size; fn++ {
		changed := rev > 1 && edit.IntN(40) == 0
		fmt.Fprintf(&b, "function %s(e,t,n){", id())
		for k := 1 + r.IntN(6); k > 0; k-- {
			a, c, d := id(), id(), r.IntN(1000)
			if changed {
				d += 1000 * rev
			}
			switch r.IntN(4) {
			case 0:
				fmt.Fprintf(&b, "const %s=e.%s(t,%d);", a, c, d)
			case 1:
				fmt.Fprintf(&b, "if(%s.%s===%d)return n;", a, c, d)
			case 2:
				fmt.Fprintf(&b, "for(let i=0;i<t.length;i++){n.push(t[i].%s%d)}", a, d)
			default:
				fmt.Fprintf(&b, "return %s(%s,{v:%d});", a, c, d)
			}
		}
		b.WriteString("}\n")
	}
	return b.Bytes()
}

func viteCSS(rev int) []byte {
	r := rand.New(rand.NewPCG(77, 1))
	var b bytes.Buffer
	fmt.Fprintf(&b, "/* rev %d */\n", rev)
	for i := 0; b.Len() < 25_000; i++ {
		margin := r.IntN(32)
		if rev > 1 && i%50 == 0 {
			margin += rev
		}
		fmt.Fprintf(&b, ".%s-%d{margin:%dpx;color:#%06x}\n", jsWords[r.IntN(len(jsWords))], i, margin, r.IntN(1<<24))
	}
	return b.Bytes()
}
