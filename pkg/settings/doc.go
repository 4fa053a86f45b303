// Package settings binds a service's settings to command-line flags whose
// defaults come from BECKON_* environment variables, so a flag overrides its
// variable, which overrides the built-in default. Each package that owns
// settings (kafkaconn, topics, ...) lists them as []Setting; docs and help
// are generated from the same lists.
//
// It is not a configuration file loader.
package settings
