package integration

import "testing"

// TestPipeline runs the contract suite against kfake, or against the real
// cluster named by GCUPSERT_TEST_BROKERS.
func TestPipeline(t *testing.T) {
	Run(t, FromEnv())
}
