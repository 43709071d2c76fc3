package main
import (
 _ "github.com/segmentio/kafka-go"
 _ "golang.org/x/oauth2/clientcredentials"
 _ "github.com/cenkalti/backoff/v4"
 _ "github.com/lmittmann/tint"
 _ "github.com/twmb/franz-go/pkg/kfake"
 _ "github.com/santhosh-tekuri/jsonschema/v6"
 _ "github.com/prometheus/client_golang/prometheus"
 _ "golang.org/x/time/rate"
 _ "go.yaml.in/yaml/v3"
)
func main(){}
