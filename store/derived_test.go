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
	obj, err := s.PutDerived(ctx, DerivedZip, src, zip)
	if err != nil || obj != manifest.Sum(zip) {
		t.Fatalf("PutDerived = %s, %v", obj, err)
	}
	if err := s.PutDerivedNone(ctx, DerivedBrotli, other); err != nil {
		t.Fatal(err)
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
	if _, err := s.PutDerived(ctx, "x/", src, zip); !errors.Is(err, ErrInvalid) {
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
	keptObj, err := s.PutDerived(ctx, DerivedZip, kept, []byte("zip of kept"))
	if err != nil {
		t.Fatal(err)
	}
	droppedObj, err := s.PutDerived(ctx, DerivedBrotli, dropped, []byte("brotli of dropped"))
	if err != nil {
		t.Fatal(err)
	}
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
	if _, err := s.PutDerived(ctx, DerivedBrotli, dropped, []byte("brotli of dropped")); err != nil {
		t.Fatal(err)
	}
	got, err = s.GetDerived(ctx, DerivedBrotli, []manifest.Digest{dropped})
	if err != nil || !got[0].Known {
		t.Errorf("re-derived: %+v, %v", got, err)
	}
}
