// compose-check loads a compose file with the Compose Spec's own loader (the library
// Docker Compose v2 uses), without a Docker engine: schema, interpolation of required
// variables, enum values, dangling references. Exit code 0 when it loads, 1 when not
// (the loader's message on stderr), 2 for bad usage.
//
//	compose-check -f docker-compose.yml --env-file sample.env [-o normalized.yml]
//
// Only the env files given are read, never the caller's environment, so a variable the
// file needs but the env file lacks is caught even on a machine where it happens to be set.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/compose-spec/compose-go/v2/cli"
)

type envFiles []string

func (e *envFiles) String() string     { return fmt.Sprint(*e) }
func (e *envFiles) Set(v string) error { *e = append(*e, v); return nil }

func main() {
	var files, envs envFiles
	output := flag.String("o", "", "write the normalized project (as `docker compose config` prints it) to this file")
	flag.Var(&files, "f", "compose file (repeatable, later files override earlier ones)")
	flag.Var(&envs, "env-file", "env file to interpolate from (repeatable); required")
	flag.Parse()
	if len(files) == 0 || len(envs) == 0 || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: compose-check -f FILE [-f FILE...] --env-file FILE [--env-file FILE...] [-o OUT]")
		os.Exit(2)
	}
	if err := check(files, envs, *output); err != nil {
		fmt.Fprintf(os.Stderr, "compose-check: %s: %v\n", files[0], err)
		os.Exit(1)
	}
	fmt.Printf("compose-check: %v loads with %v\n", []string(files), []string(envs))
}

func check(files, envs []string, output string) error {
	options, err := cli.NewProjectOptions(files,
		cli.WithEnvFiles(envs...),
		cli.WithDotEnv,
		cli.WithInterpolation(true),
		cli.WithNormalization(true),
		cli.WithConsistency(true),
		cli.WithResolvedPaths(true),
	)
	if err != nil {
		return err
	}
	project, err := options.LoadProject(context.Background())
	if err != nil {
		return err
	}
	if output == "" {
		return nil
	}
	normalized, err := project.MarshalYAML()
	if err != nil {
		return err
	}
	return os.WriteFile(output, normalized, 0o600)
}
