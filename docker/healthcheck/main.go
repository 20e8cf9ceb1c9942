// Command healthcheck is the container health check of the server image
// (distroless: no shell, no curl): it GETs a URL and exits 0 on 200, 1
// otherwise. Compose runs it as
//
//	healthcheck: {test: ["CMD", "/usr/local/bin/healthcheck", "http://127.0.0.1:8080/health/ready"]}
package main

import (
	"fmt"
	"net/http"
	"os"
	"time"
)

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	url := "http://127.0.0.1:8080/health/ready"
	if len(args) > 0 {
		url = args[0]
	}
	client := http.Client{Timeout: 3 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck:", err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(os.Stderr, "healthcheck: %s answered %s\n", url, resp.Status)
		return 1
	}
	return 0
}
