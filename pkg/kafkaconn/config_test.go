package kafkaconn

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

func TestFlagsPrecedence(t *testing.T) {
	env := map[string]string{
		"BECKON_BROKERS":        "env-a:9092, env-b:9092",
		"BECKON_TOPIC_PREFIX":   "acme.",
		"BECKON_SASL_MECHANISM": "scram-sha-512",
		"BECKON_SASL_USERNAME":  "svc",
		"BECKON_SASL_PASSWORD":  "from-env",
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	f := RegisterFlags(fs, func(k string) string { return env[k] })
	if err := fs.Parse([]string{"--kafka-client-id=engine-0", "--kafka-brokers=flag:9093"}); err != nil {
		t.Fatal(err)
	}
	c, err := f.Config()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Brokers, ","); got != "flag:9093" {
		t.Errorf("brokers = %q, want the flag to override the environment", got)
	}
	if c.ClientID != "engine-0" || c.TopicPrefix != "acme." {
		t.Errorf("client id %q prefix %q", c.ClientID, c.TopicPrefix)
	}
	if c.SASL.Mechanism != MechanismScramSHA512 || c.SASL.Password != "from-env" {
		t.Errorf("sasl = %+v", c.SASL)
	}
	if got := c.Topic("events"); got != "acme.events" {
		t.Errorf("Topic = %q", got)
	}
}

func TestFlagsDefaults(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	f := RegisterFlags(fs, func(string) string { return "" })
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	c, err := f.Config()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.Brokers, ",") != DefaultBrokers || c.ClientID != "beckon" || c.TopicPrefix != "" {
		t.Errorf("defaults = %+v", c)
	}
}

func TestValidate(t *testing.T) {
	base := Config{Brokers: []string{"127.0.0.1:9092"}}
	tests := []struct {
		name string
		mod  func(*Config)
		want string // substring of the error; empty means valid
	}{
		{"valid", func(*Config) {}, ""},
		{"no brokers", func(c *Config) { c.Brokers = nil }, "kafka brokers: not set"},
		{"broker without port", func(c *Config) { c.Brokers = []string{"kafka"} }, `"kafka": want host:port`},
		{"cert without key", func(c *Config) { c.TLS.CertFile = "c.pem" }, "cert file and key file go together"},
		{"unknown mechanism", func(c *Config) { c.SASL.Mechanism = "GSSAPI" }, `mechanism "GSSAPI"`},
		{"sasl without user", func(c *Config) { c.SASL.Mechanism = "PLAIN" }, "username: not set"},
		{"bad prefix", func(c *Config) { c.TopicPrefix = "a b" }, `prefix "a b"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base
			tt.mod(&c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
	if _, err := (Config{Brokers: []string{"x:1"}, TLS: TLS{CAFile: "/nonexistent/ca.pem"}}).ClientOpts(); err == nil || !strings.Contains(err.Error(), "ca file") {
		t.Errorf("missing CA file: err = %v", err)
	}
}

// TestSASL connects to brokers that demand each supported mechanism, with
// the right and the wrong password.
func TestSASL(t *testing.T) {
	for _, mech := range []string{MechanismPlain, MechanismScramSHA256, MechanismScramSHA512} {
		t.Run(mech, func(t *testing.T) {
			c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.Superuser(mech, "svc", "s3cret"))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			good := Config{Brokers: c.ListenAddrs(), SASL: SASL{Mechanism: mech, Username: "svc", Password: "s3cret"}}
			if err := ping(t, good); err != nil {
				t.Fatalf("right password: %v", err)
			}
			bad := good
			bad.SASL.Password = "wrong"
			if err := ping(t, bad); err == nil {
				t.Fatal("wrong password: connected anyway")
			}
		})
	}
}

// TestTLS connects to a broker with a certificate signed by a private CA,
// trusting it through CAFile, and fails without it.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	serverCert, caFile := issue(t, dir)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.TLS(&tls.Config{Certificates: []tls.Certificate{serverCert}, MinVersion: tls.VersionTLS12}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := ping(t, Config{Brokers: c.ListenAddrs(), TLS: TLS{CAFile: caFile}}); err != nil {
		t.Fatalf("trusted CA: %v", err)
	}
	if err := ping(t, Config{Brokers: c.ListenAddrs(), TLS: TLS{Enabled: true}}); err == nil {
		t.Fatal("untrusted CA: connected anyway")
	}
}

func ping(t *testing.T, c Config) error {
	t.Helper()
	cl, err := c.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	return Ping(context.Background(), cl, 3*time.Second)
}

// issue writes a CA to dir and returns a server certificate for 127.0.0.1
// signed by it, and the CA's PEM file.
func issue(t *testing.T, dir string) (tls.Certificate, string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "beckon test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, caFile
}
