/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package imagebuild

import (
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"
)

// spdxDocument is the part of SPDX 2.3 (JSON) the SBOM uses.
type spdxDocument struct {
	SPDXVersion       string             `json:"spdxVersion"`
	DataLicense       string             `json:"dataLicense"`
	SPDXID            string             `json:"SPDXID"`
	Name              string             `json:"name"`
	DocumentNamespace string             `json:"documentNamespace"`
	CreationInfo      spdxCreationInfo   `json:"creationInfo"`
	Packages          []spdxPackage      `json:"packages"`
	Relationships     []spdxRelationship `json:"relationships"`
}

type spdxCreationInfo struct {
	Created  string   `json:"created"`
	Creators []string `json:"creators"`
}

type spdxPackage struct {
	Name             string            `json:"name"`
	SPDXID           string            `json:"SPDXID"`
	VersionInfo      string            `json:"versionInfo"`
	DownloadLocation string            `json:"downloadLocation"`
	FilesAnalyzed    bool              `json:"filesAnalyzed"`
	Checksums        []spdxChecksum    `json:"checksums,omitempty"`
	ExternalRefs     []spdxExternalRef `json:"externalRefs,omitempty"`
	Comment          string            `json:"comment,omitempty"`
}

type spdxChecksum struct {
	Algorithm     string `json:"algorithm"`
	ChecksumValue string `json:"checksumValue"`
}

type spdxExternalRef struct {
	ReferenceCategory string `json:"referenceCategory"`
	ReferenceType     string `json:"referenceType"`
	ReferenceLocator  string `json:"referenceLocator"`
}

type spdxRelationship struct {
	Element string `json:"spdxElementId"`
	Type    string `json:"relationshipType"`
	Related string `json:"relatedSpdxElement"`
}

// SPDX is an SPDX 2.3 JSON document for a built binary, from the module
// information the Go toolchain embeds in it (what `go version -m` prints):
// the main module, the Go standard library at the toolchain's version and
// every module linked in, each with its package URL and, for modules, the
// go.sum hash in the comment. The binary's SHA-256 is the main package's
// checksum. It holds nothing that varies between two builds of one commit.
func SPDX(binary string, w Workload, tag string, created time.Time) ([]byte, error) {
	info, err := buildinfo.ReadFile(binary)
	if err != nil {
		return nil, fmt.Errorf("imagebuild: reading build info of %s: %w", binary, err)
	}
	data, err := os.ReadFile(binary)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	main := spdxPackage{
		Name: info.Main.Path + "/" + strings.TrimPrefix(w.Package, "./"), SPDXID: "SPDXRef-Package-main",
		VersionInfo: tag, DownloadLocation: "NOASSERTION",
		Checksums:    []spdxChecksum{{Algorithm: "SHA256", ChecksumValue: hex.EncodeToString(sum[:])}},
		ExternalRefs: []spdxExternalRef{purl(info.Main.Path, tag)},
		Comment:      "built with " + info.GoVersion + " " + settings(info),
	}
	std := spdxPackage{
		Name: "stdlib", SPDXID: "SPDXRef-Package-stdlib", VersionInfo: info.GoVersion,
		DownloadLocation: "https://go.dev/dl/", ExternalRefs: []spdxExternalRef{purl("stdlib", info.GoVersion)},
	}
	doc := spdxDocument{
		SPDXVersion: "SPDX-2.3", DataLicense: "CC0-1.0", SPDXID: "SPDXRef-DOCUMENT",
		Name:              w.Repository + "-" + tag,
		DocumentNamespace: fmt.Sprintf("https://shcr.io/spdx/%s/%s/%s", w.Repository, tag, hex.EncodeToString(sum[:8])),
		CreationInfo: spdxCreationInfo{
			Created:  created.UTC().Format(time.RFC3339),
			Creators: []string{"Tool: shcr-operator-imagebuild"},
		},
		Packages: []spdxPackage{main, std},
		Relationships: []spdxRelationship{
			{Element: "SPDXRef-DOCUMENT", Type: "DESCRIBES", Related: main.SPDXID},
			{Element: main.SPDXID, Type: "DEPENDS_ON", Related: std.SPDXID},
		},
	}
	for i, dep := range info.Deps {
		if dep.Replace != nil {
			dep = dep.Replace
		}
		p := spdxPackage{
			Name: dep.Path, SPDXID: fmt.Sprintf("SPDXRef-Package-%d", i), VersionInfo: dep.Version,
			DownloadLocation: "https://proxy.golang.org/" + dep.Path + "/@v/" + dep.Version + ".zip",
			ExternalRefs:     []spdxExternalRef{purl(dep.Path, dep.Version)},
		}
		if dep.Sum != "" {
			p.Comment = "go.sum " + dep.Sum
		}
		doc.Packages = append(doc.Packages, p)
		doc.Relationships = append(doc.Relationships, spdxRelationship{Element: main.SPDXID, Type: "DEPENDS_ON", Related: p.SPDXID})
	}
	return json.MarshalIndent(doc, "", "  ")
}

// purl is a Go module's package URL.
func purl(path, version string) spdxExternalRef {
	return spdxExternalRef{ReferenceCategory: "PACKAGE-MANAGER", ReferenceType: "purl",
		ReferenceLocator: "pkg:golang/" + path + "@" + version}
}

// settings are the build settings (GOOS, GOARCH, CGO_ENABLED, flags).
func settings(info *buildinfo.BuildInfo) string {
	var parts []string
	for _, s := range info.Settings {
		parts = append(parts, s.Key+"="+s.Value)
	}
	return strings.Join(parts, " ")
}
