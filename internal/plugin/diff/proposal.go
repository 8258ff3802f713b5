/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package diff

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
)

// manifestExtensions are the file name endings read from a directory.
var manifestExtensions = []string{".yaml", ".yml", ".json"}

// proposal is the MemberOrganisations, DataSharingAgreements and
// AccessPolicies a change proposes for one region namespace.
type proposal struct {
	namespace  string
	members    []shcrv1alpha1.MemberOrganisation
	agreements []shcrv1alpha1.DataSharingAgreement
	policies   []shcrv1alpha1.AccessPolicy
	// seen holds kind/name of every object read, to refuse duplicates.
	seen sets.Set[string]
	// files is how many files were read; ignored how many documents were
	// of other kinds.
	files, ignored int
}

// readProposal reads the objects in paths: files, or directories searched
// recursively for .yaml, .yml and .json files, each holding one or more
// YAML documents. Objects of other kinds are counted and ignored.
func readProposal(paths []string, namespace string) (*proposal, error) {
	files, err := manifestFiles(paths)
	if err != nil {
		return nil, err
	}
	p := &proposal{namespace: namespace, seen: sets.New[string](), files: len(files)}
	for _, f := range files {
		if err := p.readFile(f); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func manifestFiles(paths []string) ([]string, error) {
	var files []string
	for _, path := range paths {
		info, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("-f %s: %w", path, err)
		}
		if !info.IsDir() {
			files = append(files, path)
			continue
		}
		err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && slices.Contains(manifestExtensions, filepath.Ext(p)) {
				files = append(files, p)
			}
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("-f %s: %w", path, err)
		}
	}
	return files, nil
}

func (p *proposal) readFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for doc := 1; ; doc++ {
		raw, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err == nil {
			err = p.add(raw)
		}
		if err != nil {
			return fmt.Errorf("%s, document %d: %w", path, doc, err)
		}
	}
}

// add decodes one document strictly and with case-sensitive field names, as
// the API server does, so that a misspelt field fails the diff instead of
// being dropped.
func (p *proposal) add(raw []byte) error {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(raw, &tm); err != nil {
		return err
	}
	if tm.APIVersion == "" && tm.Kind == "" {
		return nil // an empty document or comments only
	}
	gv, err := schema.ParseGroupVersion(tm.APIVersion)
	if err != nil {
		return err
	}
	if gv.Group != shcrv1alpha1.GroupVersion.Group {
		p.ignored++
		return nil
	}
	if gv != shcrv1alpha1.GroupVersion {
		return fmt.Errorf("apiVersion %s is not supported: use %s", tm.APIVersion, shcrv1alpha1.GroupVersion)
	}
	switch tm.Kind {
	case "MemberOrganisation":
		return addObject(p, &p.members, raw)
	case "DataSharingAgreement":
		return addObject(p, &p.agreements, raw)
	case "AccessPolicy":
		return addObject(p, &p.policies, raw)
	default:
		p.ignored++
		return nil
	}
}

// addObject decodes one object and adds it to the proposal.
func addObject[T any, P interface {
	*T
	client.Object
}](p *proposal, into *[]T, raw []byte) error {
	data, err := yaml.YAMLToJSON(raw)
	if err != nil {
		return err
	}
	var obj T
	strictErrs, err := sigsjson.UnmarshalStrict(data, &obj, sigsjson.DisallowDuplicateFields, sigsjson.DisallowUnknownFields)
	if err = errors.Join(append([]error{err}, strictErrs...)...); err != nil {
		return err
	}
	o := P(&obj)
	switch {
	case o.GetName() == "":
		return errors.New("metadata.name is missing")
	case o.GetNamespace() == "":
		o.SetNamespace(p.namespace)
	case o.GetNamespace() != p.namespace:
		return fmt.Errorf("%s is in namespace %s, but the diff is of %s: diff each region on its own",
			o.GetName(), o.GetNamespace(), p.namespace)
	}
	k := key(o)
	if p.seen.Has(k) {
		return fmt.Errorf("%s is proposed more than once", k)
	}
	p.seen.Insert(k)
	*into = append(*into, obj)
	return nil
}

// count is how many objects the proposal holds.
func (p *proposal) count() int { return p.seen.Len() }

// key names an object as Kind/name.
func key(o client.Object) string { return kindOf(o) + "/" + o.GetName() }

func kindOf(o client.Object) string {
	switch o.(type) {
	case *shcrv1alpha1.MemberOrganisation:
		return "MemberOrganisation"
	case *shcrv1alpha1.DataSharingAgreement:
		return "DataSharingAgreement"
	default:
		return "AccessPolicy"
	}
}
