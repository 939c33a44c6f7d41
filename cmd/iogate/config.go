package main

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// applyConfigFile sets, from the YAML file named by --config, every flag that neither the
// command line nor the environment (fromEnv) set, so that a flag beats its environment
// variable, which beats the file, which beats the default. It records each flag it sets in
// sources. The file is a mapping whose keys are flag names without the leading dashes. A
// list flag takes a YAML sequence or a comma-separated string. Unknown keys are errors, so
// that a misspelt setting is not silently ignored.
//
// Commands without --config read the file that IOGATE_CONFIG names, and only its keys of
// global flags (data-dir, database, master-key-file, json), so that the CLI works on the
// store that a server configured by the file uses. They leave the other keys to serve,
// which checks them.
//
// A file that users other than its owner can write gets a warning through warn, because
// its keys choose the master key file, the trusted proxies and the listeners.
func applyConfigFile(cmd *cobra.Command, fromEnv map[string]bool, sources map[string]string, getenv func(string) string, warn func(string)) error {
	path, globalOnly := "", false
	if cf := cmd.Flags().Lookup("config"); cf != nil {
		path = cf.Value.String()
	} else {
		path, globalOnly = getenv("IOGATE_CONFIG"), true
	}
	if path == "" {
		return nil
	}

	data, err := os.ReadFile(path)
	if err != nil {
		return flagErrorf("config", "read --config file: %v", err)
	}
	if info, err := os.Stat(path); err == nil && info.Mode().Perm()&0o022 != 0 {
		warn(fmt.Sprintf("the configuration file %s can be written by users other than its owner (mode %04o), who could change any setting: run \"chmod go-w %s\"",
			path, info.Mode().Perm(), shellQuote(path)))
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return errorf("invalid --config file %s: %v", path, err)
	}
	// yaml's error for a document that is not a mapping quotes its start, and a --config
	// that names a password or master key file by mistake must not print the secret.
	if len(root.Content) > 0 && root.Content[0].Kind != yaml.MappingNode {
		return errorf("invalid --config file %s: expected a YAML mapping of flag names to values, such as listen: 0.0.0.0:443", path)
	}
	var doc map[string]any
	if err := root.Decode(&doc); err != nil {
		return errorf("invalid --config file %s: %v", path, err)
	}

	keys := make([]string, 0, len(doc))
	for k := range doc {
		keys = append(keys, k)
	}
	slices.Sort(keys)

	for _, key := range keys {
		if globalOnly && cmd.Root().PersistentFlags().Lookup(key) == nil {
			continue
		}
		f := cmd.Flags().Lookup(key)
		if f == nil || key == "config" || key == "help" {
			return errorf("invalid --config file %s: unknown key %q; keys are the flag names of %q, such as listen or trusted-proxies", path, key, cmd.CommandPath())
		}
		if f.Changed || fromEnv[key] {
			// The file is what gets shared, so a password in it is an error even when the
			// command line or the environment overrides the key.
			if value, err := yamlScalar(doc[key]); err == nil && key == "database" && hasDatabasePassword(value) {
				return errorf("%s (in key \"database\" of the --config file %s, which %s overrides)", configPasswordMessage, path, overrider(f))
			}
			continue
		}
		if err := setFlagFromYAML(f, doc[key]); err != nil {
			return errorf("invalid --config file %s: key %q: %v", path, key, err)
		}
		sources[key] = fmt.Sprintf("key %q of the --config file %s", key, path)
		if globalOnly {
			sources[key] += " named by IOGATE_CONFIG"
		}
	}
	return nil
}

// overrider returns what set f before the --config file was read: the command line or its
// IOGATE_* variable.
func overrider(f *pflag.Flag) string {
	if f.Changed {
		return "the command line"
	}
	return envVariable(f.Name)
}

func setFlagFromYAML(f *pflag.Flag, v any) error {
	if list, ok := v.([]any); ok {
		sv, isSlice := f.Value.(pflag.SliceValue)
		if !isSlice {
			return fmt.Errorf("expected a single value, got a list")
		}
		items := make([]string, len(list))
		for i, item := range list {
			s, err := yamlScalar(item)
			if err != nil {
				return err
			}
			items[i] = s
		}
		return sv.Replace(items)
	}
	s, err := yamlScalar(v)
	if err != nil {
		return err
	}
	if sv, ok := f.Value.(pflag.SliceValue); ok {
		if s == "" {
			return sv.Replace(nil)
		}
		return sv.Replace(strings.Split(s, ","))
	}
	return f.Value.Set(s)
}

func yamlScalar(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case int:
		return strconv.Itoa(x), nil
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	}
	return "", fmt.Errorf("expected a string, number or boolean, got %T", v)
}
