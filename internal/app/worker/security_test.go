package worker_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/gcupsert/gcupsert/config"
	"github.com/gcupsert/gcupsert/internal/app/demo"
	"github.com/gcupsert/gcupsert/internal/app/worker"
)

// newCA makes a CA and a server certificate for 127.0.0.1, written as PEM
// files; it returns the server's tls.Config and the CA file.
func newCA(t *testing.T) (*tls.Config, string) {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gcupsert test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	srvKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srvTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "broker"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"broker.test"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}}, MinVersion: tls.VersionTLS12}, caFile
}

// runSecured runs the worker over a kfake cluster started with opts and
// checks that produced records reach the emulator.
func runSecured(t *testing.T, opts []kfake.Opt, secure func(*config.Kafka)) {
	t.Helper()
	st := newStack(t, 1, opts...)
	emu, cfg := st.emu, st.cfg
	secure(&cfg.Kafka)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	// Produce through the same secured connection settings.
	sec, err := cfg.Kafka.Security()
	if err != nil {
		t.Fatal(err)
	}
	ds := demo.Generate(200, 1, 0, 9)
	if err := produceSecured(sec, cfg.Kafka.Brokers, "in", ds); err != nil {
		t.Fatal(err)
	}
	w, err := worker.New(cfg, worker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(20 * time.Second)
	for len(emu.Records(demo.SchemaName)) != len(ds.Expected) {
		if time.Now().After(deadline) {
			t.Fatalf("emulator holds %d records, want %d", len(emu.Records(demo.SchemaName)), len(ds.Expected))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestWorkerOverTLS(t *testing.T) {
	srvTLS, caFile := newCA(t)
	runSecured(t, []kfake.Opt{kfake.TLS(srvTLS)}, func(k *config.Kafka) {
		k.TLS = config.TLS{Enabled: true, CAFile: caFile}
	})
}

func TestWorkerRefusesAnUntrustedBroker(t *testing.T) {
	srvTLS, _ := newCA(t)
	_, otherCA := newCA(t)
	cluster, err := kfake.NewCluster(kfake.Ports(0), kfake.TLS(srvTLS), kfake.SeedTopics(1, "in"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	sec, err := config.Kafka{TLS: config.TLS{Enabled: true, CAFile: otherCA}}.Security()
	if err != nil {
		t.Fatal(err)
	}
	if err := produceSecured(sec, cluster.ListenAddrs(), "in", demo.Generate(1, 1, 0, 1)); err == nil {
		t.Fatal("produced to a broker whose certificate the CA did not sign")
	}
}

func TestWorkerWithSASLSCRAM(t *testing.T) {
	for _, mech := range []struct{ kfake, config string }{{"SCRAM-SHA-256", "scram-sha-256"}, {"SCRAM-SHA-512", "scram-sha-512"}} {
		t.Run(mech.config, func(t *testing.T) {
			runSecured(t, []kfake.Opt{kfake.EnableSASL(), kfake.Superuser(mech.kfake, "gcupsert", "pa55word")}, func(k *config.Kafka) {
				k.SASL = config.SASL{Mechanism: mech.config, Username: "gcupsert", Password: "pa55word"}
			})
		})
	}
}

func TestSASLWrongPasswordIsRefused(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.Ports(0), kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "gcupsert", "right"), kfake.SeedTopics(1, "in"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	sec, err := config.Kafka{SASL: config.SASL{Mechanism: "scram-sha-256", Username: "gcupsert", Password: "wrong"}}.Security()
	if err != nil {
		t.Fatal(err)
	}
	if err := produceSecured(sec, cluster.ListenAddrs(), "in", demo.Generate(1, 1, 0, 1)); err == nil {
		t.Fatal("produced with a wrong password")
	}
}
