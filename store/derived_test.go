package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/patchwire/patchwire/manifest"
)

func TestDerivedRoundTrip(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	src := manifest.Sum([]byte("a manifest"))
	other := manifest.Sum([]byte("a file"))
	got, err := s.GetDerived(ctx, DerivedZip, []manifest.Digest{src})
	if err != nil || len(got) != 1 || got[0].Known {
		t.Fatalf("GetDerived before = %+v, %v; want one unknown", got, err)
	}
	zip := compressible(100<<10, "zip")
	objs, err := s.PutDerived(ctx, DerivedZip, []DerivedItem{{Src: src, Raw: zip}})
	if err != nil || len(objs) != 1 || objs[0] != manifest.Sum(zip) {
		t.Fatalf("PutDerived = %v, %v", objs, err)
	}
	obj := objs[0]
	if objs, err := s.PutDerived(ctx, DerivedBrotli, []DerivedItem{{Src: other, None: true}}); err != nil || !objs[0].IsZero() {
		t.Fatalf("PutDerived(None) = %v, %v", objs, err)
	}
	got, err = s.GetDerived(ctx, DerivedZip, []manifest.Digest{src, other})
	if err != nil {
		t.Fatal(err)
	}
	if want := (Derived{Known: true, Object: obj, Size: int64(len(zip))}); got[0] != want || got[1].Known {
		t.Fatalf("GetDerived(zip) = %+v; want [%+v, unknown]", got, want)
	}
	got, err = s.GetDerived(ctx, DerivedBrotli, []manifest.Digest{other, src})
	if err != nil || got[0] != (Derived{Known: true, None: true}) || got[1].Known {
		t.Fatalf("GetDerived(br) = %+v, %v", got, err)
	}
	// The object is served like any other.
	o, err := s.GetObject(ctx, obj)
	if err != nil || string(o.Raw) != string(zip) {
		t.Fatalf("GetObject = %v", err)
	}
	if _, err := s.GetDerived(ctx, "x/", nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("unknown kind: %v, want ErrInvalid", err)
	}
	if _, err := s.PutDerived(ctx, "x/", []DerivedItem{{Src: src, Raw: zip}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("unknown kind: %v, want ErrInvalid", err)
	}
}

// A derived object nobody touches is collected after the grace period and
// then reads as unknown; one touched often enough is kept.
func TestDerivedGC(t *testing.T) {
	opts, c := testOptions(t)
	opts.GCGrace = time.Hour
	s := openStore(t, opts)
	ctx := context.Background()
	if s.DerivedRefresh() != 15*time.Minute {
		t.Fatalf("DerivedRefresh = %v", s.DerivedRefresh())
	}
	kept, dropped := manifest.Sum([]byte("kept")), manifest.Sum([]byte("dropped"))
	put := func(kind DerivedKind, src manifest.Digest, raw string) manifest.Digest {
		t.Helper()
		objs, err := s.PutDerived(ctx, kind, []DerivedItem{{Src: src, Raw: []byte(raw)}})
		if err != nil {
			t.Fatal(err)
		}
		return objs[0]
	}
	keptObj := put(DerivedZip, kept, "zip of kept")
	droppedObj := put(DerivedBrotli, dropped, "brotli of dropped")
	for i := 0; i < 12; i++ { // three hours in steps of a quarter grace
		if _, err := s.CollectGarbage(ctx); err != nil {
			t.Fatal(err)
		}
		missing, err := s.TouchDerived(ctx, []manifest.Digest{keptObj})
		if err != nil || len(missing) != 0 {
			t.Fatalf("TouchDerived = %v, %v", missing, err)
		}
		c.Advance(s.DerivedRefresh())
	}
	if _, err := s.CollectGarbage(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetDerived(ctx, DerivedZip, []manifest.Digest{kept})
	if err != nil || !got[0].Known || got[0].Object != keptObj {
		t.Errorf("touched derived object: %+v, %v; want kept", got, err)
	}
	got, err = s.GetDerived(ctx, DerivedBrotli, []manifest.Digest{dropped})
	if err != nil || got[0].Known {
		t.Errorf("untouched derived object: %+v, %v; want collected", got, err)
	}
	missing, err := s.TouchDerived(ctx, []manifest.Digest{droppedObj, keptObj})
	if err != nil || len(missing) != 1 || missing[0] != droppedObj {
		t.Errorf("TouchDerived = %v, %v; want [%s]", missing, err, droppedObj)
	}
	// Deriving it again works.
	put(DerivedBrotli, dropped, "brotli of dropped")
	got, err = s.GetDerived(ctx, DerivedBrotli, []manifest.Digest{dropped})
	if err != nil || !got[0].Known {
		t.Errorf("re-derived: %+v, %v", got, err)
	}
}

// Many items are written in several transactions; objects already stored
// are kept, limits are enforced before anything is written.
func TestPutDerivedMany(t *testing.T) {
	opts, _ := testOptions(t)
	opts.Limits = manifest.DefaultLimits()
	opts.Limits.MaxFileBytes = 1 << 20
	s := openStore(t, opts)
	ctx := context.Background()
	var items []DerivedItem
	var srcs []manifest.Digest
	for i := 0; i < 300; i++ {
		src := manifest.Sum([]byte{byte(i), byte(i >> 8)})
		srcs = append(srcs, src)
		it := DerivedItem{Src: src, Raw: compressible(20<<10+i, "br")}
		if i%7 == 0 {
			it = DerivedItem{Src: src, None: true}
		}
		if i == 299 {
			it.Raw = compressible(200<<10, "big") // goes to the value log
		}
		items = append(items, it)
	}
	objs, err := s.PutDerived(ctx, DerivedBrotli, items)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.GetDerived(ctx, DerivedBrotli, srcs)
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range got {
		want := Derived{Known: true, None: true}
		if !items[i].None {
			want = Derived{Known: true, Object: objs[i], Size: int64(len(items[i].Raw))}
		}
		if d != want {
			t.Fatalf("item %d: %+v, want %+v", i, d, want)
		}
	}
	n0, d0, _ := s.StateDigest(ctx)
	_, err = s.PutDerived(ctx, DerivedZip, []DerivedItem{{Src: srcs[0], Raw: []byte("ok")}, {Src: srcs[1], Raw: make([]byte, 1<<20+1)}})
	var me *manifest.Error
	if !errors.As(err, &me) || me.Code != manifest.CodeTooLarge {
		t.Errorf("oversized: %v, want CodeTooLarge", err)
	}
	if n, d, _ := s.StateDigest(ctx); n != n0 || d != d0 {
		t.Error("a refused PutDerived wrote something")
	}
}
