package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Machine describes where a report was measured.
type Machine struct {
	Hostname    string `json:"hostname"`
	OS          string `json:"os"`
	Arch        string `json:"arch"`
	Kernel      string `json:"kernel,omitempty"`
	CPUModel    string `json:"cpu_model,omitempty"`
	CPUs        int    `json:"cpus"`
	MemoryBytes int64  `json:"memory_bytes"` // MemTotal of /proc/meminfo
	GoVersion   string `json:"go_version"`   // of the load generator
}

// ThisMachine describes the machine the load generator runs on (the same
// as the server's when they share a host, as delivery latency needs).
func ThisMachine() Machine {
	m := Machine{OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	m.Hostname, _ = os.Hostname()
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		m.MemoryBytes = parseMeminfo(b)
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		m.CPUModel = parseCPUModel(b)
	}
	return m
}

func parseMeminfo(b []byte) int64 {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			return parseKB(v)
		}
	}
	return 0
}

func parseCPUModel(b []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// parseKB reads "  123456 kB" as bytes.
func parseKB(v string) int64 {
	f := strings.Fields(v)
	if len(f) == 0 {
		return 0
	}
	n, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return 0
	}
	if len(f) > 1 && strings.EqualFold(f[1], "kB") {
		n *= 1024
	}
	return n
}

// ProcSample is a process's resident memory and CPU time at one moment.
type ProcSample struct {
	At      time.Time
	RSS     int64         // VmRSS, bytes
	CPUTime time.Duration // utime + stime
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times: 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// ReadProc samples /proc/<pid>/status (VmRSS) and /proc/<pid>/stat (utime,
// stime). pid 0 is this process.
func ReadProc(pid int) (ProcSample, error) {
	dir := "/proc/self"
	if pid > 0 {
		dir = "/proc/" + strconv.Itoa(pid)
	}
	s := ProcSample{At: time.Now()}
	status, err := os.ReadFile(dir + "/status")
	if err != nil {
		return s, err
	}
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return s, err
	}
	s.RSS = parseVmRSS(status)
	s.CPUTime, err = parseStatCPU(stat)
	return s, err
}

func parseVmRSS(b []byte) int64 {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			return parseKB(v)
		}
	}
	return 0
}

// parseStatCPU reads utime and stime (fields 14 and 15) of a stat line;
// fields are counted after the command name, which may hold spaces and
// parentheses.
func parseStatCPU(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("bench: malformed /proc stat %.80q", b)
	}
	f := strings.Fields(string(b[i+1:]))
	// After ")": state is field 3, so utime (14) and stime (15) are f[11], f[12].
	if len(f) < 13 {
		return 0, fmt.Errorf("bench: short /proc stat %.80q", b)
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bench: malformed /proc stat times %q %q", f[11], f[12])
	}
	return time.Duration(u+s) * time.Second / clockTicks, nil
}

// LoadAverage is the 1-minute load average of /proc/loadavg (0 if
// unknown): a busy machine makes a run noisy.
func LoadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// PostgresCPU sums the CPU time (utime + stime) of the processes of this
// machine named "postgres" (the postmaster, its background processes and
// its backends), and counts them. With database set, client backends of
// other databases are left out. A backend that exits takes its time with
// it, which is why the server keeps its pool's connections open while idle.
func PostgresCPU(database string) (time.Duration, int) {
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return 0, 0
	}
	var total time.Duration
	n := 0
	for _, d := range dirs {
		if _, err := strconv.Atoi(d.Name()); err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil || !bytes.Contains(stat, []byte("(postgres)")) {
			continue
		}
		if database != "" {
			title, _ := os.ReadFile("/proc/" + d.Name() + "/cmdline")
			if clientBackend.Match(title) && !bytes.Contains(title, []byte(" "+database+" ")) {
				continue
			}
		}
		if t, err := parseStatCPU(stat); err == nil {
			total += t
			n++
		}
	}
	return total, n
}

// clientBackend matches the process title of a Postgres client backend
// ("postgres: 15/main: user db 127.0.0.1(40840) idle"), as opposed to the
// postmaster and the background processes.
var clientBackend = regexp.MustCompile(`(\d+\.\d+\.\d+\.\d+|\[[0-9a-f:]*\]|\[local\])(\(\d+\))? `)
