package deploy

import (
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/api/resource"
)

// The dependencies' official charts and operator are not reachable from
// CI, so these tests cannot render them: they check that the values files
// and the CloudNativePG manifests ask for what Fechatter needs (the
// owner's sizing, JetStream on 3 clustered nodes with file storage,
// persistent Meilisearch in production mode) and that they agree with the
// chart's production values (service names, secret names and keys,
// replica counts, connection budget).

const depsDir = "dependencies"

func readYAMLFile(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := yaml.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}

// at walks a decoded YAML document: at(v, "config", "cluster", "replicas").
func at(t *testing.T, v any, path ...string) any {
	t.Helper()
	for i, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%v: not a mapping", path[:i])
		}
		if v, ok = m[k]; !ok {
			t.Fatalf("%v: missing", path[:i+1])
		}
	}
	return v
}

func wantValue(t *testing.T, doc any, want any, path ...string) {
	t.Helper()
	if got := at(t, doc, path...); got != want {
		t.Errorf("%v = %v (%T), want %v", path, got, got, want)
	}
}

func wantQuantity(t *testing.T, doc any, want string, path ...string) {
	t.Helper()
	got := at(t, doc, path...)
	q, err := resource.ParseQuantity(toString(got))
	if err != nil {
		t.Errorf("%v = %v: %v", path, got, err)
		return
	}
	if q.Cmp(resource.MustParse(want)) != 0 {
		t.Errorf("%v = %s, want %s", path, q.String(), want)
	}
}

func toString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int:
		return strconv.Itoa(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return ""
}

func serviceOf(t *testing.T, raw string) (host, port string) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Hostname(), u.Port()
}

func TestNATSValues(t *testing.T) {
	v := readYAMLFile(t, filepath.Join(depsDir, "nats-values.yaml"))
	wantValue(t, v, true, "config", "cluster", "enabled")
	wantValue(t, v, 3, "config", "cluster", "replicas")
	wantValue(t, v, true, "config", "jetstream", "enabled")
	wantValue(t, v, true, "config", "jetstream", "fileStore", "enabled")
	wantValue(t, v, true, "config", "jetstream", "fileStore", "pvc", "enabled")
	wantValue(t, v, false, "config", "jetstream", "memoryStore", "enabled")
	wantQuantity(t, v, "500m", "container", "merge", "resources", "requests", "cpu")
	wantQuantity(t, v, "1Gi", "container", "merge", "resources", "requests", "memory")
	wantQuantity(t, v, "1Gi", "container", "merge", "resources", "limits", "memory")
	wantValue(t, v, true, "podDisruptionBudget", "enabled")

	// The chart's production values: the release "nats" service, and
	// every stream and bucket on each of the 3 nodes.
	prod := valuesFile(t, "values-production.yaml")
	if host, port := serviceOf(t, toString(at(t, prod, "config", "natsUrl"))); host != "nats" || port != "4222" {
		t.Errorf("config.natsUrl names %s:%s, want the nats release's service nats:4222", host, port)
	}
	if r := at(t, prod, "config", "natsReplicas"); toString(r) != "3" {
		t.Errorf("config.natsReplicas = %v, want 3 (the JetStream cluster's size)", r)
	}
	docs, hooks := render(t, prod, "monitoring.coreos.com/v1/ServiceMonitor")
	r := decodeRelease(t, docs, hooks)
	if got := envOf(r.deploy.Spec.Template.Spec.Containers[0])["FECHATTER_NATS_REPLICAS"].Value; got != "3" {
		t.Errorf("FECHATTER_NATS_REPLICAS = %q, want 3", got)
	}
}

