package config

import (
	"go/scanner"
	"go/token"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// A misspelt GCUPSERT_ variable is refused, naming it and the variable
// meant, instead of leaving the setting at its default.
func TestUnknownEnvironmentVariablesAreRefused(t *testing.T) {
	_, err := Load(write(t, good), []string{"GCUPSERT_GENESYS_CLIENT_SECRET=x", "GCUPSERT_BATCH_LINGR=500ms", "GCUPSERT_NONSENSE_AT_ALL=1"})
	if err == nil {
		t.Fatal("Load accepted GCUPSERT_BATCH_LINGR")
	}
	for _, want := range []string{
		"GCUPSERT_BATCH_LINGR: is not a variable gcupsert reads (did you mean GCUPSERT_BATCH_LINGER?)",
		"GCUPSERT_NONSENSE_AT_ALL: is not a variable gcupsert reads; docs/config.md lists them",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	// The variables other parts of gcupsert read are not refused.
	env := []string{"GCUPSERT_GENESYS_CLIENT_SECRET=x", "OTHER_VARIABLE=1"}
	for name := range otherEnv {
		env = append(env, name+"=1")
	}
	if _, err := Load(write(t, good), env); err != nil {
		t.Errorf("with the variables read elsewhere: %v", err)
	}
}

// otherEnv holds exactly the GCUPSERT_ variables read outside this package
// that are not configuration keys: every string constant naming one in
// the tree's code, every one a test reads with os.Getenv or os.LookupEnv
// (tests also hold wrong names on purpose), and every one a shell script
// expands.
func TestOtherEnvIsWhatTheTreeReads(t *testing.T) {
	name := regexp.MustCompile(`^GCUPSERT_[A-Z0-9_]*[A-Z0-9]$`) // a prefix ends with "_"
	shellRead := regexp.MustCompile(`\$\{?(GCUPSERT_[A-Z0-9_]*[A-Z0-9])`)
	own := EnvNames()
	found := map[string]string{}
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || path == filepath.Join("..", "config")) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, ".sh") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.HasSuffix(path, ".sh") {
			for _, m := range shellRead.FindAllStringSubmatch(string(src), -1) {
				if _, isOwn := own[m[1]]; !isOwn {
					found[m[1]] = path
				}
			}
			return nil
		}
		isTest := strings.HasSuffix(path, "_test.go")
		var s scanner.Scanner
		s.Init(token.NewFileSet().AddFile(path, -1, len(src)), src, nil, 0)
		var last [2]string // the two tokens before the current one
		for {
			_, tok, lit := s.Scan()
			if tok == token.EOF {
				break
			}
			if tok == token.STRING {
				v, _ := strconv.Unquote(lit)
				read := last[0] == "(" && (last[1] == "Getenv" || last[1] == "LookupEnv")
				if _, isOwn := own[v]; name.MatchString(v) && !isOwn && (!isTest || read) {
					found[v] = path
				}
			}
			last[1], last[0] = last[0], lit
			if lit == "" {
				last[0] = tok.String()
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range slices.Sorted(maps.Keys(found)) {
		if _, ok := otherEnv[n]; !ok {
			t.Errorf("%s (read in %s) is missing from otherEnv: Load would refuse it", n, found[n])
		}
	}
	for _, n := range slices.Sorted(maps.Keys(otherEnv)) {
		if _, ok := found[n]; !ok {
			t.Errorf("otherEnv lists %s, which nothing reads", n)
		}
	}
}

// A secret of only white space, from the environment or from a file, is
// refused naming its key; so is an empty file.
func TestWhitespaceSecretsAreRefused(t *testing.T) {
	blank := filepath.Join(t.TempDir(), "blank")
	if err := os.WriteFile(blank, []byte(" \t\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sasl := strings.Replace(good, "kafka:\n", "kafka:\n  sasl: {mechanism: plain, username: u}\n", 1)
	for _, tc := range []struct {
		name, yaml string
		env        []string
		want       string
	}{
		{"client secret from env", good, []string{"GCUPSERT_GENESYS_CLIENT_SECRET=  "}, "genesys.client_secret (from GCUPSERT_GENESYS_CLIENT_SECRET): is only white space"},
		{"client secret from file", good, []string{"GCUPSERT_GENESYS_CLIENT_SECRET_FILE=" + blank}, "genesys.client_secret_file: the file " + blank + " is empty or only white space"},
		{"sasl password from env", sasl, []string{"GCUPSERT_GENESYS_CLIENT_SECRET=x", "GCUPSERT_KAFKA_SASL_PASSWORD=\t"}, "kafka.sasl.password (from GCUPSERT_KAFKA_SASL_PASSWORD): is only white space"},
		{"sasl password from file", sasl, []string{"GCUPSERT_GENESYS_CLIENT_SECRET=x", "GCUPSERT_KAFKA_SASL_PASSWORD_FILE=" + blank}, "kafka.sasl.password_file: the file " + blank + " is empty or only white space"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(write(t, tc.yaml), tc.env)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load = %v, want %q", err, tc.want)
			}
		})
	}
}
