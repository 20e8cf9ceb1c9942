package bootstrap

import (
	"net"
	"net/url"
	"os"
	"regexp"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestComposeFileMatchesComposeProfile checks docker/docker-compose.yml
// against configs/compose.yaml: the server's environment (with the file's
// ${VAR:-default} defaults) loads and validates, and every URL names a
// service of the file that the server waits for until it is healthy.
func TestComposeFileMatchesComposeProfile(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../docker/docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Services map[string]struct {
			Environment map[string]string `yaml:"environment"`
			DependsOn   map[string]struct {
				Condition string `yaml:"condition"`
			} `yaml:"depends_on"`
			Healthcheck *struct {
				Test []string `yaml:"test"`
			} `yaml:"healthcheck"`
			Ports []string `yaml:"ports"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	server, ok := file.Services["fechatter"]
	if !ok {
		t.Fatal("no fechatter service")
	}
	if server.Environment["FECHATTER_PROFILE"] != ProfileCompose {
		t.Errorf("FECHATTER_PROFILE = %q, want compose", server.Environment["FECHATTER_PROFILE"])
	}

	defaults := regexp.MustCompile(`\$\{[A-Z_]+:-([^}]*)\}`)
	env := environ("FECHATTER_DATA_DIR=" + t.TempDir())
	for k, v := range server.Environment {
		if k != "FECHATTER_DATA_DIR" {
			env = append(env, k+"="+defaults.ReplaceAllString(v, "$1"))
		}
	}
	cfg := mustLoad(t, LoadOptions{Environ: env})
	if cfg.Profile != ProfileCompose {
		t.Fatalf("profile = %q", cfg.Profile)
	}

	for _, raw := range []string{cfg.Database.URL, cfg.NATS.URL, cfg.Search.MeiliURL} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		svc, ok := file.Services[u.Hostname()]
		if !ok {
			t.Errorf("%s: no service %q in the compose file", redactURL(raw), u.Hostname())
			continue
		}
		if svc.Healthcheck == nil || len(svc.Healthcheck.Test) == 0 {
			t.Errorf("service %s has no healthcheck", u.Hostname())
		}
		if server.DependsOn[u.Hostname()].Condition != "service_healthy" {
			t.Errorf("fechatter does not wait for %s to be healthy", u.Hostname())
		}
	}

	_, port, _ := net.SplitHostPort(cfg.HTTP.Addr)
	if len(server.Ports) != 1 || server.Ports[0] != port+":"+port {
		t.Errorf("ports = %q, want %s:%s (http.addr %s)", server.Ports, port, port, cfg.HTTP.Addr)
	}
}