func TestMeilisearchValues(t *testing.T) {
	v := readYAMLFile(t, filepath.Join(depsDir, "meilisearch-values.yaml"))
	wantValue(t, v, "production", "environment", "MEILI_ENV")
	wantValue(t, v, true, "persistence", "enabled")
	wantQuantity(t, v, "10Gi", "persistence", "size")
	wantQuantity(t, v, "500m", "resources", "requests", "cpu")
	wantQuantity(t, v, "2Gi", "resources", "requests", "memory")
	wantQuantity(t, v, "2Gi", "resources", "limits", "memory")

	prod := valuesFile(t, "values-production.yaml")
	if host, port := serviceOf(t, toString(at(t, prod, "config", "meiliUrl"))); host != "meilisearch" || port != "7700" {
		t.Errorf("config.meiliUrl names %s:%s, want the meilisearch release's service meilisearch:7700", host, port)
	}
	// The chart reads the key from the secret's MEILI_MASTER_KEY entry.
	secret := toString(at(t, v, "auth", "existingMasterKeySecret"))
	if name, key := at(t, prod, "secrets", "meiliKey", "name"), at(t, prod, "secrets", "meiliKey", "key"); name != secret || key != "MEILI_MASTER_KEY" {
		t.Errorf("secrets.meiliKey = %v/%v, want %s/MEILI_MASTER_KEY", name, key, secret)
	}
}

func TestPostgresCluster(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(depsDir, "postgres-cluster.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]map[string]any{}
	for _, d := range splitYAML(t, string(b)) {
		var doc map[string]any
		if err := yaml.Unmarshal([]byte(d), &doc); err != nil {
			t.Fatal(err)
		}
		if doc["apiVersion"] != "postgresql.cnpg.io/v1" {
			t.Errorf("%v: apiVersion %v, want postgresql.cnpg.io/v1", doc["kind"], doc["apiVersion"])
		}
		kinds[toString(doc["kind"])] = doc
	}
	cluster, backup := kinds["Cluster"], kinds["ScheduledBackup"]
	if cluster == nil || backup == nil {
		t.Fatalf("kinds %v, want a Cluster and a ScheduledBackup", mapsKeys(kinds))
	}
	wantValue(t, cluster, 3, "spec", "instances")
	wantValue(t, cluster, "fechatter", "spec", "bootstrap", "initdb", "database")
	wantQuantity(t, cluster, "1", "spec", "resources", "requests", "cpu")
	wantQuantity(t, cluster, "4Gi", "spec", "resources", "requests", "memory")
	wantQuantity(t, cluster, "50Gi", "spec", "storage", "size")
	name := toString(at(t, cluster, "metadata", "name"))
	wantValue(t, backup, name, "spec", "cluster", "name")
	if at(t, cluster, "spec", "backup", "barmanObjectStore", "destinationPath") == "" {
		t.Error("no backup destination")
	}

	// The operator's application secret is "<cluster>-app" with "uri".
	prod := valuesFile(t, "values-production.yaml")
	if n, k := at(t, prod, "secrets", "databaseUrl", "name"), at(t, prod, "secrets", "databaseUrl", "key"); n != name+"-app" || k != "uri" {
		t.Errorf("secrets.databaseUrl = %v/%v, want %s-app/uri", n, k, name)
	}
	// Every replica the autoscaler may start, and the migration Job, fit in
	// max_connections with the operator's reserve (superuser and
	// replication connections).
	maxConns, err := strconv.Atoi(toString(at(t, cluster, "spec", "postgresql", "parameters", "max_connections")))
	if err != nil {
		t.Fatal(err)
	}
	perReplica, _ := strconv.Atoi(toString(at(t, prod, "config", "databaseMaxOpenConns")))
	replicas, _ := strconv.Atoi(toString(at(t, prod, "autoscaling", "maxReplicas")))
	const reserve = 20
	if need := perReplica*replicas + 2 + reserve; perReplica == 0 || replicas == 0 || need > maxConns {
		t.Errorf("%d replicas x %d connections (+ migration + %d reserved) = %d > max_connections %d",
			replicas, perReplica, reserve, need, maxConns)
	}
}
