package bench

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/patchwire/patchwire/manifest"
)

// syntheticApp is release rev of a deterministic web app for the load
// benchmark: an index.html, 24 JavaScript chunks (about 1.2 MB in all), a
// stylesheet and a few binary assets. Release 2 edits four chunks.
func syntheticApp(rev int) *Version {
	files := map[string][]byte{}
	r := rand.New(rand.NewPCG(7, 7))
	words := strings.Fields("const let function return if else for while import export default async await new this null true false " +
		"render state props value index length push map filter reduce console log error window document element style")
	js := func(r *rand.Rand, n int) []byte {
		var b strings.Builder
		for b.Len() < n {
			fmt.Fprintf(&b, "%s %s_%d(%d);", words[r.IntN(len(words))], words[r.IntN(len(words))], r.IntN(500), r.IntN(1<<16))
			if r.IntN(8) == 0 {
				b.WriteByte('\n')
			}
		}
		return []byte(b.String())
	}
	for i := range 24 {
		data := js(r, 10_000+r.IntN(90_000))
		if rev > 1 && i%6 == 0 {
			er := rand.New(rand.NewPCG(uint64(rev), uint64(i)))
			at := er.IntN(len(data))
			data = append(append(data[:at:at], js(er, 2000)...), data[at:]...)
		}
		files[fmt.Sprintf("assets/chunk%02d.js", i)] = data
	}
	files["assets/index.css"] = js(r, 30_000)
	for i := range 3 {
		b := make([]byte, 20_000)
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		files[fmt.Sprintf("assets/img%d.webp", i)] = b
	}
	files["index.html"] = []byte(fmt.Sprintf("<!doctype html><html><head><script type=\"module\" src=\"/assets/chunk00.js\"></script></head><body>release %d</body></html>\n", rev))
	var es []manifest.Entry
	for p, b := range files {
		es = append(es, manifest.Entry{Path: p, Digest: manifest.Sum(b), Size: int64(len(b))})
	}
	m, err := manifest.New(es, manifest.DefaultLimits())
	if err != nil {
		panic(err) // fixed, valid paths
	}
	return &Version{Name: fmt.Sprintf("1.0.%d", rev-1), Manifest: m, Files: files}
}
