package bench

import (
	"os"
	"testing"
	"time"
)

func TestParseProcFiles(t *testing.T) {
	status := []byte("Name:\tfechatter\nVmPeak:\t  900000 kB\nVmRSS:\t   123456 kB\nThreads:\t9\n")
	if got := parseVmRSS(status); got != 123456*1024 {
		t.Fatalf("VmRSS %d", got)
	}
	// A command name with a space and a parenthesis, as the kernel shows it.
	stat := []byte("4242 (fe chat)ter) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 130 0 0 20 0 9 0 100 1000 200 18446744073709551615\n")
	got, err := parseStatCPU(stat)
	if err != nil || got != 3800*time.Millisecond {
		t.Fatalf("cpu %v %v, want 3.8s (250+130 ticks)", got, err)
	}
	if _, err := parseStatCPU([]byte("garbage")); err == nil {
		t.Fatal("garbage parsed")
	}
	if got := parseMeminfo([]byte("MemTotal:       24684012 kB\nMemFree: 1 kB\n")); got != 24684012*1024 {
		t.Fatalf("MemTotal %d", got)
	}
	if got := parseCPUModel([]byte("processor\t: 0\nmodel name\t: AMD EPYC 7B13\n")); got != "AMD EPYC 7B13" {
		t.Fatalf("model %q", got)
	}
}

func TestReadProcOfThisProcess(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc")
	}
	s, err := ReadProc(os.Getpid())
	if err != nil || s.RSS <= 0 {
		t.Fatalf("ReadProc: %+v %v", s, err)
	}
	if m := ThisMachine(); m.CPUs < 1 || m.MemoryBytes <= 0 {
		t.Fatalf("machine %+v", m)
	}
}

func TestClientBackendTitles(t *testing.T) {
	for title, want := range map[string]bool{
		"postgres: 15/main: postgres fechatter_bench 127.0.0.1(40840) idle\x00":        true,
		"postgres: 15/main: postgres fechatter_bench [local] idle\x00":                 true,
		"postgres: 15/main: postgres x [::1](5432) SELECT\x00":                         true,
		"postgres: 15/main: walwriter \x00":                                            false,
		"postgres: 15/main: checkpointer \x00":                                         false,
		"/usr/lib/postgresql/15/bin/postgres\x00-D\x00/var/lib/postgresql/15/main\x00": false,
	} {
		if got := clientBackend.MatchString(title); got != want {
			t.Errorf("%q: client backend %v, want %v", title, got, want)
		}
	}
}
