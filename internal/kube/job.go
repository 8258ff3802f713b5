/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package kube

import (
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
)

// JobConditionTrue reports whether job has condition t with status True
// (Complete or Failed, as the Job controller writes them).
func JobConditionTrue(job *batchv1.Job, t batchv1.JobConditionType) bool {
	for _, c := range job.Status.Conditions {
		if c.Type == t && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// JoinCategories writes categories as a comma-separated list, for messages.
func JoinCategories(cs []shcrv1alpha1.DataCategory) string {
	names := make([]string, 0, len(cs))
	for _, c := range cs {
		names = append(names, string(c))
	}
	return strings.Join(names, ", ")
}
