// Command fechatter is the Fechatter team chat server; see bootstrap for its
// commands and configuration.
package main

import (
	"os"

	"github.com/fechatter/fechatter/bootstrap"
)

func main() {
	os.Exit(bootstrap.Main(os.Args[1:]))
}
