package configs_test

import (
	"slices"
	"testing"

	"github.com/fechatter/fechatter/configs"
)

func TestProfiles(t *testing.T) {
	want := []string{"compose", "local", "production", "test"}
	if got := configs.Profiles(); !slices.Equal(got, want) {
		t.Fatalf("Profiles() = %q, want %q", got, want)
	}
	for _, name := range want {
		if b, err := configs.Profile(name); err != nil || len(b) == 0 {
			t.Errorf("Profile(%q) = %d bytes, %v", name, len(b), err)
		}
	}
	for _, name := range []string{"", "staging", "../go.mod", "local.yaml", "sub/local"} {
		if _, err := configs.Profile(name); err == nil {
			t.Errorf("Profile(%q) succeeded", name)
		}
	}
}
