package deploy

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"go.yaml.in/yaml/v3"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/release"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
)

const chartDir = "helm/fechatter"

// kubeVersion is the cluster version the chart is rendered for (the chart
// asks for 1.29 or later; preStop sleep needs 1.30's default).
const kubeVersion = "v1.33.0"

// strictDecoder decodes YAML manifests into the official API types and
// fails on unknown or duplicated fields.
func strictDecoder(t *testing.T) runtime.Decoder {
	t.Helper()
	s := runtime.NewScheme()
	if err := scheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := monitoringv1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return serializer.NewCodecFactory(s, serializer.EnableStrict).UniversalDeserializer()
}

func valuesFile(t *testing.T, name string) map[string]any {
	t.Helper()
	if name == "" {
		return map[string]any{}
	}
	v, err := chartutil.ReadValuesFile(filepath.Join(chartDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestHelmLint is `helm lint --strict [-f values]`: the chart and each
// values file.
func TestHelmLint(t *testing.T) {
	for _, vf := range []string{"", "values-production.yaml"} {
		t.Run("values="+vf, func(t *testing.T) {
			kv, err := chartutil.ParseKubeVersion(kubeVersion)
			if err != nil {
				t.Fatal(err)
			}
			lint := action.NewLint()
			lint.Strict = true
			lint.Namespace = "chat"
			lint.KubeVersion = kv
			res := lint.Run([]string{chartDir}, valuesFile(t, vf))
			for _, m := range res.Messages {
				t.Logf("lint: %s", m)
			}
			if len(res.Errors) > 0 || action.HasWarningsOrErrors(res) {
				t.Fatalf("helm lint: %v", res.Errors)
			}
		})
	}
}

// render is `helm template` (client only, no cluster): the release's
// manifests and hooks, split into documents.
func render(t *testing.T, vals map[string]any, apiVersions ...string) (docs []string, hooks []*release.Hook) {
	t.Helper()
	chrt, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := chartutil.ParseKubeVersion(kubeVersion)
	if err != nil {
		t.Fatal(err)
	}
	install := action.NewInstall(&action.Configuration{})
	install.DryRun = true
	install.ClientOnly = true
	install.Replace = true
	install.ReleaseName = "fechatter"
	install.Namespace = "chat"
	install.KubeVersion = kv
	install.APIVersions = apiVersions
	rel, err := install.Run(chrt, vals)
	if err != nil {
		t.Fatalf("helm template: %v", err)
	}
	for _, d := range splitYAML(t, rel.Manifest) {
		docs = append(docs, d)
	}
	return docs, rel.Hooks
}

func splitYAML(t *testing.T, s string) []string {
	t.Helper()
	var out []string
	r := utilyaml.NewYAMLReader(bufioReader(s))
	for {
		doc, err := r.Read()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(bytes.TrimSpace(stripComments(doc))) > 0 {
			out = append(out, string(doc))
		}
	}
}

func stripComments(b []byte) []byte {
	var keep [][]byte
	for _, l := range bytes.Split(b, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(l), []byte("#")) {
			keep = append(keep, l)
		}
	}
	return bytes.Join(keep, []byte("\n"))
}

// rendered is one release, decoded.
type rendered struct {
	deploy    *appsv1.Deployment
	service   *corev1.Service
	sa        *corev1.ServiceAccount
	ingress   *networkingv1.Ingress
	pdb       *policyv1.PodDisruptionBudget
	hpa       *autoscalingv2.HorizontalPodAutoscaler
	monitor   *monitoringv1.ServiceMonitor
	migrate   *batchv1.Job
	migrateHk *release.Hook
	kinds     []string
}

// decodeRelease decodes every manifest and hook strictly; any unknown
// field, kind or version fails the test.
func decodeRelease(t *testing.T, docs []string, hooks []*release.Hook) rendered {
	t.Helper()
	dec := strictDecoder(t)
	var r rendered
	decode := func(src string) runtime.Object {
		obj, gvk, err := dec.Decode([]byte(src), nil, nil)
		if err != nil {
			t.Fatalf("strict decode: %v\n---\n%s", err, src)
		}
		r.kinds = append(r.kinds, gvk.Kind)
		return obj
	}
	for _, d := range docs {
		switch o := decode(d).(type) {
		case *appsv1.Deployment:
			r.deploy = o
		case *corev1.Service:
			r.service = o
		case *corev1.ServiceAccount:
			r.sa = o
		case *networkingv1.Ingress:
			r.ingress = o
		case *policyv1.PodDisruptionBudget:
			r.pdb = o
		case *autoscalingv2.HorizontalPodAutoscaler:
			r.hpa = o
		case *monitoringv1.ServiceMonitor:
			r.monitor = o
		default:
			t.Fatalf("unexpected object %T", o)
		}
	}
	for _, h := range hooks {
		for _, d := range splitYAML(t, h.Manifest) {
			job, ok := decode(d).(*batchv1.Job)
			if !ok {
				t.Fatalf("hook %s is not a Job", h.Name)
			}
			r.migrate, r.migrateHk = job, h
		}
	}
	return r
}

func TestHelmTemplateDefaults(t *testing.T) {
	docs, hooks := render(t, valuesFile(t, ""))
	r := decodeRelease(t, docs, hooks)
	if r.deploy == nil || r.service == nil || r.sa == nil || r.pdb == nil || r.migrate == nil {
		t.Fatalf("rendered %v: want a Deployment, Service, ServiceAccount, PodDisruptionBudget and the migration Job", r.kinds)
	}
	if r.ingress != nil || r.hpa != nil {
		t.Errorf("ingress and autoscaling are off by default; rendered %v", r.kinds)
	}
	if r.monitor != nil {
		t.Error("ServiceMonitor rendered on a cluster without its CRD")
	}
	if got := *r.deploy.Spec.Replicas; got != 2 {
		t.Errorf("replicas = %d, want 2", got)
	}
	checkServer(t, r)
	checkMigrationJob(t, r)

	// The same release on a cluster with the Prometheus Operator.
	docs, hooks = render(t, valuesFile(t, ""), "monitoring.coreos.com/v1/ServiceMonitor")
	r = decodeRelease(t, docs, hooks)
	if r.monitor == nil {
		t.Fatalf("no ServiceMonitor although the CRD exists: %v", r.kinds)
	}
	ep := r.monitor.Spec.Endpoints
	if len(ep) != 1 || ep[0].Port != "http" || ep[0].Path != "/metrics" {
		t.Errorf("ServiceMonitor endpoints = %+v", ep)
	}
	if !selects(r.monitor.Spec.Selector.MatchLabels, r.service.Labels) {
		t.Errorf("ServiceMonitor selector %v does not select the Service %v", r.monitor.Spec.Selector.MatchLabels, r.service.Labels)
	}
}

func TestHelmTemplateProduction(t *testing.T) {
	docs, hooks := render(t, valuesFile(t, "values-production.yaml"), "monitoring.coreos.com/v1/ServiceMonitor")
	r := decodeRelease(t, docs, hooks)
	if r.ingress == nil || r.hpa == nil || r.monitor == nil || r.pdb == nil || r.migrate == nil {
		t.Fatalf("rendered %v: want Ingress, HPA, ServiceMonitor, PDB and the migration Job", r.kinds)
	}
	if r.deploy.Spec.Replicas != nil {
		t.Errorf("replicas set (%d) while the HPA owns them", *r.deploy.Spec.Replicas)
	}
	if r.hpa.Spec.MinReplicas == nil || *r.hpa.Spec.MinReplicas < 3 || r.hpa.Spec.ScaleTargetRef.Name != r.deploy.Name {
		t.Errorf("hpa = %+v", r.hpa.Spec)
	}
	checkServer(t, r)
	checkMigrationJob(t, r)

	// WebSockets through the Ingress: idle timeouts far above the heartbeat.
	for _, k := range []string{"nginx.ingress.kubernetes.io/proxy-read-timeout", "nginx.ingress.kubernetes.io/proxy-send-timeout"} {
		if v := r.ingress.Annotations[k]; v != "3600" {
			t.Errorf("ingress %s = %q, want 3600", k, v)
		}
	}
	rules := r.ingress.Spec.Rules
	if len(rules) != 1 || rules[0].HTTP.Paths[0].Backend.Service.Name != r.service.Name ||
		rules[0].HTTP.Paths[0].Backend.Service.Port.Name != "http" || len(r.ingress.Spec.TLS) != 1 {
		t.Errorf("ingress spec = %+v", r.ingress.Spec)
	}
	// The database URL comes from CloudNativePG's app secret.
	env := envOf(r.deploy.Spec.Template.Spec.Containers[0])
	if ref := env["DATABASE_URL"].ValueFrom.SecretKeyRef; ref.Name != "fechatter-pg-app" || ref.Key != "uri" {
		t.Errorf("DATABASE_URL from %+v", ref)
	}
}

// TestHelmTemplateRefusesShortGrace: a grace period shorter than the drain
// is refused at render time.
func TestHelmTemplateRefusesShortGrace(t *testing.T) {
	chrt, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := chartutil.ParseKubeVersion(kubeVersion)
	if err != nil {
		t.Fatal(err)
	}
	install := action.NewInstall(&action.Configuration{})
	install.DryRun, install.ClientOnly, install.ReleaseName, install.Namespace = true, true, "fechatter", "chat"
	install.KubeVersion = kv
	_, err = install.Run(chrt, map[string]any{"terminationGracePeriodSeconds": 20})
	if err == nil || !strings.Contains(err.Error(), "terminationGracePeriodSeconds") {
		t.Fatalf("render with a 20 s grace period and a 25 s drain: err = %v", err)
	}
}

func selects(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return len(selector) > 0
}

func envOf(c corev1.Container) map[string]corev1.EnvVar {
	m := make(map[string]corev1.EnvVar, len(c.Env))
	for _, e := range c.Env {
		m[e.Name] = e
	}
	return m
}

// productionShutdownTimeout is http.shutdown_timeout of the production
// profile (configs/production.yaml), the drain the chart must outlast.
func productionShutdownTimeout(t *testing.T) time.Duration {
	t.Helper()
	raw, err := os.ReadFile("../configs/production.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		HTTP struct {
			ShutdownTimeout string `yaml:"shutdown_timeout"`
		} `yaml:"http"`
	}
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	d, err := time.ParseDuration(cfg.HTTP.ShutdownTimeout)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// checkServer: what every release of the server must have.
func checkServer(t *testing.T, r rendered) {
	t.Helper()
	pod := r.deploy.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("containers = %d", len(pod.Containers))
	}
	c := pod.Containers[0]

	// Probes on the health endpoints, by the named port.
	for name, p := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe, "startup": c.StartupProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Port.String() != "http" {
			t.Errorf("%s probe = %+v", name, p)
		}
	}
	if c.LivenessProbe.HTTPGet.Path != "/health/live" || c.ReadinessProbe.HTTPGet.Path != "/health/ready" {
		t.Errorf("probes on %s and %s, want /health/live and /health/ready", c.LivenessProbe.HTTPGet.Path, c.ReadinessProbe.HTTPGet.Path)
	}

	// The owner's sizing: 1 core, 2 GB.
	for what, rl := range map[string]corev1.ResourceList{"requests": c.Resources.Requests, "limits": c.Resources.Limits} {
		if cpu := rl[corev1.ResourceCPU]; cpu.MilliValue() != 1000 {
			t.Errorf("%s.cpu = %s, want 1", what, cpu.String())
		}
		if mem := rl[corev1.ResourceMemory]; mem.Value() != 2<<30 {
			t.Errorf("%s.memory = %s, want 2Gi", what, mem.String())
		}
	}

	// Secrets by reference only: no literal secret value in the pod.
	env := envOf(c)
	for _, name := range []string{"DATABASE_URL", "FECHATTER_JWT_SECRET", "MEILI_MASTER_KEY"} {
		e, ok := env[name]
		if !ok || e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Name == "" {
			t.Errorf("%s = %+v: want a secretKeyRef", name, e)
		}
	}
	if env["FECHATTER_PROFILE"].Value != "production" || env["NATS_URL"].Value == "" || env["MEILI_URL"].Value == "" {
		t.Errorf("profile %q, NATS_URL %q, MEILI_URL %q", env["FECHATTER_PROFILE"].Value, env["NATS_URL"].Value, env["MEILI_URL"].Value)
	}

	// Graceful shutdown: preStop sleep + the server's drain < grace period.
	drain, err := time.ParseDuration(env["FECHATTER_HTTP_SHUTDOWN_TIMEOUT"].Value)
	if err != nil {
		t.Fatalf("FECHATTER_HTTP_SHUTDOWN_TIMEOUT: %v", err)
	}
	if want := productionShutdownTimeout(t); drain < want {
		t.Errorf("chart drain %s is shorter than the production profile's shutdown_timeout %s", drain, want)
	}
	var preStop time.Duration
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil {
		preStop = time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
	} else {
		t.Error("no preStop sleep: the pod gets SIGTERM while still in the Service's endpoints")
	}
	grace := time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second
	if grace <= preStop+drain {
		t.Errorf("terminationGracePeriodSeconds %s <= preStop %s + drain %s", grace, preStop, drain)
	}

	checkSecurity(t, "server", pod, c)

	// Rolling restart keeps capacity; the PDB lets one pod go at a time.
	if ru := r.deploy.Spec.Strategy.RollingUpdate; ru == nil || ru.MaxUnavailable.IntValue() != 0 {
		t.Errorf("rolling update = %+v, want maxUnavailable 0", ru)
	}
	if r.pdb.Spec.MaxUnavailable == nil || r.pdb.Spec.MaxUnavailable.IntValue() != 1 {
		t.Errorf("pdb = %+v", r.pdb.Spec)
	}
	podLabels := r.deploy.Spec.Template.Labels
	for what, sel := range map[string]map[string]string{
		"deployment": r.deploy.Spec.Selector.MatchLabels, "service": r.service.Spec.Selector, "pdb": r.pdb.Spec.Selector.MatchLabels,
	} {
		if !selects(sel, podLabels) {
			t.Errorf("%s selector %v does not select the pods %v", what, sel, podLabels)
		}
	}
	if p := r.service.Spec.Ports; len(p) != 1 || p[0].TargetPort.String() != "http" || c.Ports[0].Name != "http" || c.Ports[0].ContainerPort != 8080 {
		t.Errorf("service ports %+v, container ports %+v", p, c.Ports)
	}
}

func checkMigrationJob(t *testing.T, r rendered) {
	t.Helper()
	var events []string
	for _, e := range r.migrateHk.Events {
		events = append(events, string(e))
	}
	if got := strings.Join(events, ","); got != "pre-install,pre-upgrade" {
		t.Errorf("migration hook events = %s", got)
	}
	pod := r.migrate.Spec.Template.Spec
	c := pod.Containers[0]
	if strings.Join(c.Args, " ") != "migrate up" || pod.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("migration job runs %q, restart %s", c.Args, pod.RestartPolicy)
	}
	if c.Image != r.deploy.Spec.Template.Spec.Containers[0].Image {
		t.Errorf("migration image %s differs from the server's", c.Image)
	}
	if fmt.Sprint(envOf(c)["DATABASE_URL"]) != fmt.Sprint(envOf(r.deploy.Spec.Template.Spec.Containers[0])["DATABASE_URL"]) {
		t.Error("the migration Job reads another DATABASE_URL than the server")
	}
	checkSecurity(t, "migrate", pod, c)
}

func checkSecurity(t *testing.T, what string, pod corev1.PodSpec, c corev1.Container) {
	t.Helper()
	ps, sc := pod.SecurityContext, c.SecurityContext
	if ps == nil || ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot || ps.RunAsUser == nil || *ps.RunAsUser == 0 {
		t.Errorf("%s: pod security context %+v: want non-root", what, ps)
	}
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
		t.Errorf("%s: container security context %+v: want read-only root, no privilege escalation, all capabilities dropped", what, sc)
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Errorf("%s: the service account token is mounted", what)
	}
}

// TestStrictDecoderRejectsUnknownFields: the decoder the chart is checked
// with fails on a misspelt field and an unknown kind.
func TestStrictDecoderRejectsUnknownFields(t *testing.T) {
	dec := strictDecoder(t)
	for _, doc := range []string{
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {replicass: 2}\n",
		"apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {ports: [{port: 80, targetPort: http, protocl: TCP}]}\n",
		"apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: x}\nspec: {endpoints: [{port: http, pth: /metrics}]}\n",
		"apiVersion: v1\nkind: Servce\nmetadata: {name: x}\n",
	} {
		if _, _, err := dec.Decode([]byte(doc), nil, nil); err == nil {
			t.Errorf("decoded without error:\n%s", doc)
		}
	}
}
