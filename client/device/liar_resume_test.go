package device_test

import (
	"bytes"
	"maps"
	mrand "math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/step"
)

// TestLiarResumeOrStep: a device cut while fetching the whole objects of a
// draft step (the answer right after a publish) checks again and is
// offered the step with the bundle patch. It finishes the objects when
// what is left of them costs fewer bytes than the new step, and takes the
// step when the step costs fewer, whatever it received before.
func TestLiarResumeOrStep(t *testing.T) {
	const size = 300_000
	random := make([]byte, size)
	r := mrand.New(mrand.NewPCG(7, 7))
	for i := range random {
		random[i] = byte(r.Uint32())
	}
	text := bytes.Repeat([]byte("export const patchwire = 'delta';\n"), size/34+1)[:size]
	for _, tc := range []struct {
		name      string
		blob      []byte
		cut       int
		wantSteps bool // the device takes the new step
	}{
		{"most of an incompressible file received: finish it", random, 250_000, false},
		{"little of a compressible file received: take the patch", text, 30_000, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v1 := fixture(t, "v1", "1.0.0")
			files := maps.Clone(v1.files)
			files["media/blob.js"] = tc.blob
			v2 := newBundle(t, "1.0.1", files)
			l := newLiar(t)
			l.add(v1)
			dir := seeded(t, v1)
			cfg := l.config()
			cfg.Retries = 1
			cfg.NoCompression = true
			blobURL := "/o/" + manifest.Sum(tc.blob).String()

			// 1. The draft: the new file whole, cut after tc.cut bytes.
			l.lie(func(l *liar) {
				l.stepHook = func(s *step.Step) {
					for i, w := range s.Writes {
						if w.Path == "media/blob.js" {
							s.Writes[i] = step.Write{Path: w.Path, Kind: step.Object, Size: w.Size, Digest: manifest.Sum(tc.blob), Base: step.NoBase}
						}
					}
					s.Codec, s.Patch = "", nil
				}
				l.objectLie = func(w http.ResponseWriter, r *http.Request, body []byte) bool {
					return r.URL.Path == blobURL && cutAfter(tc.cut)(w, r, body)
				}
			})
			l.serve(v2)
			if _, err := update(t, dir, cfg); err == nil {
				t.Fatal("cut update succeeded")
			}
			assertRunning(t, dir, v1)

			// 2. The made step: the new file in the bundle patch.
			l.lie(func(l *liar) { l.stepHook, l.objectLie, l.requests, l.ranges = nil, nil, nil, nil })
			l.serve(v2)
			res := mustUpdate(t, dir, cfg, v2)
			reqs := l.objectRequests()
			tookStep := slices.Contains(reqs, l.stepURL())
			finished := slices.Contains(reqs, "/m/"+v2.m.Digest().String()) && slices.Contains(reqs, blobURL)
			t.Logf("step %d bytes; requests %s; downloaded %d, resumed %d", res.StepBytes, strings.Join(reqs, " "), res.DownloadedBytes, res.ResumedBytes)
			if tookStep != tc.wantSteps || finished == tc.wantSteps {
				t.Fatalf("took the step %v, finished the objects %v; want the step %v", tookStep, finished, tc.wantSteps)
			}
			if !tc.wantSteps && res.ResumedBytes < int64(tc.cut) {
				t.Errorf("resumed %d bytes, want the %d received before", res.ResumedBytes, tc.cut)
			}
		})
	}
}
