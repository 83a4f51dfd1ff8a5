// Command cluster runs a command against a throwaway PostgreSQL: it starts a cluster with
// internal/pgtest (initdb in a temp dir, random port, fsync off), sets BENCH_DSN to its
// superuser connection string, runs the command given after the flags, and stops the cluster
// when the command ends (or on SIGINT/SIGTERM, which are passed on to the command). It exits
// with the command's status. `make bench` uses it so that the benchmark needs no running server.
//
//	go run ./bench/cluster -shared-buffers 2GB -- python3 bench/run.py
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/pgparquet/pgparquet/internal/pgtest"
)

func main() {
	sharedBuffers := flag.String("shared-buffers", "2GB", "shared_buffers of the cluster: big enough to hold the benchmark tables")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: cluster [-shared-buffers SIZE] -- COMMAND [ARGS...]")
		os.Exit(2)
	}
	os.Exit(run(flag.Args(), *sharedBuffers))
}

func run(args []string, sharedBuffers string) int {
	ctx := context.Background()
	c, err := pgtest.Start(ctx, pgtest.Options{Settings: map[string]string{
		"shared_buffers": sharedBuffers, "max_wal_size": "8GB", "checkpoint_timeout": "30min",
	}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		return 1
	}
	defer func() {
		if err := c.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "cluster: stop:", err)
		}
	}()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), "BENCH_DSN="+c.DSN("postgres"))
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		return 1
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		for s := range sigs {
			cmd.Process.Signal(s) //nolint:errcheck // the command may have ended already
		}
	}()
	err = cmd.Wait()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return max(exit.ExitCode(), 1)
	default:
		fmt.Fprintln(os.Stderr, "cluster:", err)
		return 1
	}
}
