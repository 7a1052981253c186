// Command valv is Valv: the server and the operator's command line.
package main

import (
	"os"

	"github.com/valvhq/valv/internal/cli"
)

func main() { os.Exit(cli.Main()) }
