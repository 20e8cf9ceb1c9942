// Package configs embeds the configuration profiles (one YAML file per
// profile) so the binary carries them; bootstrap reads them through Profile
// and applies environment overrides on top.
package configs

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

//go:embed *.yaml
var files embed.FS

// Profile returns the YAML of the named profile (configs/<name>.yaml).
func Profile(name string) ([]byte, error) {
	if name == "" || strings.ContainsAny(name, `/\.`) {
		return nil, fmt.Errorf("configs: invalid profile name %q", name)
	}
	b, err := files.ReadFile(name + ".yaml")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("configs: unknown profile %q (known: %s)", name, strings.Join(Profiles(), ", "))
	}
	return b, err
}

// Profiles lists the embedded profile names, sorted.
func Profiles() []string {
	entries, _ := fs.Glob(files, "*.yaml")
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(path.Base(e), ".yaml"))
	}
	slices.Sort(names)
	return names
}
