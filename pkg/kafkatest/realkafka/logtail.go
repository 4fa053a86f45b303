package realkafka

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// tailBytes bounds how much of a log is read for an error message.
const tailBytes = 64 << 10

// lastLines returns at most n trailing lines of out.
func lastLines(out []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// tailFiles returns the last n lines of each non-empty file, headed by its
// name, for errors about a broker that would not start or died.
func tailFiles(n int, paths ...string) string {
	var b strings.Builder
	for _, p := range paths {
		data, err := readTail(p)
		if err != nil {
			if !os.IsNotExist(err) {
				fmt.Fprintf(&b, "--- %s: %v\n", filepath.Base(p), err)
			}
			continue
		}
		if strings.TrimSpace(string(data)) == "" {
			continue
		}
		fmt.Fprintf(&b, "--- last lines of %s:\n%s\n", filepath.Base(p), lastLines(data, n))
	}
	return b.String()
}

// readTail reads at most tailBytes from the end of the file at path.
func readTail(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if off := st.Size() - tailBytes; off > 0 {
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			return nil, err
		}
	}
	return io.ReadAll(f)
}
