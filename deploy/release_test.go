package deploy

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"debug/buildinfo"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// releaseSBOM is the SBOM kind the test asks of deploy/release.sh: make test
// uses buildinfo (SPDX from `go version -m`, nothing to install); make
// release-test sets FECHATTER_RELEASE_SBOM=cyclonedx, what make release
// ships.
func releaseSBOM() string {
	if s := os.Getenv("FECHATTER_RELEASE_SBOM"); s != "" {
		return s
	}
	return "buildinfo"
}

// TestRelease builds the release (both architectures) into a temporary
// directory and checks each binary's architecture, that it is static and
// stamped, that SHA256SUMS verifies every artefact, and the SBOMs.
func TestRelease(t *testing.T) {
	const version, commit = "v9.9.9-releasetest", "0123abc"
	dist := t.TempDir()
	sbom := releaseSBOM()
	cmd := exec.Command("./release.sh", dist, version, commit)
	cmd.Env = append(os.Environ(), "SBOM="+sbom, "SKIP_IMAGE=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("release.sh: %v\n%s", err, out)
	}

	sums := readSums(t, filepath.Join(dist, "SHA256SUMS"))
	sbomExt := map[string]string{"buildinfo": ".spdx", "cyclonedx": ".cdx.json"}[sbom]
	var want []string
	for _, arch := range []string{"amd64", "arm64"} {
		name := fmt.Sprintf("fechatter_%s_linux_%s", version, arch)
		want = append(want, name, name+sbomExt)
		path := filepath.Join(dist, name)
		checkELF(t, path, arch)
		checkBuildInfo(t, path, arch)
		checkStamped(t, path, version, commit)
		checkSBOM(t, path+sbomExt, sbom, version)
		if arch == runtime.GOARCH {
			out, err := exec.Command(path, "version").CombinedOutput()
			if err != nil {
				t.Fatalf("%s version: %v\n%s", name, err, out)
			}
			wantLine := fmt.Sprintf("fechatter %s (commit %s, ", version, commit)
			if !strings.HasPrefix(string(out), wantLine) || !strings.Contains(string(out), "linux/"+arch) {
				t.Errorf("%s version printed %q, want %q... linux/%s", name, out, wantLine, arch)
			}
		}
	}
	if len(sums) != len(want) {
		t.Errorf("SHA256SUMS lists %d files, want %d: %v", len(sums), len(want), sums)
	}
	for _, name := range want {
		sum, ok := sums[name]
		if !ok {
			t.Errorf("SHA256SUMS does not list %s", name)
			continue
		}
		if got := fileSHA256(t, filepath.Join(dist, name)); got != sum {
			t.Errorf("%s: sha256 %s, SHA256SUMS says %s", name, got, sum)
		}
	}
}

// TestReleaseImageCommand: without docker buildx (a docker that knows no
// buildx here) the release says so and prints the two-architecture build
// command instead of failing.
func TestReleaseImageCommand(t *testing.T) {
	dist, bin := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "docker"), []byte("#!/bin/sh\necho \"docker: '$1' is not a docker command.\" >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("./release.sh", dist, "v1.2.3", "abc")
	cmd.Env = append(os.Environ(), "SKIP_BINARIES=1", "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("release.sh image step: %v\n%s", err, out)
	}
	for _, want := range []string{"docker buildx not available", "docker buildx build -f docker/Dockerfile --platform linux/amd64,linux/arm64",
		"--build-arg VERSION=v1.2.3", "-t fechatter:v1.2.3"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("image step printed %q, want it to contain %q", out, want)
		}
	}
}

func readSums(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sums := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok || len(sum) != 64 {
			t.Fatalf("SHA256SUMS line %q is not `<sha256>  <name>`", sc.Text())
		}
		sums[name] = sum
	}
	return sums
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// checkELF: a 64-bit Linux executable of the architecture, statically
// linked (no interpreter, no shared library).
func checkELF(t *testing.T, path, arch string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	machine := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[arch]
	if f.Machine != machine || f.Class != elf.ELFCLASS64 || f.Type != elf.ET_EXEC {
		t.Errorf("%s: ELF %v %v %v, want %v 64-bit executable", filepath.Base(path), f.Machine, f.Class, f.Type, machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s: has a dynamic loader (PT_INTERP), want a static binary", filepath.Base(path))
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("%s: links %v, want none", filepath.Base(path), libs)
	}
}

// checkBuildInfo: built by the release's flags (CGO off, -trimpath) for the
// architecture, from the server's module.
func checkBuildInfo(t *testing.T, path, arch string) {
	t.Helper()
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	if bi.Path != "github.com/fechatter/fechatter" || settings["CGO_ENABLED"] != "0" || settings["-trimpath"] != "true" ||
		settings["GOARCH"] != arch || settings["GOOS"] != "linux" {
		t.Errorf("%s: build info path %s settings %v, want the server built with CGO_ENABLED=0 -trimpath for linux/%s",
			filepath.Base(path), bi.Path, settings, arch)
	}
}

// checkStamped: the version string is in the binary (-trimpath keeps
// -ldflags out of the build info, so look at the bytes; the binary of the
// machine's own architecture also prints it).
func checkStamped(t *testing.T, path, version, commit string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{version, commit} {
		if !bytes.Contains(b, []byte(s)) {
			t.Errorf("%s: %q not stamped in", filepath.Base(path), s)
		}
	}
}

// checkSBOM: the SBOM names the release and the modules linked in.
func checkSBOM(t *testing.T, path, kind, version string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	deps := []string{"github.com/nats-io/nats.go", "github.com/uptrace/bun", "github.com/gofiber/fiber"}
	switch kind {
	case "cyclonedx":
		var bom struct {
			BOMFormat string `json:"bomFormat"`
			Metadata  struct {
				Component struct {
					Name    string `json:"name"`
					Version string `json:"version"`
				} `json:"component"`
			} `json:"metadata"`
			Components []struct {
				Name    string `json:"name"`
				Version string `json:"version"`
				Hashes  []struct {
					Alg string `json:"alg"`
				} `json:"hashes"`
			} `json:"components"`
		}
		if err := json.Unmarshal(b, &bom); err != nil {
			t.Fatalf("%s: %v", filepath.Base(path), err)
		}
		if bom.BOMFormat != "CycloneDX" || bom.Metadata.Component.Name != "github.com/fechatter/fechatter" ||
			bom.Metadata.Component.Version != version {
			t.Errorf("%s: format %q component %q %q, want CycloneDX for github.com/fechatter/fechatter %s", filepath.Base(path),
				bom.BOMFormat, bom.Metadata.Component.Name, bom.Metadata.Component.Version, version)
		}
		names := map[string]bool{}
		for _, c := range bom.Components {
			names[c.Name] = c.Version != ""
		}
		for _, d := range deps {
			found := false
			for n, versioned := range names {
				found = found || (strings.HasPrefix(n, d) && versioned)
			}
			if !found {
				t.Errorf("%s: no versioned component %s", filepath.Base(path), d)
			}
		}
	case "buildinfo":
		s := string(b)
		if !strings.HasPrefix(s, "SPDXVersion: SPDX-2.3\n") || !strings.Contains(s, "PackageName: github.com/fechatter/fechatter\n") {
			t.Errorf("%s: not an SPDX document of the server:\n%.400s", filepath.Base(path), s)
		}
		for _, d := range deps {
			if !strings.Contains(s, "PackageName: "+d) {
				t.Errorf("%s: no package %s", filepath.Base(path), d)
			}
		}
	default:
		t.Fatalf("FECHATTER_RELEASE_SBOM=%q: want buildinfo or cyclonedx", kind)
	}
}
