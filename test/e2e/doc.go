// Package e2e proves the pipeline against a real Apache Kafka broker, with
// gcupsert running as real processes: `gcupsert emulator` stands in for
// Genesys Cloud and `gcupsert run` workers are started, signalled, killed and
// restarted by the tests. Every scenario ends with the same check: each
// produced event has exactly one outcome (a record in the emulator, superseded
// by a newer event of its key, or a dead letter) and the group's committed
// offsets equal the end offsets. Each scenario adds a row to the table printed
// at the end.
//
// The tests need the build tag e2e (`make e2e`). The broker is the one named
// by GCUPSERT_TEST_BROKERS, or else one started for the run with
// scripts/kafka/kafka.sh (Java 17 and Maven). The broker-restart scenario
// needs a broker it can stop: the one it started, or the kafka.sh directory
// named by GCUPSERT_KAFKA_DIR. The package-level contract suite of
// test/integration runs against the same broker.
//
// The docker-compose check needs no broker and runs without the tag.
package e2e
