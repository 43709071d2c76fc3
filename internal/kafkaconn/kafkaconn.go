// Package kafkaconn turns connection Settings into the kafka-go security
// every Kafka client of the worker shares: TLS (CA, client certificate,
// server name) and SASL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512). Errors name
// the setting at fault as it is spelt in the configuration's kafka section
// ("tls.ca_file: ...").
package kafkaconn

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// Security is the TLS configuration and SASL mechanism; nil fields mean
// plaintext and no authentication.
type Security struct {
	TLS  *tls.Config
	SASL sasl.Mechanism
}

// Settings are the connection settings of every Kafka client.
type Settings struct {
	TLS  TLS
	SASL SASL
}

// TLS secures the connections when Enabled.
type TLS struct {
	Enabled bool
	// CAFile is a PEM bundle of the CAs to trust; empty: the system's.
	CAFile string
	// CertFile and KeyFile are the client certificate and key (PEM).
	CertFile, KeyFile  string
	ServerName         string
	InsecureSkipVerify bool
}

// Mechanism names a SASL mechanism.
type Mechanism string

const (
	MechanismNone        Mechanism = ""
	MechanismPlain       Mechanism = "plain"
	MechanismScramSHA256 Mechanism = "scram-sha-256"
	MechanismScramSHA512 Mechanism = "scram-sha-512"
)

// SASL authenticates the connections unless Mechanism is MechanismNone.
type SASL struct {
	Mechanism          Mechanism
	Username, Password string
}

// New reads the certificates and builds the SASL mechanism.
func New(k Settings) (Security, error) {
	var s Security
	if k.TLS.Enabled {
		t := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: k.TLS.ServerName, InsecureSkipVerify: k.TLS.InsecureSkipVerify} //nolint:gosec // opt-in, for development brokers
		if k.TLS.CAFile != "" {
			pem, err := os.ReadFile(k.TLS.CAFile)
			if err != nil {
				return s, fmt.Errorf("tls.ca_file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return s, fmt.Errorf("tls.ca_file: %s holds no PEM certificate", k.TLS.CAFile)
			}
			t.RootCAs = pool
		}
		if k.TLS.CertFile != "" || k.TLS.KeyFile != "" {
			cert, err := tls.LoadX509KeyPair(k.TLS.CertFile, k.TLS.KeyFile)
			if err != nil {
				return s, fmt.Errorf("tls.cert_file/key_file: %w", err)
			}
			t.Certificates = []tls.Certificate{cert}
		}
		s.TLS = t
	}
	switch k.SASL.Mechanism {
	case MechanismNone:
	case MechanismPlain:
		s.SASL = plain.Mechanism{Username: k.SASL.Username, Password: k.SASL.Password}
	case MechanismScramSHA256, MechanismScramSHA512:
		algo := scram.SHA256
		if k.SASL.Mechanism == MechanismScramSHA512 {
			algo = scram.SHA512
		}
		m, err := scram.Mechanism(algo, k.SASL.Username, k.SASL.Password)
		if err != nil {
			return s, fmt.Errorf("sasl: %w", err)
		}
		s.SASL = m
	default:
		return s, errors.New("sasl.mechanism: " + string(k.SASL.Mechanism) + " is not plain, scram-sha-256 or scram-sha-512")
	}
	return s, nil
}

// Dialer returns a dialer for consumer-group and partition connections.
func (s Security) Dialer(clientID string) *kafka.Dialer {
	return &kafka.Dialer{ClientID: clientID, Timeout: 10 * time.Second, DualStack: true, TLS: s.TLS, SASLMechanism: s.SASL}
}

// Transport returns a new transport for writers and admin clients; the
// caller owns it.
func (s Security) Transport(clientID string) *kafka.Transport {
	return &kafka.Transport{ClientID: clientID, DialTimeout: 10 * time.Second, TLS: s.TLS, SASL: s.SASL}
}
