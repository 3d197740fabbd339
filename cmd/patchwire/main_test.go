package main

import (
	"os"
	"testing"

	"github.com/patchwire/patchwire/store/pgtest"
)

// TestMain stops the PostgreSQL server of store/pgtest, if a test started
// one, after the tests.
func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }
