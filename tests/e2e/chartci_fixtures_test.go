package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The fixture charts of TestChartCI. Each breaks one stage of `ci chart`;
// "good" passes them all. Pods run the echo image every node holds.

const fixtureWeb = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-web
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels: {app: {{ .Release.Name }}, component: {{ .Values.component }}}
  template:
    metadata:
      labels: {app: {{ .Release.Name }}, component: {{ .Values.component }}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: web
          image: {{ .Values.image | default "ghcr.io/edgectl/echo:dev" }}
          readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}-web
spec:
  selector: {app: {{ .Release.Name }}, component: {{ .Values.component }}}
  ports: [{port: 80, targetPort: 8080}]
`

const fixtureTest = `apiVersion: v1
kind: Pod
metadata:
  name: {{ .Release.Name }}-test
  annotations: {"helm.sh/hook": test}
spec:
  restartPolicy: Never
  containers:
    - name: test
      image: ghcr.io/edgectl/echo:dev
      args: [get, "http://{{ .Release.Name }}-web:{{ .Values.testPort }}/"]
`

// fixtureState: a StatefulSet with a claim template and a Job, as real
// charts have.
const fixtureState = `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {{ .Release.Name }}-db
spec:
  replicas: 1
  serviceName: {{ .Release.Name }}-web
  selector: {matchLabels: {app: {{ .Release.Name }}-db}}
  template:
    metadata: {labels: {app: {{ .Release.Name }}-db}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: db
          image: ghcr.io/edgectl/echo:dev
          volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
    - metadata: {name: data}
      spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 10Mi}}}
---
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-migrate
spec:
  backoffLimit: {{ .Values.jobBackoff }}
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: migrate
          image: ghcr.io/edgectl/echo:dev
          args: {{ if .Values.jobURL }}[get, "{{ .Values.jobURL }}"]{{ else }}[cat, /etc/hostname]{{ end }}
`

const fixtureValues = `replicas: 1
component: web
testPort: 80
jobBackoff: 2
jobURL: ""
`

// failingJobValues make the Job fail at once.
var failingJobValues = strings.NewReplacer("jobBackoff: 2", "jobBackoff: 0", `jobURL: ""`, "jobURL: http://127.0.0.1:9/").
	Replace(fixtureValues)

// writeChart writes a chart: Chart.yaml, values.yaml and templates.
func writeChart(t testing.TB, dir, name, version, values string, templates map[string]string) string {
	t.Helper()
	c := filepath.Join(dir, name)
	files := map[string]string{
		"Chart.yaml":  "apiVersion: v2\nname: " + name + "\nversion: " + version + "\n",
		"values.yaml": values,
	}
	for f, text := range templates {
		files[filepath.Join("templates", f)] = text
	}
	for f, text := range files {
		p := filepath.Join(c, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// goodChart passes every stage: a Deployment, a Service, a StatefulSet
// with a claim, a Job, a test, and two ci values files.
func goodChart(t testing.TB, dir, name, version string) string {
	c := writeChart(t, dir, name, version, fixtureValues, map[string]string{"web.yaml": fixtureWeb, "state.yaml": fixtureState,
		"tests/test.yaml": fixtureTest})
	if err := os.MkdirAll(filepath.Join(c, "ci"), 0o755); err != nil {
		t.Fatal(err)
	}
	for file, values := range map[string]string{"one-values.yaml": "replicas: 1\n", "two-values.yaml": "replicas: 2\n"} {
		if err := os.WriteFile(filepath.Join(c, "ci", file), []byte(values), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// git runs git in dir with a fixed identity.
func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=e2e", "-c", "user.email=e2e@example.com"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

type brokenChart struct {
	path    string
	args    []string
	code    int    // the exit code of its stage
	message string // what the output must say
}

// brokenCharts writes one chart per stage that fails it.
func brokenCharts(t *testing.T, dir string) []brokenChart {
	web := map[string]string{"web.yaml": fixtureWeb}
	schema := `{"type": "object", "properties": {"replicas": {"type": "integer"}}}`
	lint := writeChart(t, dir, "e2e-lint", "0.1.0", strings.Replace(fixtureValues, "replicas: 1", `replicas: "one"`, 1), web)
	if err := os.WriteFile(filepath.Join(lint, "values.schema.json"), []byte(schema), 0o644); err != nil {
		t.Fatal(err)
	}

	// A selector change between two git revisions (chart-testing#433).
	repo := filepath.Join(dir, "selector-repo")
	sel := writeChart(t, repo, "e2e-selector", "0.1.0", fixtureValues, web)
	git(t, repo, "init", "-q")
	git(t, repo, "add", ".")
	git(t, repo, "commit", "-qm", "0.1.0")
	writeChart(t, repo, "e2e-selector", "0.2.0", strings.Replace(fixtureValues, "component: web", "component: frontend", 1), web)

	lb := strings.Replace(fixtureWeb, "  ports: [{port: 80, targetPort: 8080}]",
		"  type: LoadBalancer\n  loadBalancerClass: example.com/none\n  ports: [{port: 80, targetPort: 8080}]", 1)
	claim := `apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: {{ .Release.Name }}-data}
spec: {storageClassName: nosuch, accessModes: [ReadWriteOnce], resources: {requests: {storage: 10Mi}}}
`
	withClaim := strings.Replace(fixtureWeb, "          image: ghcr.io/edgectl/echo:dev\n",
		"          image: ghcr.io/edgectl/echo:dev\n          volumeMounts: [{name: data, mountPath: /data}]\n", 1)
	withClaim = strings.Replace(withClaim, "      terminationGracePeriodSeconds: 1\n",
		"      terminationGracePeriodSeconds: 1\n      volumes: [{name: data, persistentVolumeClaim: {claimName: \"{{ .Release.Name }}-data\"}}]\n", 1)
	return []brokenChart{
		{lint, nil, 10, "replicas"},
		{sel, []string{"--target-branch", "HEAD", "--upgrade"}, 14, "field is immutable"},
		{writeChart(t, dir, "e2e-test", "0.1.0", strings.Replace(fixtureValues, "testPort: 80", "testPort: 9", 1),
			map[string]string{"web.yaml": fixtureWeb, "tests/test.yaml": fixtureTest}), nil, 13, "e2e-test-test"},
		{writeChart(t, dir, "e2e-lb", "0.1.0", fixtureValues, map[string]string{"web.yaml": lb}), nil, 12,
			"Service ci-e2e-lb/e2e-lb-web: type LoadBalancer, no ingress address"},
		{writeChart(t, dir, "e2e-claim", "0.1.0", fixtureValues, map[string]string{"web.yaml": withClaim, "claim.yaml": claim}), nil, 12,
			"PersistentVolumeClaim ci-e2e-claim/e2e-claim-data: Pending: StorageClass \"nosuch\" does not exist"},
	}
}
