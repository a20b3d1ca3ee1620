package cli

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// Doc is one YAML document of a manifest, as JSON, with where it came from.
type Doc struct {
	File      string
	Line      int // first line of the document in File
	JSON      []byte
	Kind      string
	Name      string
	Namespace string
}

// readManifests reads FILE, every .yaml/.yml/.json in DIR, or "-" (stdin).
func readManifests(path string, stdin io.Reader) ([]Doc, error) {
	if path == "-" {
		b, err := io.ReadAll(stdin)
		if err != nil {
			return nil, err
		}
		return splitDocs("<stdin>", b)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	files := []string{path}
	if fi.IsDir() {
		files = nil
		entries, err := os.ReadDir(path)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if ext := filepath.Ext(e.Name()); !e.IsDir() && (ext == ".yaml" || ext == ".yml" || ext == ".json") {
				files = append(files, filepath.Join(path, e.Name()))
			}
		}
		sort.Strings(files)
	}
	var docs []Doc
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		d, err := splitDocs(f, b)
		if err != nil {
			return nil, err
		}
		docs = append(docs, d...)
	}
	return docs, nil
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

// splitDocs splits multi-document YAML on "---" lines and converts each
// document to JSON. A syntax error names the file and the line in it.
func splitDocs(file string, b []byte) ([]Doc, error) {
	var docs []Doc
	var cur bytes.Buffer
	start, lineNo := 1, 0
	flush := func() error {
		if strings.TrimSpace(stripComments(cur.String())) != "" {
			d, err := toDoc(file, start, cur.Bytes())
			if err != nil {
				return err
			}
			docs = append(docs, d)
		}
		cur.Reset()
		start = lineNo + 1
		return nil
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		if strings.HasPrefix(line, "---") && strings.TrimSpace(strings.TrimPrefix(line, "---")) == "" {
			if err := flush(); err != nil {
				return nil, err
			}
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return docs, flush()
}

func stripComments(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func toDoc(file string, start int, y []byte) (Doc, error) {
	j, err := yaml.YAMLToJSON(y)
	if err != nil {
		msg := err.Error()
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			n, _ := strconv.Atoi(m[1])
			msg = yamlLine.ReplaceAllString(msg, "line "+strconv.Itoa(start+n-1))
		}
		return Doc{}, fmt.Errorf("%s: invalid YAML in the document starting at line %d: %s", file, start, strings.TrimPrefix(msg, "error converting YAML to JSON: "))
	}
	var u unstructured.Unstructured
	if err := u.UnmarshalJSON(j); err != nil {
		return Doc{}, fmt.Errorf("%s:%d: %v", file, start, err)
	}
	if u.GetKind() == "" {
		return Doc{}, fmt.Errorf("%s:%d: the document has no kind", file, start)
	}
	if u.GetName() == "" {
		return Doc{}, fmt.Errorf("%s:%d: %s: metadata.name is required", file, start, u.GetKind())
	}
	return Doc{File: file, Line: start, JSON: j, Kind: u.GetKind(), Name: u.GetName(), Namespace: u.GetNamespace()}, nil
}

var errNoManifests = errors.New("no objects passed to apply")
