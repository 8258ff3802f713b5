/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Command currentsamples prints sample files with their dates moved to
// today, as make demo applies them (see samples.CurrentSample):
//
//	go run ./hack/currentsamples config/samples/shcr_v1alpha1_memberorganisation.yaml
package main

import (
	"fmt"
	"os"
	"time"

	"github.com/shcr-io/shcr-operator/internal/samples"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: currentsamples FILE...")
		os.Exit(2)
	}
	now := time.Now()
	for i, path := range os.Args[1:] {
		data, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "currentsamples:", err)
			os.Exit(1)
		}
		if i > 0 {
			fmt.Println("---")
		}
		_, _ = os.Stdout.Write(samples.CurrentSample(data, now))
	}
}
