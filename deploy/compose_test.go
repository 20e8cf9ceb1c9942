package deploy

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// loadCompose is `docker compose -f FILE config` through compose-go, the
// library Docker Compose itself loads files with: schema validation,
// interpolation (with env), extends and anchors, then the model.
func loadCompose(t *testing.T, file string, env map[string]string) *types.Project {
	t.Helper()
	var environ []string
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}
	opts, err := cli.NewProjectOptions([]string{filepath.Join("..", "docker", file)},
		cli.WithName("fechatter"), cli.WithEnv(environ), cli.WithInterpolation(true), cli.WithResolvedPaths(true))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return p
}

// dotEnvExample reads docker/.env.example as Compose would read docker/.env.
func dotEnvExample(t *testing.T) map[string]string {
	t.Helper()
	raw, err := os.ReadFile("../docker/.env.example")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, l := range strings.Split(string(raw), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			t.Fatalf(".env.example: %q", l)
		}
		env[k] = v
	}
	return env
}

// The owner's sizing: CPUs and memory limits per service.
var ownerLimits = map[string]struct {
	cpus float32
	mem  types.UnitBytes
}{
	"postgres":    {1, 4 << 30},
	"nats":        {0.5, 1 << 30},
	"meilisearch": {0.5, 2 << 30},
	"fechatter":   {1, 2 << 30},
}

func checkLimits(t *testing.T, p *types.Project) {
	t.Helper()
	for name, s := range p.Services {
		if s.Deploy == nil || s.Deploy.Resources.Limits == nil || s.Deploy.Resources.Limits.NanoCPUs <= 0 || s.Deploy.Resources.Limits.MemoryBytes <= 0 {
			t.Errorf("%s: no cpu and memory limits", name)
			continue
		}
		key := name
		if strings.HasPrefix(name, "fechatter") {
			key = "fechatter"
		}
		if want, ok := ownerLimits[key]; ok {
			l := s.Deploy.Resources.Limits
			if float32(l.NanoCPUs) != want.cpus || l.MemoryBytes != want.mem {
				t.Errorf("%s: limits %v cpus, %d bytes; the owner's sizing is %v, %d", name, l.NanoCPUs, l.MemoryBytes, want.cpus, want.mem)
			}
		}
		if name != "migrate" && (s.HealthCheck == nil || s.HealthCheck.Disable || len(s.HealthCheck.Test) == 0) {
			t.Errorf("%s: no health check", name)
		}
	}
}

func TestComposeQuickStart(t *testing.T) {
	p := loadCompose(t, "docker-compose.yml", nil)
	if len(p.Services) != 4 {
		t.Errorf("services %v", mapsKeys(p.Services))
	}
	checkLimits(t, p)
}

func TestComposeTwoInstances(t *testing.T) {
	// Without the secrets the file refuses to load.
	if _, err := func() (*types.Project, error) {
		opts, err := cli.NewProjectOptions([]string{"../docker/docker-compose.ha.yml"}, cli.WithName("fechatter"), cli.WithEnv(nil))
		if err != nil {
			return nil, err
		}
		return opts.LoadProject(context.Background())
	}(); err == nil || !strings.Contains(err.Error(), "FECHATTER_JWT_SECRET") && !strings.Contains(err.Error(), "POSTGRES_PASSWORD") && !strings.Contains(err.Error(), "MEILI_MASTER_KEY") {
		t.Errorf("loaded without the .env secrets: err = %v", err)
	}

	env := dotEnvExample(t)
	p := loadCompose(t, "docker-compose.ha.yml", env)
	checkLimits(t, p)
	for _, want := range []string{"postgres", "nats", "meilisearch", "migrate", "fechatter-1", "fechatter-2", "proxy", "prometheus", "grafana"} {
		if _, ok := p.Services[want]; !ok {
			t.Errorf("no service %s", want)
		}
	}
	for _, name := range []string{"fechatter-1", "fechatter-2"} {
		s := p.Services[name]
		if got := *s.Environment["FECHATTER_JWT_SECRET"]; got != env["FECHATTER_JWT_SECRET"] {
			t.Errorf("%s: JWT secret %q is not the shared one", name, got)
		}
		if s.DependsOn["migrate"].Condition != types.ServiceConditionCompletedSuccessfully {
			t.Errorf("%s does not wait for the migrations", name)
		}
		if len(s.Ports) != 0 {
			t.Errorf("%s publishes ports %v: clients go through the proxy", name, s.Ports)
		}
	}
	if args := p.Services["migrate"].Command; strings.Join(args, " ") != "migrate up" {
		t.Errorf("migrate runs %v", args)
	}
	proxy := p.Services["proxy"]
	if len(proxy.Ports) != 1 || proxy.Ports[0].Target != 80 || proxy.Ports[0].Published != env["FECHATTER_PORT"] {
		t.Errorf("proxy ports %+v", proxy.Ports)
	}

	// nginx passes WebSockets to both instances.
	conf, err := os.ReadFile("../docker/nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"server fechatter-1:8080", "server fechatter-2:8080", "proxy_http_version 1.1;",
		"proxy_set_header Upgrade $http_upgrade;", "proxy_set_header Connection $connection_upgrade;", "proxy_read_timeout 3600s;"} {
		if !strings.Contains(string(conf), want) {
			t.Errorf("nginx.conf lacks %q", want)
		}
	}
	var mounted bool
	for _, v := range proxy.Volumes {
		mounted = mounted || (v.Target == "/etc/nginx/nginx.conf" && filepath.Base(v.Source) == "nginx.conf")
	}
	if !mounted {
		t.Errorf("proxy does not mount nginx.conf: %+v", proxy.Volumes)
	}

	// Prometheus scrapes every instance; Grafana gets the dashboard.
	prom, err := os.ReadFile("monitoring/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"fechatter-1", "fechatter-2"} {
		if !strings.Contains(string(prom), `"`+name+`:8080"`) {
			t.Errorf("prometheus.yml does not scrape %s", name)
		}
	}
	for svc, files := range map[string][]string{
		"prometheus": {"prometheus.yml", "alerts.yml"},
		"grafana":    {"datasources.yml", "dashboards.yml", "dashboards"},
	} {
		for _, f := range files {
			found := false
			for _, v := range p.Services[svc].Volumes {
				if filepath.Base(v.Source) == f {
					found = true
					if _, err := os.Stat(v.Source); err != nil {
						t.Errorf("%s mounts %s: %v", svc, v.Source, err)
					}
				}
			}
			if !found {
				t.Errorf("%s does not mount %s", svc, f)
			}
		}
	}
}

func mapsKeys[M ~map[K]V, K comparable, V any](m M) []K {
	var out []K
	for k := range m {
		out = append(out, k)
	}
	return out
}
