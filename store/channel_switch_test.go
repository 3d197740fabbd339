package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/patchwire/patchwire/api"
)

// TestStageAndCompleteSwitch: a staged change keeps the channel serving
// what it served until CompleteSwitch, which switches it in one step
// (issue 8 item 1).
func TestStageAndCompleteSwitch(t *testing.T) {
	s := channelStore(t, "1.0.0", "1.1.0", "1.2.0")
	ctx := context.Background()
	if _, err := s.CreateChannel(ctx, defaults("prod", "1.0.0")); err != nil {
		t.Fatal(err)
	}
	since := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	setTo := func(v string) func(*api.Channel) error {
		return func(c *api.Channel) error { c.Bundle = v; return nil }
	}
	ch, err := s.StageChannel(ctx, "app", "prod", "set", since, since.Add(time.Minute), func(c *api.Channel) error {
		c.Bundle, c.Policy = "1.1.0", PolicyMinor
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if ch.Bundle != "1.0.0" || ch.Sequence != 1 || ch.Policy != PolicyMinor || ch.Pending == nil ||
		ch.Pending.Bundle != "1.1.0" || ch.Pending.Action != "set" || !ch.Pending.Since.Equal(since) {
		t.Fatalf("staged: %+v %+v", ch, ch.Pending)
	}
	hist, _ := s.ChannelHistory(ctx, "app", "prod")
	if len(hist) != 2 || hist[1].Action != "update" || hist[1].Bundle != "1.0.0" || hist[1].Detail != "policy minor" {
		t.Fatalf("history after staging: %+v", hist)
	}
	// Snapshots (what devices are decided on) serve the old bundle.
	as, err := s.Snapshot(ctx, "app", "")
	if err != nil || as.Channels[0].Bundle != "1.0.0" {
		t.Fatalf("snapshot while pending: %+v, %v", as.Channels, err)
	}
	// The bundle a switch is pending for cannot be deleted.
	if err := s.DeleteBundle(ctx, "app", "1.1.0"); !errors.Is(err, ErrBundleInUse) {
		t.Fatalf("delete of the pending bundle: %v", err)
	}
	// Progress: only for this switch.
	if err := s.SetSwitchProgress(ctx, "app", "prod", since.Add(time.Second), 1, 2); err != nil {
		t.Fatal(err)
	}
	if err := s.SetSwitchProgress(ctx, "app", "prod", since, 2, 3); err != nil {
		t.Fatal(err)
	}
	got, _ := s.GetChannel(ctx, "app", "prod")
	if got.Pending.BasesDone != 2 || got.Pending.BasesTotal != 3 || !got.UpdatedAt.Equal(ch.UpdatedAt) {
		t.Fatalf("progress: %+v", got.Pending)
	}
	list, err := s.PendingSwitches(ctx)
	if err != nil || len(list) != 1 || list[0].App != "app" || list[0].Name != "prod" {
		t.Fatalf("pending switches: %+v, %v", list, err)
	}
	// Another switch's name does nothing; this one switches.
	if _, done, err := s.CompleteSwitch(ctx, "app", "prod", since.Add(time.Second)); done || err != nil {
		t.Fatalf("complete another switch: %v %v", done, err)
	}
	ch, done, err := s.CompleteSwitch(ctx, "app", "prod", since)
	if err != nil || !done || ch.Bundle != "1.1.0" || ch.Pending != nil || ch.Sequence != 2 || ch.Policy != PolicyMinor {
		t.Fatalf("complete: %+v %v %v", ch, done, err)
	}
	hist, _ = s.ChannelHistory(ctx, "app", "prod")
	if last := hist[len(hist)-1]; last.Action != "set" || last.Bundle != "1.1.0" || last.Previous != "1.0.0" {
		t.Fatalf("history after the switch: %+v", hist)
	}
	if _, done, _ := s.CompleteSwitch(ctx, "app", "prod", since); done {
		t.Fatal("a switch was made twice")
	}
	if list, _ := s.PendingSwitches(ctx); len(list) != 0 {
		t.Fatalf("pending after the switch: %+v", list)
	}

	// A change that serves what the channel serves drops a pending switch.
	if _, err := s.StageChannel(ctx, "app", "prod", "set", since, since, setTo("1.2.0")); err != nil {
		t.Fatal(err)
	}
	ch, err = s.StageChannel(ctx, "app", "prod", "set", since.Add(time.Hour), since.Add(time.Hour), setTo("1.1.0"))
	if err != nil || ch.Pending != nil || ch.Bundle != "1.1.0" || ch.Sequence != 2 {
		t.Fatalf("same bundle: %+v, %v", ch, err)
	}
	// So does an immediate change of what it serves (rollback).
	if _, err := s.StageChannel(ctx, "app", "prod", "set", since, since, setTo("1.2.0")); err != nil {
		t.Fatal(err)
	}
	if ch, err = s.RollbackChannel(ctx, "app", "prod"); err != nil || ch.Bundle != "1.0.0" || ch.Pending != nil {
		t.Fatalf("rollback while pending: %+v, %v", ch, err)
	}
	if _, done, err := s.CompleteSwitch(ctx, "app", "prod", since); done || err != nil {
		t.Fatalf("complete a dropped switch: %v %v", done, err)
	}
	// A rollout staged keeps the current rollout until the switch.
	ch, err = s.StageChannel(ctx, "app", "prod", "rollout", since, since, func(c *api.Channel) error {
		c.Rollout = &api.Rollout{Bundle: "1.2.0", BasisPoints: 500}
		return nil
	})
	if err != nil || ch.Rollout != nil || ch.Pending.Rollout == nil || ch.Pending.Rollout.ID == "" || ch.Pending.Bundle != "1.0.0" {
		t.Fatalf("staged rollout: %+v, %v", ch, err)
	}
	if ch, done, err = s.CompleteSwitch(ctx, "app", "prod", since); err != nil || !done || ch.Rollout == nil || ch.Rollout.BasisPoints != 500 {
		t.Fatalf("rollout switch: %+v, %v", ch, err)
	}
	// Refusals change nothing.
	before := digestOf(t, s)
	for name, fn := range map[string]func(*api.Channel) error{
		"missing bundle": setTo("9.9.9"),
		"bad policy":     func(c *api.Channel) error { c.Bundle, c.Policy = "1.2.0", "sometimes"; return nil },
		"fn error":       func(*api.Channel) error { return ErrInvalid },
	} {
		if _, err := s.StageChannel(ctx, "app", "prod", "set", since, since, fn); err == nil {
			t.Errorf("%s: staged", name)
		}
	}
	if _, err := s.StageChannel(ctx, "app", "nope", "set", since, since, setTo("1.2.0")); !errors.Is(err, ErrChannelNotFound) {
		t.Errorf("unknown channel: %v", err)
	}
	if digestOf(t, s) != before {
		t.Fatal("a refused staging changed the store")
	}
}

// TestCreateChannelPending: a channel created with a pending switch serves
// nothing until it completes; the pending bundle must exist.
func TestCreateChannelPending(t *testing.T) {
	s := channelStore(t, "1.0.0")
	ctx := context.Background()
	since := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	c := defaults("prod", "")
	c.Pending = &api.PendingSwitch{Action: "set", Bundle: "2.0.0", Since: since, Deadline: since}
	if _, err := s.CreateChannel(ctx, c); !errors.Is(err, ErrBundleNotFound) {
		t.Fatalf("pending a missing bundle: %v", err)
	}
	c.Pending.Bundle = "1.0.0"
	ch, err := s.CreateChannel(ctx, c)
	if err != nil || ch.Bundle != "" || ch.Pending == nil {
		t.Fatalf("create: %+v, %v", ch, err)
	}
	if ch, done, err := s.CompleteSwitch(ctx, "app", "prod", since); err != nil || !done || ch.Bundle != "1.0.0" || ch.Sequence != 2 {
		t.Fatalf("complete: %+v, %v", ch, err)
	}
}

// TestMarkBuiltin: the builtin marker on a bundle record (issue 8 item 2).
func TestMarkBuiltin(t *testing.T) {
	s := channelStore(t, "1.4.0-builtin")
	ctx := context.Background()
	before := digestOf(t, s)
	for _, c := range []struct {
		version, native string
		err             error
	}{
		{"1.4.0-builtin", "", ErrInvalid},
		{"1.4.0-builtin", "1.4 beta", ErrInvalid},
		{"1.4.0-builtin", string(make([]byte, 65)), ErrInvalid},
		{"9.9.9", "1.4", ErrNotFound},
	} {
		if _, err := s.MarkBuiltin(ctx, "app", c.version, c.native); !errors.Is(err, c.err) {
			t.Errorf("%q %q: %v, want %v", c.version, c.native, err, c.err)
		}
	}
	if digestOf(t, s) != before {
		t.Fatal("a refused mark changed the store")
	}
	b, err := s.MarkBuiltin(ctx, "app", "1.4.0-builtin", "1.4.0+7")
	if err != nil || !b.Builtin || b.NativeVersion != "1.4.0+7" {
		t.Fatalf("mark: %+v, %v", b, err)
	}
	as, err := s.Snapshot(ctx, "app", "")
	if err != nil || !as.Bundles["1.4.0-builtin"].Builtin || as.Bundles["1.4.0-builtin"].NativeVersion != "1.4.0+7" {
		t.Fatalf("snapshot: %+v, %v", as.Bundles, err)
	}
	list, err := s.ListBundles(ctx, "app")
	if err != nil || !list[0].Builtin {
		t.Fatalf("list: %+v", list)
	}
}
